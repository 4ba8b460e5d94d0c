"""The post-call chain: `process_call` queues `learn_from_call` for an escalated call (and not
for one the AI handled), and the task stores the suggestions; running it again adds none."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.config import load_settings
from callcenter.flowstore import FlowStore
from callcenter.learning.task import LEARN_FROM_CALL
from callcenter.models import CallLearning, Suggestion
from callcenter.postcall.app import PROCESS_CALL, create_app
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply
from tests.learning.replay import Caller, place_call
from tests.learning.test_learning_replay import FLOW, LATE_FEE

KEY = "sk-test-fake-openai-key-learning-task"


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
        [row] = s.exec(select(Suggestion)).all()
        assert row.kind == "knowledge" and row.payload["written_by"] == "rules"
        lesson = s.get(CallLearning, "esc")
        assert lesson is not None and lesson.reason in ("no_match", "out_of_domain")

    # With an OpenAI key set, the same task words the answer through the provider factory.
    async with FakeOpenAI(KEY) as srv:
        srv.script.append(ScriptedReply(text="Yes, a five dollar late fee applies."))
        with_llm = create_app(load_settings(database_url=sqlite_url, openai_api_key=KEY,
                                            openai_base_url=srv.url), broker_url="memory://")
        done = await asyncio.to_thread(
            lambda: with_llm.tasks[LEARN_FROM_CALL].apply(args=["esc"]).result)
        assert done == 1 and srv.requests == 1
    with Session(sqlite_engine) as s:
        [row] = s.exec(select(Suggestion)).all()
        assert row.payload["written_by"] == "llm"
        assert row.payload["a"] == "Yes, a five dollar late fee applies."
