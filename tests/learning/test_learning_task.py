"""The post-call chain: `process_call` queues `learn_from_call` for an escalated call (and not
for one the AI handled), and the task stores the suggestions; running it again adds none."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.config import load_settings
from callcenter.flowstore import FlowStore
from callcenter.learning.task import LEARN_FROM_CALL
from callcenter.models import CallLearning, Suggestion
from callcenter.postcall.app import PROCESS_CALL, create_app
from tests.learning.replay import Caller, place_call
from tests.learning.test_learning_replay import FLOW, LATE_FEE


async def test_process_call_queues_learning_only_for_escalated_calls(
    sqlite_engine: Engine, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(sqlite_engine) as s:
        FlowStore(s, "test").publish_text(FLOW)
        s.commit()
    await place_call(sqlite_engine, "help_line", "esc", Caller(
        ("billing", "do you charge a late payment fee"), LATE_FEE), expect_escalation=True)
    await place_call(sqlite_engine, "help_line", "ai", Caller(("where is my order",)),
                     expect_escalation=False)
    app = create_app(load_settings(database_url=sqlite_url), broker_url="memory://")
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args=None, **kw: sent.append((name, args)))
    for call_id in ("esc", "ai"):
        # `.result`, not `.get()`: an embedded worker earlier in the session marks the
        # process as a worker, and Celery then refuses `.get()` even on an eager result.
        assert app.tasks[PROCESS_CALL].apply(args=[call_id]).result == "done"
    assert sent == [(LEARN_FROM_CALL, ["esc"])]
    for _ in range(2):
        assert app.tasks[LEARN_FROM_CALL].apply(args=["esc"]).result == 1
    with Session(sqlite_engine) as s:
        assert [r.kind for r in s.exec(select(Suggestion)).all()] == ["knowledge"]
        lesson = s.get(CallLearning, "esc")
        assert lesson is not None and lesson.reason in ("no_match", "out_of_domain")
