"""baresip calls the real `callcenter dev` process: the second real phone peer.

The same caller as the sipp test (tests/dev/test_dev_sip_call.py), from a different SIP
stack: baresip dials +15550001000, keys 1 over RFC 4733 (ctrl_tcp `sndcode`, which is
`call_send_digit`), says its order number from its `aufile` microphone at the times sipp
says it, and is hung up by the agent. What is checked is what the call wrote to the
database, and what baresip itself saw (the call established and closed, the agent heard).
"""

from __future__ import annotations

import asyncio
import socket
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, col, select

from callcenter.bench.sip import describe, settled
from callcenter.bench.sip_caller import (
    BYE_WAIT_MS,
    CALLER_ID,
    KEY_AT_MS,
    NUMBER,
    SAY_EVERY_MS,
    SAY_FROM_MS,
    caller_audio,
    dev_process,
    free_port,
)
from callcenter.db import engine_for
from callcenter.models import CallTranscript, Utterance
from tests.dev.baresip_peer import control, write_config, write_mic
from tests.sip.real_peers import need, process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _timeline() -> np.ndarray:
    """The microphone: silence, the number at SAY_FROM_MS, again SAY_EVERY_MS later, then
    silence until well after the agent's BYE (the file ending would hang baresip up)."""
    said = caller_audio()
    out = np.zeros(8 * (SAY_FROM_MS + SAY_EVERY_MS + BYE_WAIT_MS), dtype=np.int16)
    for at_ms in (SAY_FROM_MS, SAY_FROM_MS + SAY_EVERY_MS):
        out[8 * at_ms : 8 * at_ms + len(said)] = said
    return out


async def test_baresip_call_into_callcenter_dev_is_stored_with_outcome_slots_and_postcall(
    tmp_path: Path,
) -> None:
    exe = need("baresip")
    home, mic = tmp_path / "baresip", tmp_path / "mic.wav"
    await asyncio.to_thread(write_mic, mic, _timeline())
    ctrl_port = free_port(socket.SOCK_STREAM)
    write_config(home, mic=mic, caller_id=CALLER_ID, ctrl_port=ctrl_port)
    async with dev_process(tmp_path) as dev:
        assert await dev.wait_for_line("tts cache:", 300), "\n".join(dev.log[-20:])
        since = datetime.now(UTC)
        async with process(exe, "-f", str(home)) as baresip, control(ctrl_port) as ctl:
            # Dialled over the control link (not `-e`), so none of the call's events
            # can go out before the link is up.
            await ctl.command("dial", f"sip:{NUMBER}@{dev.sip}")
            assert await ctl.wait_event("CALL_ESTABLISHED", 30), (ctl.messages, dev.log[-20:])
            await asyncio.sleep(KEY_AT_MS / 1000)
            await ctl.command("sndcode", "1")  # 1: order status
            closed = await ctl.wait_event("CALL_CLOSED", BYE_WAIT_MS / 1000)
            events = ctl.events()
            assert baresip.returncode is None, "baresip stopped before the agent hung up"
        calls = await settled(dev.database_url, since, 1, 120)
        url, log = dev.database_url, "\n".join(dev.log[-40:])
    assert closed, (events, log)  # the agent's BYE ended baresip's call
    assert len(calls) == 1, (calls, log)
    row, detail, slots = calls[0]
    told = "\n".join(describe(detail))
    assert (row.dialed_number, row.caller_number) == (NUMBER, CALLER_ID)
    ended = [e.data for e in detail.events if e.type == "call_ended"]
    assert ended and ended[-1]["outcome"] == "completed", told + "\n" + log
    assert slots == {"topic": "order", "order_number": "482913"}, told
    for node in ("main_menu", "ask_order_number", "lookup_order", "lookup_failed",
                 "to_human", "all_busy", "goodbye"):
        assert node in detail.path, told
    rtp = row.metrics["rtp"]
    assert rtp["codec"] in ("PCMU", "PCMA") and rtp["dtmf_digits"] == 1, rtp
    with Session(engine_for(url)) as s:
        said = s.exec(select(Utterance).where(col(Utterance.call_id) == row.id)
                      .order_by(col(Utterance.seq))).all()
        stored = s.get(CallTranscript, row.id)
    caller = [u.text for u in said if u.speaker_role == "caller"]
    agent = " ".join(u.text for u in said if u.speaker_role == "agent").lower()
    assert any("482913" in "".join(c for c in t if c.isdigit()) or "four" in t.lower()
               for t in caller), caller
    assert "order system" in agent and "goodbye" in agent, agent
    assert stored is not None and "Agent: Thanks for calling Acme" in stored.redacted_text
    assert "Caller:" in stored.redacted_text and "482913" not in stored.redacted_text
    assert row.processed_at is not None and row.disposition, row
    # What baresip decoded from our RTP: the agent's Piper voice, not silence.
    [dump] = (home / "snd").glob("*-dec.wav")
    with wave.open(str(dump)) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert np.count_nonzero(np.abs(heard) > 1000) > w.getframerate(), "baresip heard no agent"
