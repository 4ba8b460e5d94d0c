"""The LLM step: with OpenAI configured, a knowledge answer is written by the LLM from the
supervisor's redacted words (the real `openai` SDK against a fake chat-completions server);
nothing unredacted is ever sent; an outage or an unusable answer leaves the rule-built text;
re-runs neither add suggestions nor ask the LLM again."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.config import load_settings
from callcenter.flowstore import FlowStore
from callcenter.learning import wording
from callcenter.models import Suggestion
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply
from tests.learning.replay import Caller, place_call, postcall_and_learn
from tests.learning.test_learning_replay import FLOW
from tests.learning.test_learning_suggestions import CARD_AND_PHONE

KEY = "sk-test-fake-openai-key-learning-0123"
# The model repeats the numbers it was never given: what comes back is scrubbed as well.
WRITTEN = ("Yes, we can refund the late fee to card 4111 1111 1111 1111 and text you at "
           "555 867 5309 once it is done.")


class RecordingOpenAI(FakeOpenAI):
    """The fake, keeping every chat request body exactly as it arrived on the wire."""

    def __init__(self) -> None:
        super().__init__(KEY)
        self.bodies: list[str] = []

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.text())
        return await super()._chat(request)


def _writer(srv: FakeOpenAI) -> wording.LLMWriter:
    # Through the settings and the provider factory, as the post-call task builds it.
    return wording.from_settings(load_settings(openai_api_key=KEY, openai_base_url=srv.url))


async def _escalated_call(engine: Engine) -> None:
    with Session(engine) as s:
        FlowStore(s, "test").publish_text(FLOW)
        s.commit()
    caller = Caller(("billing", "can you refund the late fee on card 4111111111111111"),
                    CARD_AND_PHONE)
    result = await place_call(engine, "help_line", "pii-llm", caller, expect_escalation=True)
    assert result.escalated


def _only_suggestion(engine: Engine) -> Suggestion:
    with Session(engine) as s:
        rows = s.exec(select(Suggestion)).all()
        assert len(rows) == 1, [(r.kind, r.payload) for r in rows]
        return rows[0]


def _no_personal_data(text: str) -> None:
    assert not re.search(r"\d{3}", text), text
    assert "one one one one" not in text and "five five five" not in text, text


async def test_the_llm_words_the_answer_from_redacted_words_only_and_reruns_do_not_ask_again(
    sqlite_engine: Engine,
) -> None:
    await _escalated_call(sqlite_engine)
    async with RecordingOpenAI() as srv:
        srv.script.append(ScriptedReply(text=WRITTEN))
        first = await asyncio.to_thread(postcall_and_learn, sqlite_engine, "pii-llm",
                                        _writer(srv))
        assert len(srv.bodies) == 1
        again = await asyncio.to_thread(postcall_and_learn, sqlite_engine, "pii-llm",
                                        _writer(srv))
        assert again == first and len(srv.bodies) == 1, "a re-run reuses the LLM's wording"

    row = _only_suggestion(sqlite_engine)
    assert row.kind == "knowledge" and row.payload["written_by"] == "llm"
    answer, rules = row.payload["a"], row.payload["rule_text"]
    assert answer.startswith("Yes, we can refund the late fee") and answer != rules
    assert "[CARD]" in answer and "[PHONE]" in answer
    _no_personal_data(json.dumps([row.payload, row.evidence, row.text_key]))
    # What went over the wire: the supervisor's and the caller's words, redacted.
    body = json.loads(srv.bodies[0])
    sent = " ".join(m["content"] for m in body["messages"])
    _no_personal_data(json.dumps(body["messages"]))
    assert "late fee" in sent and "[CARD]" in sent and "[PHONE]" in sent
    assert body["model"] == "gpt-4o-mini" and body["messages"][0]["role"] == "system"


async def test_no_key_an_outage_or_an_unusable_answer_leave_the_rules_and_a_later_run_rewords(
    sqlite_engine: Engine,
) -> None:
    await _escalated_call(sqlite_engine)
    not_configured = wording.from_settings(load_settings(openai_api_key=None))
    ids = await asyncio.to_thread(postcall_and_learn, sqlite_engine, "pii-llm", not_configured)
    assert len(ids) == 1
    rules = _only_suggestion(sqlite_engine).payload
    assert rules["written_by"] == "rules" and rules["a"] == rules["rule_text"]
    assert "late fee" in rules["a"]
    async with RecordingOpenAI() as srv:
        srv.inject(Fault(FaultKind.STATUS, status=503))
        # A template would be filled from the caller's slots at run time: never from a model.
        srv.script.append(ScriptedReply(text="Sure {{caller_id}}, refunded."))
        srv.script.append(ScriptedReply(text="Yes, the late fee can be refunded."))
        for asked in (1, 2):
            assert await asyncio.to_thread(postcall_and_learn, sqlite_engine, "pii-llm",
                                           _writer(srv)) == ids
            assert len(srv.bodies) == asked
            assert _only_suggestion(sqlite_engine).payload == rules
        assert await asyncio.to_thread(postcall_and_learn, sqlite_engine, "pii-llm",
                                       _writer(srv)) == ids
        assert len(srv.bodies) == 3
    back = _only_suggestion(sqlite_engine).payload
    assert back["written_by"] == "llm" and back["a"] == "Yes, the late fee can be refunded."
    assert back["rule_text"] == rules["rule_text"]


def test_usable_answers_are_one_spoken_line_without_templates_or_personal_data() -> None:
    assert wording.usable('"yes, a five dollar fee applies"') == "Yes, a five dollar fee applies."
    assert wording.usable("call 555 867 5309") == "Call [PHONE]."
    assert wording.usable("  ") is None
    assert wording.usable("{% if x %}") is None
    assert wording.usable("word " * 100) is None


async def test_a_new_routes_line_is_worded_from_the_redacted_answer() -> None:
    asked = wording.Wording("route", "I want to return a jacket",
                            "You can return any item within thirty days, call 555 867 5309.",
                            "You can return any item within thirty days, call [PHONE].")
    async with RecordingOpenAI() as srv:
        srv.script.append(ScriptedReply(text="You can return any item within thirty days."))
        texts = await asyncio.to_thread(_writer(srv).write, [asked])
    assert texts == ["You can return any item within thirty days."]
    body = json.loads(srv.bodies[0])
    sent = json.dumps(body["messages"])
    assert "callers with this need" in sent and "return a jacket" in sent
    _no_personal_data(sent)
