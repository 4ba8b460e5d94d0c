"""Suggestions: no personal data ever, no duplicates on re-runs, edit/accept/reject audited."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.flow.problems import FlowValidationError
from callcenter.flowstore import FlowStore
from callcenter.learning import review
from callcenter.models import AuditEvent, Suggestion, User
from tests.learning.replay import Caller, place_call, postcall_and_learn
from tests.learning.test_learning_replay import FLOW

CARD_AND_PHONE = ("hi this is ada I have put the new card four one one one one one one one "
                  "one one one one one one one one on the account 4111 1111 1111 1111 and "
                  "we will text you at 555 867 5309 when the late fee is refunded")


async def _one_call(engine: Engine) -> int:
    with Session(engine) as s:
        FlowStore(s, "test").publish_text(FLOW)
        s.add(User(email="admin@example.com", role="admin", password_hash="x"))
        s.commit()
    caller = Caller(("billing", "can you refund the late fee on card 4111111111111111"),
                    CARD_AND_PHONE)
    result = await place_call(engine, "help_line", "pii-1", caller, expect_escalation=True)
    assert result.escalated
    first = postcall_and_learn(engine, "pii-1")
    again = postcall_and_learn(engine, "pii-1")
    assert first == again and len(first) == 1, "re-running the step adds no suggestion"
    return first[0]


async def test_suggestions_never_hold_card_or_phone_numbers_and_reruns_add_nothing(
    sqlite_engine: Engine,
) -> None:
    sid = await _one_call(sqlite_engine)
    with Session(sqlite_engine) as s:
        rows = s.exec(select(Suggestion)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.id == sid and row.kind == "knowledge"
        stored = json.dumps([row.payload, row.evidence, row.text_key])
        assert not re.search(r"\d{3}", stored), stored
        assert "4111" not in stored and "five five five" not in stored
        assert "one one one one" not in stored, "spoken card digits are removed too"
        assert "[CARD]" in stored and "[PHONE]" in stored
        admin = s.exec(select(User)).one()
        # An admin's edit is scrubbed like the rest before it reaches the flow.
        version = review.accept(s, sid, admin, {"a": "Refunded. Call 555 867 5309 with questions."})
        s.commit()
        text = FlowStore(s).version("help_line", version).yaml_text
        assert "867" not in text and "[PHONE]" in text
        actions = [a.action for a in s.exec(select(AuditEvent)).all()]
        assert "suggestion.accept" in actions and "flow.draft" in actions
        with pytest.raises(review.ReviewError):
            review.accept(s, sid, admin)


async def test_reject_needs_a_reason_and_a_bad_edit_is_refused_with_the_flow_problem(
    sqlite_engine: Engine,
) -> None:
    sid = await _one_call(sqlite_engine)
    with Session(sqlite_engine) as s:
        admin = s.exec(select(User)).one()
        with pytest.raises(FlowValidationError):
            review.accept(s, sid, admin, {"a": "Hello {{nobody_knows_this}}"})
        s.rollback()
        with pytest.raises(review.ReviewError):
            review.reject(s, sid, admin, "  ")
        review.reject(s, sid, admin, "we do not refund late fees by phone")
        s.commit()
        row = review.get(s, sid)
        assert row.status == "rejected" and row.reject_reason.startswith("we do not")
        assert [f.pending for f in review.per_flow(s)] == [0]
        assert FlowStore(s).latest_version("help_line").version == 1  # type: ignore[union-attr]
