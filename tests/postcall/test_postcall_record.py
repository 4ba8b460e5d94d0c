"""What a processed call's record contains: transcript, disposition, summary, metrics."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.models import (
    Call,
    CallEvent,
    CallStatus,
    Escalation,
    EscalationStatus,
    Utterance,
    new_call_id,
    utcnow,
)
from callcenter.postcall import pipeline, synthetic
from callcenter.postcall.metrics import percentile
from callcenter.postcall.sentiment import analyse, score_text
from callcenter.postcall.summary import parse_llm_answer
from callcenter.postcall.transcript import assemble, render_text, to_json


def add_call(
    engine: Engine,
    utterances: list[tuple[str, str]],
    *,
    end_reason: str = "caller_hangup",
    status: str = CallStatus.ENDED,
    events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    escalation: EscalationStatus | None = None,
    metrics: dict[str, Any] | None = None,
) -> str:
    call_id = new_call_id()
    start = utcnow() - timedelta(minutes=5)
    answered = start + timedelta(seconds=2)
    with Session(engine) as session, session.begin():
        session.add(
            Call(
                id=call_id,
                room_name=f"call-{call_id}",
                status=status,
                started_at=start,
                answered_at=answered,
                ended_at=start + timedelta(minutes=4),
                end_reason=end_reason,
                metrics=metrics or {},
            )
        )
        session.flush()
        for seq, (role, text) in enumerate(utterances):
            session.add(
                Utterance(
                    call_id=call_id, seq=seq, speaker_role=role, text=text,
                    start_ms=seq * 4000, end_ms=seq * 4000 + 3000,
                )
            )  # fmt: skip
        for seq, (kind, data) in enumerate(events):
            session.add(CallEvent(call_id=call_id, seq=seq, type=kind, data=data))
        if escalation is not None:
            taken = escalation not in (EscalationStatus.WAITING, EscalationStatus.ABANDONED,
                                       EscalationStatus.TIMED_OUT)
            session.add(
                Escalation(
                    call_id=call_id, queue="billing", status=escalation,
                    requested_at=answered + timedelta(seconds=30),
                    answered_at=answered + timedelta(seconds=50) if taken else None,
                    ended_at=answered + timedelta(seconds=110) if taken else None,
                )
            )  # fmt: skip
    return call_id


def record_for(engine: Engine, call_id: str, settings: Any) -> Any:
    data = pipeline.load(engine, call_id)
    assert data is not None
    return pipeline.build_record(data, settings)[0]


HELLO = [("agent", "Thanks for calling, how can I help?"), ("caller", "My router is broken.")]


def test_interrupted_agent_line_shows_what_the_caller_heard(sqlite_engine: Engine) -> None:
    call_id = new_call_id()
    with Session(sqlite_engine) as session, session.begin():
        session.add(Call(id=call_id, room_name="r1"))
        session.flush()
        session.add(Utterance(call_id=call_id, seq=1, speaker_role="agent", start_ms=1000,
                              end_ms=2600, text="Your balance is forty dollars and is due Friday.",
                              interrupted=True, heard_text="Your balance is forty"))  # fmt: skip
        session.add(Utterance(call_id=call_id, seq=2, speaker_role="caller", start_ms=2400,
                              end_ms=3000, text="Wait, forty?"))  # fmt: skip
        session.add(Utterance(call_id=call_id, seq=0, speaker_role="supervisor", start_ms=0,
                              end_ms=900, text="Hi."))  # fmt: skip
    data = pipeline.load(sqlite_engine, call_id)
    assert data is not None
    lines = assemble(data.utterances)
    assert render_text(lines) == (
        "[00:00] Supervisor: Hi.\n"
        "[00:01] Agent: Your balance is forty — [interrupted]\n"
        "[00:02] Caller: Wait, forty?\n"
    )
    js = to_json(lines)
    assert js[1]["text"] == "Your balance is forty"
    assert js[1]["intended_text"].endswith("due Friday.")
    assert [x["speaker"] for x in js] == ["supervisor", "agent", "caller"]


def test_dispositions_follow_the_call_events(sqlite_engine: Engine, make_settings: Any) -> None:
    settings = make_settings()
    done = ("call_ended", {"outcome": "completed", "reason": "completed"})
    cases = {
        "transferred": add_call(sqlite_engine, HELLO, events=[("transferred", {"to": "sales"})]),
        "resolved_by_supervisor": add_call(sqlite_engine, HELLO, escalation=EscalationStatus.ENDED),
        "resolved_after_handback": add_call(sqlite_engine, HELLO, end_reason="completed",
                                            escalation=EscalationStatus.HANDED_BACK),
        "abandoned_in_queue": add_call(sqlite_engine, HELLO,
                                       escalation=EscalationStatus.ABANDONED),
        "no_supervisor": add_call(sqlite_engine, HELLO, end_reason="completed", events=[done],
                                  escalation=EscalationStatus.TIMED_OUT),
        "callback": add_call(sqlite_engine, HELLO, end_reason="completed", events=[
            ("node_entered", {"node": "save_callback", "type": "webhook"}),
            ("webhook_result", {"node": "save_callback", "ok": True, "status": 201}), done]),
        "failed": add_call(sqlite_engine, HELLO, end_reason="worker_lost"),
        "resolved": add_call(
            sqlite_engine, [*HELLO, ("agent", "Fixed."), ("caller", "Great, thanks, bye!")]
        ),
    }
    hung_up_unhappy = add_call(sqlite_engine, HELLO, end_reason="caller_hangup")
    for expected, call_id in cases.items():
        assert record_for(sqlite_engine, call_id, settings).disposition == expected, expected
    assert record_for(sqlite_engine, hung_up_unhappy, settings).disposition == "abandoned"


def test_metrics_from_turns_utterances_and_escalations(
    sqlite_engine: Engine, make_settings: Any
) -> None:
    turns = [{"e2e_ms": v} for v in (600, 700, 800, 900, 2000)] + [{"e2e_ms": "bad"}, {}]
    call_id = add_call(
        sqlite_engine,
        [*HELLO, ("supervisor", "I can help."), ("caller", "Thanks.")],
        escalation=EscalationStatus.ENDED,
        metrics={"turns": turns},
    )
    m = record_for(sqlite_engine, call_id, make_settings()).metrics
    assert m["turn_latency_p50_ms"] == 800.0
    assert m["turn_latency_p95_ms"] == 1780.0
    assert m["turns"] == 5
    assert m["duration_s"] == 240.0
    assert m["time_to_answer_s"] == 2.0
    assert m["ai_talk_ratio"] == 0.25  # 1 of 4 equally long utterances
    assert m["time_to_escalate_s"] == 30.0
    assert m["supervisor_handle_s"] == 60.0
    assert m["contained"] is False
    assert percentile([], 95) is None


def test_offline_summary_names_the_reason_and_outcome_without_pii(
    sqlite_engine: Engine, make_settings: Any
) -> None:
    call_id = synthetic.create_call(sqlite_engine, random.Random(5), outcome="transferred")
    record = record_for(sqlite_engine, call_id, make_settings(keep_raw_transcript=True))
    assert record.disposition == "transferred"
    # No flow facts in a synthetic call: the caller's own first request stands for the need.
    assert record.summary.startswith("Caller said: “")
    assert "Transferred to sales." in record.summary and "Outcome: Transferred." in record.summary
    assert "Thank you for calling" not in record.summary
    assert "415" not in record.summary and "four one" not in record.summary
    assert "[PHONE]" in record.redacted_text and "[PHONE]" not in (record.raw_text or "")


def test_sentiment_trend_detects_a_caller_calming_down() -> None:
    assert score_text("this is not good") < 0 < score_text("not bad at all, thanks")
    lines = assemble([])
    assert analyse(lines).direction == "unknown"
    from callcenter.postcall.transcript import TranscriptLine

    said = ["This is ridiculous, I am so angry", "still broken and useless", "okay",
            "that works", "great, thank you so much"]  # fmt: skip
    lines = [
        TranscriptLine(i, "caller", "c", i * 1000, i * 1000 + 500, t) for i, t in enumerate(said)
    ]
    result = analyse(lines)
    assert result.direction == "improving"
    assert result.trend[0] < 0 < result.trend[-1]


def test_llm_answer_parsing_is_strict_about_shape() -> None:
    ok = parse_llm_answer('```json\n{"summary": "Refund given.", "disposition": "resolved"}\n```')
    assert ok.summary == "Refund given." and ok.disposition == "resolved"
    assert parse_llm_answer('{"summary": "x", "disposition": "maybe"}').disposition is None
    import pytest

    from callcenter.postcall.summary import SummaryFormatError

    with pytest.raises(SummaryFormatError, match="no JSON object"):
        parse_llm_answer("The caller wanted a refund.")
    with pytest.raises(SummaryFormatError, match="summary"):
        parse_llm_answer('{"disposition": "resolved"}')


def test_summary_names_an_agent_nodes_question_and_its_tools(
    sqlite_engine: Engine, make_settings: Any
) -> None:
    events = [
        ("call_started", {"flow": "customer_support"}),
        ("node_entered", {"node": "billing_agent", "type": "agent"}),
        ("caller_input", {"node": "billing_agent", "text": "Why is my bill so high?",
                          "dtmf": False}),
        ("tool_call", {"node": "billing_agent", "tool": "lookup_invoice",
                       "arguments": {"account_number": "4417"}}),
        ("webhook_result", {"node": "billing_agent", "ok": True, "status": 200, "error": None}),
        ("tool_call", {"node": "billing_agent", "tool": "end_conversation", "arguments": {}}),
        ("call_ended", {"outcome": "completed", "reason": "completed"}),
    ]
    said = [("agent", "Sure. What's your billing question?"),
            ("caller", "Why is my bill so high?"), ("agent", "Your invoice is 40 dollars.")]
    call_id = add_call(sqlite_engine, said, end_reason="completed", events=events)
    rec = record_for(sqlite_engine, call_id, make_settings())
    assert rec.summary == (
        "Customer support call. Caller asked: “Why is my bill so high”. Agent: lookup invoice "
        "(tool) succeeded. Outcome: Resolved by the AI agent (flow completed).")
