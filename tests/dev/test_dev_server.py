"""The dev composition without a browser: a Python WebRTC peer calls through the dev API.

Real parts throughout: SQLite migrated to head, the example flows, the local dispatcher
running the dev call handler, offline speech (Whisper, Piper, MiniLM, Silero), the
in-process broker and routing, the control bus. Only the browser is replaced (aiortc).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from callcenter.audio.resample import resample_pcm
from callcenter.audio.wav import read_wav
from callcenter.control.commands import Coach, HandBack
from callcenter.dev import DevCall, DevOptions, DevServer
from callcenter.models import Call, Utterance
from tests.dev.client import RATE, ClientPeer, dominant_hz, loud, tone

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="needs espeak-ng for the caller's voice (scripts/setup)")


def caller_wav(tmp: Path, text: str) -> np.ndarray:
    """`text` in an eSpeak voice at 48 kHz, as a WAV file would give it."""
    path = tmp / "caller.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), text], check=True)
    wav = read_wav(path)
    return resample_pcm(wav.samples, wav.sample_rate, RATE)


def agent_lines(call: DevCall) -> list[str]:
    return [e.data["text"] for e in call.feed.events
            if e.kind == "transcript" and e.data["role"] == "agent"]


async def wait_for(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def dev() -> DevServer:
    server = DevServer(options=DevOptions(sip_port=None))
    status = await server.start()
    assert {m.number: m.flow for m in status.numbers}["+15550001000"] == "customer_support"
    assert all(login.password for login in status.logins), "first start shows passwords"
    yield server  # type: ignore[misc]
    await server.aclose()


async def test_browser_caller_hears_the_greeting_and_is_understood(
    dev: DevServer, tmp_path: Path
) -> None:
    client = ClientPeer()
    ids: list[str] = []

    async def signal(offer: str) -> str:
        answer, call_id = await dev.place_browser_call("+1 555 000 1000", offer)
        ids.append(call_id)
        return answer

    await client.connect(signal)
    call = dev.call(ids[0])
    greeting = await client.wait_heard(loud, 30, "the agent's greeting")
    assert len(greeting)
    await wait_for(lambda: any("press 1" in t for t in agent_lines(call)), 40, "the menu")
    await asyncio.sleep(1.0)
    client.mic.play(caller_wav(tmp_path, "order status"))
    await wait_for(lambda: any("six digit order number" in t for t in agent_lines(call)),
                   60, "the order-number question after saying 'order status'")
    await client.aclose()
    await wait_for(lambda: call.ended, 20, "the call to end after the caller left")
    await asyncio.sleep(0.5)
    with Session(dev.engine) as s:
        row = s.get(Call, call.call_id)
        said = [u.text for u in s.exec(select(Utterance).where(Utterance.call_id == call.call_id))
                if u.speaker_role == "caller"]
    assert row is not None and row.dialed_number == "+15550001000"
    assert any("order" in t.lower() for t in said), said


async def test_supervisor_takes_the_call_and_both_hear_each_other_then_hands_back(
    dev: DevServer,
) -> None:
    sup = "supervisor@callcenter.dev"
    await dev.desk.set_status(sup, "available")
    caller, person = ClientPeer(), ClientPeer()
    ids: list[str] = []

    async def dial(offer: str) -> str:
        answer, call_id = await dev.place_browser_call("+15550001000", offer)
        ids.append(call_id)
        return answer

    await caller.connect(dial)
    call = dev.call(ids[0])
    await wait_for(lambda: any("press 0" in t for t in agent_lines(call)), 40, "the menu")
    dev.send_dtmf(call.call_id, "0")
    offer = await dev.desk.next_offer(sup, timeout=30)
    assert offer is not None and offer.call_id == call.call_id
    assert offer.priority == "high" and "person" in offer.reason
    rows = await dev.desk.queue()
    assert [r.call_id for r in rows] == [call.call_id]
    assert await dev.desk.accept(offer.offer_id, sup) is not None

    await person.connect(lambda sdp: dev.join_as_supervisor(call.call_id, sup, sdp))
    await wait_for(lambda: call.brief() is not None, 20, "the hand-off brief")
    brief = call.brief()
    assert brief is not None and brief["queue"] == "support" and brief["supervisor"] == sup

    # The AI is listen-only now: what each side hears is the other one.
    mark = len(caller.heard)
    person.mic.play(tone(3.0, 700))
    got = await caller.wait_heard(
        lambda s: len(s) > RATE and abs(dominant_hz(s[-RATE // 2:]) - 700) < 20, 15,
        "the supervisor's 700 Hz at the caller", since=mark)
    assert loud(got[-RATE // 2:])
    mark = len(person.heard)
    caller.mic.play(tone(3.0, 440))
    await person.wait_heard(
        lambda s: len(s) > RATE and abs(dominant_hz(s[-RATE // 2:]) - 440) < 20, 15,
        "the caller's 440 Hz at the supervisor", since=mark)

    await dev.command(call.call_id, Coach(text="offer a discount", by=sup, issued_by=sup))
    await dev.command(call.call_id, HandBack(node="goodbye", issued_by=sup))
    await dev.leave_supervisor(call.call_id, sup)
    await wait_for(lambda: any("Goodbye" in t for t in agent_lines(call)), 30, "the goodbye")
    await wait_for(lambda: call.ended, 30, "the AI to end the call")
    assert not any("discount" in t for t in agent_lines(call)), "coaching is not spoken"
    status = await dev.broker.status(call.call_id)
    assert status is not None and status.state == "ended"
    await caller.aclose()
    await person.aclose()
