"""Post-call records of real calls (fake speech, SQLite): the example flows with their own
callers, an escalation handed back to the AI, a caller who gives up in the queue, a call
nobody could take, and a PIN keyed in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callcenter.flow.validate import check_flow_text, load_flow_file
from callcenter.models import Utterance
from callcenter.postcall.store import PostcallRecord
from callcenter.testing.script import CallerScript
from tests.postcall.live_calls import (
    FLOWS,
    FRIDAY_NIGHT,
    WEEKDAY_MORNING,
    abandoned_in_queue_call,
    example_call,
    handed_back_call,
    record,
    scripted_call,
)


def _agent_sentences(engine: Engine, call_id: str) -> list[str]:
    with Session(engine) as db:
        rows = db.exec(select(Utterance).where(col(Utterance.call_id) == call_id)).all()
    return [s.strip() for u in rows if u.speaker_role == "agent"
            for s in re.split(r"(?<=[.!?])\s+", u.text) if len(s.split()) >= 4]


def _keypad(rec: PostcallRecord, raw: bool = False) -> list[str]:
    lines = rec.raw_json if raw else rec.redacted_json
    assert lines is not None
    return [x["text"] for x in lines if x["kind"] == "keypad"]


def _check_common(engine: Engine, call_id: str, rec: PostcallRecord) -> None:
    # The summary is written from facts: it never quotes the greeting or any agent line.
    for sentence in _agent_sentences(engine, call_id):
        assert sentence not in rec.summary, (sentence, rec.summary)
    # The interruption count is the transcript's own: the same lines, counted.
    cut = [x for x in rec.redacted_json if x["speaker"] == "agent" and x["interrupted"]]
    assert rec.metrics["interruptions"] == len(cut) == rec.redacted_text.count("[interrupted")
    assert rec.metrics["sentiment_direction"] != "worsening"


async def test_appointment_booking_record(sqlite_engine: Engine) -> None:
    call_id = await example_call(sqlite_engine, "appointment_booking", WEEKDAY_MORNING)
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "resolved"
    assert rec.summary.startswith("Appointment booking call. Details — patient name: David Brown; "
                                  "appointment date: 2026-12-01; appointment time: 13:00; "
                                  "callback number: [PHONE]; confirmed: yes.")
    assert "Agent: book (webhook) succeeded: booking id: BK-1042." in rec.summary
    assert rec.summary.endswith("Outcome: Resolved by the AI agent (flow completed).")
    # The time slot and the phone number were keyed: their own lines, in the right place.
    assert _keypad(rec) == ["2", "[PHONE]"] and _keypad(rec, raw=True) == ["2", "5551234567"]
    text = rec.redacted_text
    assert text.index("press 1, 2 or 3") < text.index("Caller (keypad): 2") \
        < text.index("ten digit phone number") < text.index("Caller (keypad): [PHONE]")
    assert rec.sentiment >= 0


async def test_customer_support_record(sqlite_engine: Engine) -> None:
    call_id = await example_call(sqlite_engine, "customer_support", WEEKDAY_MORNING)
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "resolved"
    assert rec.summary == (
        "Customer support call. Caller chose order at the main menu. Details — order number: "
        "[NUMBER]; more help: no. Agent: lookup order (webhook) succeeded: order status: "
        "shipped, order eta: on Thursday. Outcome: Resolved by the AI agent (flow completed).")
    assert _keypad(rec) == ["[NUMBER]"] and _keypad(rec, raw=True) == ["482913"]
    # "No, that's all. Thanks." is a polite close, not a complaint.
    assert rec.sentiment > 0


async def test_after_hours_callback_is_a_callback_not_resolved(sqlite_engine: Engine) -> None:
    call_id = await example_call(sqlite_engine, "after_hours", FRIDAY_NIGHT)
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "callback"
    assert rec.summary == (
        "After hours call, outside opening hours. Caller chose callback at the after hours "
        "menu. Details — callback number: [PHONE]; callback reason: “My internet connection "
        "keeps dropping”. Agent: save callback (webhook) succeeded: ticket: CB-7. "
        "Outcome: Callback requested.")
    assert _keypad(rec) == ["[PHONE]"] and _keypad(rec, raw=True) == ["5559876543"]
    assert rec.metrics["contained"] is False  # a person still has to call back


async def test_handed_back_call_summary_covers_the_human_part(sqlite_engine: Engine) -> None:
    call_id = await handed_back_call(sqlite_engine)
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "resolved_after_handback"
    summary = rec.summary
    assert "Escalated to billing (Caller disputes a charge): Ada took the call after 2 s" in summary
    assert re.search(r"talked with the caller for \d+ s \(said: “hello this is Ada from "
                     r"billing, I have removed the late fee”\), coached the AI once, then "
                     r"handed the call back to the AI\.", summary), summary
    assert summary.endswith("Outcome: Handed back to the AI and resolved.")


async def test_caller_who_hangs_up_in_the_queue_is_abandoned_in_queue(
    sqlite_engine: Engine,
) -> None:
    call_id = await abandoned_in_queue_call(sqlite_engine)
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "abandoned_in_queue"
    assert re.search(r"Escalated to billing \(Caller disputes a charge\): the caller hung up "
                     r"after 1\d s in the queue\.", rec.summary), rec.summary


async def test_agent_ending_the_call_when_nobody_is_available_is_not_the_caller_abandoning(
    sqlite_engine: Engine,
) -> None:
    script = CallerScript.from_yaml("""
        voice: piper
        channel: phone
        turns:
          - wait: agent_done
          - say: "I want to talk to a real person."
          - wait: 30
          - hangup: true
        """)
    flow = load_flow_file(FLOWS / "customer_support.yaml")
    call_id = await scripted_call(sqlite_engine, flow, script)  # nobody online at all
    rec = record(sqlite_engine, call_id)
    _check_common(sqlite_engine, call_id, rec)
    assert rec.disposition == "no_supervisor"
    assert "Caller asked for a person." in rec.summary
    assert "no supervisor was available." in rec.summary
    assert rec.summary.endswith("Outcome: No supervisor available; the agent ended the call.")


PIN_FLOW = """
name: card_services
start: ask_pin
nodes:
  ask_pin:
    type: ask
    slot: card_pin
    expect: digits
    min_length: 4
    max_length: 4
    prompt: Please key in your four digit PIN.
    dtmf: {terminator: null, max_digits: 4}
    next: bye
  bye:
    type: hangup
    say: Thank you, your card is unlocked. Goodbye.
"""


@pytest.mark.parametrize("keep_raw", [True, False])
async def test_a_keyed_pin_is_masked_everywhere(sqlite_engine: Engine, keep_raw: bool) -> None:
    flow, problems = check_flow_text(PIN_FLOW, "card_services.yaml")
    assert flow is not None, problems
    script = CallerScript.from_yaml("""
        voice: piper
        channel: phone
        turns:
          - wait: agent_done
          - dtmf: "4321"
          - wait: 20
          - hangup: true
        """)
    call_id = await scripted_call(sqlite_engine, flow, script)
    rec = record(sqlite_engine, call_id, keep_raw_transcript=keep_raw)
    assert _keypad(rec) == ["[MASKED]"]
    if keep_raw:
        assert _keypad(rec, raw=True) == ["[MASKED]"]
    stored = " ".join([rec.summary, rec.redacted_text, rec.raw_text or "", str(rec.raw_json)])
    assert "4321" not in stored
    assert "card pin: [MASKED]" in rec.summary
    assert rec.disposition == "resolved"

