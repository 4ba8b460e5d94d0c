"""Synthetic calls of realistic shape for the post-call benchmark and tests.

A call is 3-6 minutes: greeting, the caller's problem, identity check with spoken digits,
a card payment given in pieces for some, troubleshooting back and forth, and an ending
that is resolved, escalated (supervisor joins), transferred or abandoned. Per-turn
latencies go into `Call.metrics["turns"]` as the voice session writes them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.models import (
    Call,
    CallEvent,
    CallStatus,
    Escalation,
    EscalationStatus,
    SpeakerRole,
    Utterance,
    new_call_id,
    utcnow,
)

_PROBLEMS = [
    "My internet keeps dropping every evening and I work from home so this is a real problem.",
    "I was charged twice for my last bill and I would like a refund for the extra charge.",
    "I moved last week and I need to update my address and move my service.",
    "My package was supposed to arrive on Monday and it still is not here.",
    "I want to change my plan to something cheaper, the current one is too expensive.",
]
_CALLER_FILLER = [
    "Okay, let me check that.",
    "Yes, that's right.",
    "Hmm, I tried that already and it did not help.",
    "Sure, one second please.",
    "I see. And how long will that take?",
    "That sounds good, thank you.",
    "No, nothing changed after the restart.",
]
_AGENT_FILLER = [
    "I understand, let me look into that for you.",
    "Thanks for your patience while I check your account.",
    "Could you try restarting the device and tell me what the light shows?",
    "I can see the issue on our side now.",
    "I have applied a credit to your account for the trouble.",
    "Is there anything else I can help you with today?",
]


def _spoken(digits: str) -> str:
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return " ".join(names[int(d)] for d in digits)


def create_call(
    engine: Engine,
    rng: random.Random,
    *,
    ended_at: datetime | None = None,
    outcome: str | None = None,
    turns: int | None = None,
) -> str:
    """Insert one ended call with utterances, events and escalations; returns its id."""
    outcome = (
        outcome
        or rng.choices(["resolved", "escalated", "transferred", "abandoned"], [6, 2, 1, 1])[0]
    )
    turns = turns if turns is not None else rng.randint(18, 30)
    call_id = new_call_id()
    lines: list[tuple[str, str, bool, str | None]] = [
        ("agent", "Thank you for calling Acme support, how can I help you today?", False, None),
        ("caller", rng.choice(_PROBLEMS), False, None),
        ("agent", "I can help with that. Can I have the phone number on the account?", False, None),
        ("caller", f"Sure, it's {_spoken('415555' + str(rng.randint(1000, 9999)))}.", False, None),
    ]
    if rng.random() < 0.4:
        lines += [
            ("agent", "For the payment, please read me the card number.", False, None),
            ("caller", "It's four one one one, one one one one", False, None),
            ("agent", "Go on.", False, None),
            ("caller", "one one one one, one one one one.", False, None),
        ]
    for i in range(turns):
        text = rng.choice(_AGENT_FILLER)
        interrupted = rng.random() < 0.12
        heard = " ".join(text.split()[: max(1, len(text.split()) // 2)]) if interrupted else None
        lines.append(("agent", text, interrupted, heard))
        lines.append(("caller", rng.choice(_CALLER_FILLER), False, None))
        if i == turns // 2 and outcome == "escalated":
            lines.append(("agent", "Let me get a supervisor to help you with this.", False, None))
    if outcome == "escalated":
        lines += [
            ("supervisor", "Hi, this is Dana, I read the notes and can fix this.", False, None),
            ("caller", "Thank you, that's great.", False, None),
        ]
    if outcome == "resolved":
        lines += [("caller", "That's all, thank you so much, bye.", False, None)]
    end = ended_at or utcnow()
    started = end - timedelta(seconds=rng.randint(180, 360))
    answered = started + timedelta(milliseconds=rng.randint(300, 2500))
    pos = 500
    utterances = []
    for seq, (role, text, interrupted, heard) in enumerate(lines):
        length = 250 + 60 * len(text.split())
        utterances.append(
            Utterance(
                call_id=call_id,
                seq=seq,
                speaker_role=SpeakerRole(role),
                speaker_identity=role,
                text=text,
                start_ms=pos,
                end_ms=pos + length,
                interrupted=interrupted,
                heard_text=heard,
            )
        )
        pos += length + rng.randint(300, 1500)
    metrics: dict[str, Any] = {
        "turns": [{"e2e_ms": round(rng.lognormvariate(6.7, 0.25), 1)} for _ in range(turns)]
    }
    end_reason = {
        "resolved": "caller_hangup",
        "escalated": "supervisor_hangup",
        "transferred": "transferred",
        "abandoned": "caller_hangup",
    }[outcome]
    call = Call(
        id=call_id,
        room_name=f"call-{call_id}",
        caller_number="+14155550100",
        dialed_number="+18005550199",
        status=CallStatus.ENDED,
        started_at=started,
        answered_at=answered,
        ended_at=end,
        end_reason=end_reason,
        metrics=metrics,
    )
    events = [CallEvent(call_id=call_id, seq=0, type="node_entered", data={"node": "greeting"})]
    escalations = []
    if outcome == "transferred":
        events.append(CallEvent(call_id=call_id, seq=1, type="transferred", data={"to": "sales"}))
    if outcome == "escalated":
        asked = answered + timedelta(seconds=60)
        escalations.append(
            Escalation(
                call_id=call_id,
                queue="billing",
                reason="caller asked for a human",
                status=EscalationStatus.ENDED,
                requested_at=asked,
                answered_at=asked + timedelta(seconds=25),
                ended_at=end,
            )
        )
    with Session(engine) as session, session.begin():
        session.add(call)
        session.flush()
        session.add_all([*utterances, *events, *escalations])
    return call_id
