"""sipp calls the real `callcenter dev` process: a phone call end to end, read back stored.

No part is replaced: the CLI starts as a user runs it (SQLite in its data directory, the
seeded example flows and numbers, offline Whisper/Piper/Silero/MiniLM, the in-process
broker and post-call worker, the dev SIP endpoint). sipp dials +15550001000 with PCMU
speech (a Piper voice through the phone channel) and RFC 2833 keys, the caller of
`callcenter bench sip`. What is checked is what the call wrote to the database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from callcenter.bench.sip import describe, settled
from callcenter.bench.sip_caller import (
    CALLER_ID,
    NUMBER,
    dev_process,
    prepare_caller,
    run_sipp,
    sipp_argv,
)
from callcenter.db import engine_for
from callcenter.models import CallTranscript, Utterance
from tests.sip.real_peers import need

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def test_sipp_call_into_callcenter_dev_is_stored_with_outcome_slots_and_postcall(
    tmp_path: Path,
) -> None:
    need("sipp")
    scenario = await asyncio.to_thread(prepare_caller, tmp_path)
    async with dev_process(tmp_path) as dev:
        # The flows' prompts are synthesized in the background after start.
        assert await dev.wait_for_line("tts cache:", 300), "\n".join(dev.log[-20:])
        since = datetime.now(UTC)
        sipp = await run_sipp(sipp_argv(scenario, dev.sip, 1, tmp_path), tmp_path, 240)
        calls = await settled(dev.database_url, since, 1, 120)
        url, log = dev.database_url, "\n".join(dev.log[-40:])
    assert sipp.returncode == 0 and sipp.successful == 1, sipp.output[-3000:]
    assert len(calls) == 1, (calls, log)
    row, detail, slots = calls[0]
    told = "\n".join(describe(detail))  # the call, line by line, for any failure below
    assert (row.dialed_number, row.caller_number) == (NUMBER, CALLER_ID)
    ended = [e.data for e in detail.events if e.type == "call_ended"]
    assert ended and ended[-1]["outcome"] == "completed", told + "\n" + log
    # Keyed 1 for order status, said the order number; the order system is unreachable
    # (an example host), nobody is staffed, so the agent says so and hangs up.
    assert slots == {"topic": "order", "order_number": "482913"}, told
    for node in ("main_menu", "ask_order_number", "lookup_order", "lookup_failed",
                 "to_human", "all_busy", "goodbye"):
        assert node in detail.path, told
    assert row.status == "ended" and row.ended_at is not None
    rtp = row.metrics["rtp"]
    assert rtp["codec"] == "PCMU" and rtp["dtmf_digits"] == 1, rtp
    assert rtp["jitter_received"] > 100 and rtp["jitter_lost"] == 0, rtp
    with Session(engine_for(url)) as s:
        said = s.exec(select(Utterance).where(col(Utterance.call_id) == row.id)
                      .order_by(col(Utterance.seq))).all()
        stored = s.get(CallTranscript, row.id)
    caller = [u.text for u in said if u.speaker_role == "caller"]
    agent = " ".join(u.text for u in said if u.speaker_role == "agent").lower()
    # Whisper writes the number as digits or as words; either way the caller was heard.
    assert any("482913" in "".join(c for c in t if c.isdigit()) or "four" in t.lower()
               for t in caller), caller
    assert "order system" in agent and "goodbye" in agent, agent
    # The post-call record: the transcript stored redacted (the raw copy is off by
    # default), both speakers in it, the order number masked; a disposition.
    assert stored is not None and stored.text is None, stored
    assert "Agent: Thanks for calling Acme" in stored.redacted_text, stored.redacted_text
    assert "Caller:" in stored.redacted_text and "482913" not in stored.redacted_text
    assert row.processed_at is not None and row.disposition, row
