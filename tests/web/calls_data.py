"""Stored calls for web tests: thousands of plain rows fast, and one call with everything."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.models import (
    Call,
    CallEvent,
    CallTranscript,
    Escalation,
    EscalationStatus,
    Utterance,
    new_call_id,
)
from callcenter.postcall.redact import redact_lines
from callcenter.postcall.transcript import assemble, render_text, to_json

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DIALED = ["+18005550100", "+18005550199", "+442071234567"]
STATUSES = ["ended"] * 8 + ["failed", "active"]
DISPOSITIONS = ["resolved", "resolved", "resolved", "escalated", "transferred", "abandoned"]


@dataclass(frozen=True)
class Plain:
    id: str
    started_at: datetime
    caller: str
    dialed: str
    status: str
    disposition: str | None
    escalated: bool
    flow_version_id: int | None


def many_calls(engine: Engine, n: int, *, versions: list[int], seed: int = 7) -> list[Plain]:
    """`n` call rows over the 10 days before NOW (bulk insert), some escalated."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        started = NOW - timedelta(seconds=rng.randint(0, 10 * 86400))
        status = rng.choice(STATUSES)
        out.append(Plain(
            id=f"c{i:05d}{new_call_id()[:8]}", started_at=started,
            caller=f"+1415555{rng.randint(0, 30):04d}", dialed=rng.choice(DIALED),
            status=status, disposition=rng.choice(DISPOSITIONS) if status == "ended" else None,
            escalated=rng.random() < 0.2, flow_version_id=rng.choice([*versions, None])))
    rows = [{"id": p.id, "room_name": f"call-{p.id}", "caller_number": p.caller,
             "dialed_number": p.dialed, "status": p.status, "disposition": p.disposition,
             "started_at": p.started_at, "answered_at": p.started_at,
             "ended_at": p.started_at + timedelta(seconds=200) if p.status != "active" else None,
             "flow_version_id": p.flow_version_id, "end_reason": "", "worker_id": "",
             "metrics": {}, "usage": {}} for p in out]
    escalations = [{"call_id": p.id, "queue": "billing", "priority": 0, "reason": "",
                    "summary": "", "status": "ended", "requested_at": p.started_at}
                   for p in out if p.escalated]
    with Session(engine) as db, db.begin():
        db.execute(sa.insert(Call), rows)
        if escalations:
            db.execute(sa.insert(Escalation), escalations)
    return out


CARD = "4111 1111 1111 1111"
PLANNED = "Your order shipped on Monday and should arrive by Thursday at the latest."
HEARD = "Your order shipped on Monday"


def rich_call(engine: Engine, *, flow_version_id: int | None = None, processed: bool = False,
              keep_raw: bool = False) -> str:
    """One ended call with every kind of line: interrupted agent, keypad, supervisor."""
    call_id = new_call_id()
    started = NOW - timedelta(minutes=30)
    said = [
        ("agent", "Thanks for calling Acme. What can I do for you?", 500, False, None),
        ("caller", "Where is my order?", 4000, False, None),
        ("agent", PLANNED, 6500, True, HEARD),
        ("caller", "Okay and I want to pay with card " + CARD, 9000, False, None),
        ("caller", "Can I talk to a person please", 15000, False, None),
        ("supervisor", "Hi, this is Dana from billing, I can help.", 40000, False, None),
    ]
    utterances = [Utterance(call_id=call_id, seq=i, speaker_role=role, speaker_identity=role,
                            text=text, start_ms=at, end_ms=at + 2000, interrupted=cut,
                            heard_text=heard)
                  for i, (role, text, at, cut, heard) in enumerate(said)]
    events = [
        CallEvent(call_id=call_id, seq=0, type="node_entered", offset_ms=0,
                  data={"node": "greet", "type": "say"}),
        CallEvent(call_id=call_id, seq=1, type="caller_input", offset_ms=3000,
                  data={"node": "greet", "text": "2", "dtmf": True}),
        CallEvent(call_id=call_id, seq=2, type="node_entered", offset_ms=3100,
                  data={"node": "order_number", "type": "ask"}),
        CallEvent(call_id=call_id, seq=3, type="caller_input", offset_ms=12000,
                  data={"node": "order_number", "text": "12345#", "dtmf": True}),
        CallEvent(call_id=call_id, seq=4, type="slot_set", offset_ms=12100,
                  data={"node": "order_number", "slot": "order_number", "value": "12345"}),
        CallEvent(call_id=call_id, seq=5, type="escalation_requested", offset_ms=15500,
                  data={"queue": "billing", "priority": 1}),
    ]
    metrics = {"turns": [{"e2e_ms": 640.0, "stt_final_latency_ms": 120.0, "llm_ttft_ms": 300.0},
                         {"e2e_ms": 1710.5}, {"e2e_ms": 820.0}],
               "path": ["greet", "order_number", "to_human"]}
    call = Call(id=call_id, room_name=f"call-{call_id}", caller_number="+14155550123",
                dialed_number="+18005550199", flow_version_id=flow_version_id, status="ended",
                started_at=started, answered_at=started + timedelta(seconds=1),
                ended_at=started + timedelta(minutes=3), end_reason="supervisor_hangup",
                metrics=metrics, disposition="escalated" if processed else None,
                summary="Caller asked about an order; Dana took over." if processed else None,
                sentiment=0.35 if processed else None)
    escalation = Escalation(call_id=call_id, queue="billing", reason="caller asked for a human",
                            status=EscalationStatus.ENDED, supervisor="Dana",
                            requested_at=started + timedelta(seconds=16),
                            answered_at=started + timedelta(seconds=39),
                            ended_at=started + timedelta(minutes=3))
    with Session(engine) as db, db.begin():
        db.add(call)
        db.flush()
        db.add_all([*utterances, *events, escalation])
        if processed:
            lines = assemble(utterances)
            redacted = redact_lines(lines)
            db.add(CallTranscript(call_id=call_id, redacted_text=render_text(redacted),
                                  redacted_data=to_json(redacted),
                                  text=render_text(lines) if keep_raw else None,
                                  data=to_json(lines) if keep_raw else None))
    return call_id
