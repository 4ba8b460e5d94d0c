"""Real SIP peers call the dev endpoint and a real CallSession answers: sipp and baresip.

The agent speaks with FakeTTS (a 440 Hz tone whose length follows the text), so its audio
is recognisable at the far end by frequency; the caller speaks with Piper through a phone
channel and the agent hears it with offline Whisper, so speech must survive G.711, the
jitter buffer and resampling to be understood.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from callcenter.callsession.providers import warm_up
from callcenter.flow.validate import load_flow
from callcenter.rooms.sip import SipEndpoint
from callcenter.rooms.sip.rtp import parse_rtp
from callcenter.speech import STT
from callcenter.speech.factory import offline_stt
from callcenter.testing.fakes import FakeTTS
from callcenter.testing.voices import CallerVoice
from tests.sip.peer import Dialog, UdpPeer, decode_pcmu, dominant_hz, sdp
from tests.sip.real_peers import (
    SCENARIOS,
    SessionRunner,
    free_udp_port,
    need,
    process,
    with_silence,
    write_mulaw_wav,
)

pytestmark = pytest.mark.slow

DIGITS_FLOW = """
name: sip_digits
start: ask_name
nodes:
  ask_name:
    type: ask
    slot: caller_name
    expect: text
    input: [speech]
    prompt: Who is calling?
    timeout: 8
    retries: 0
    next: ask_account
    on_failure: ask_account
  ask_account:
    type: ask
    slot: account
    expect: digits
    min_length: 3
    max_length: 3
    input: [dtmf]
    prompt: Key in your account number.
    dtmf: {terminator: '#', max_digits: 3}
    timeout: 10
    retries: 0
    next: goodbye
    on_failure: goodbye
  goodbye:
    type: hangup
    say: Thank you, goodbye.
"""
NAME_FLOW = """
name: sip_name
start: ask_name
nodes:
  ask_name:
    type: ask
    slot: caller_name
    expect: text
    input: [speech]
    prompt: Who is calling?
    timeout: 8
    retries: 0
    next: goodbye
    on_failure: goodbye
  goodbye:
    type: hangup
    say: Thank you, goodbye.
"""
LINE = "This is Jane Doe."


@pytest.fixture(scope="module")
def whisper() -> STT:
    stt = offline_stt()
    warm_up(stt, FakeTTS(), None)
    return stt


@pytest.fixture(scope="module")
def caller_line() -> np.ndarray:
    """The caller's line as it leaves a phone: Piper, 8 kHz, band-limited, mu-law."""
    spoken = CallerVoice("piper", "phone").speak(LINE)
    return with_silence(spoken.samples, 0.2, 0.3)


def _tts() -> FakeTTS:
    return FakeTTS(sample_rate=16000, ms_per_char=30.0, word_gap_ms=40.0)


async def _endpoint(runner: SessionRunner) -> AsyncIterator[SipEndpoint]:
    ep = SipEndpoint("127.0.0.1", 0, on_call=runner, rtp_ports=None)
    await ep.start()
    try:
        yield ep
    finally:
        await ep.aclose()


def _sipp(scenario: str, ep: SipEndpoint, sink: int, tmp: Path) -> list[str]:
    return [
        need("sipp"), "-sf", str(SCENARIOS / scenario), f"127.0.0.1:{ep.port}",
        "-s", "+15550001000", "-m", "1", "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
        "-p", str(free_udp_port()), "-mp", str(free_udp_port()), "-key", "sink_port", str(sink),
        "-timeout", "45s", "-timeout_error", "-trace_err", "-error_file", str(tmp / "sipp.err"),
    ]


async def test_sipp_caller_speaks_keys_digits_and_hears_the_agent(
    tmp_path: Path, whisper: STT, caller_line: np.ndarray
) -> None:
    write_mulaw_wav(tmp_path / "speech.wav", caller_line)
    runner = SessionRunner(load_flow(DIGITS_FLOW), whisper, _tts())
    sink = await UdpPeer.open()  # the caller's earpiece
    try:
        async for ep in _endpoint(runner):
            async with process(*_sipp("caller_speech_dtmf.xml", ep, sink.port, tmp_path),
                               cwd=tmp_path) as sipp:
                outcome = await runner.outcome(60.0)
                out, _ = await asyncio.wait_for(sipp.communicate(), 30.0)
            assert sipp.returncode == 0, out.decode()[-2000:] + _read(tmp_path / "sipp.err")
            room = runner.rooms[0]
            assert room.caller.attributes["sip.trunkPhoneNumber"] == "+15550001000"
            assert room.caller.attributes["sip.phoneNumber"] == "+15550001111"
            assert outcome.state.outcome == "completed", outcome
            assert outcome.state.slots["account"] == "123"
            assert "jane" in str(outcome.state.slots.get("caller_name", "")).lower(), outcome
            assert room.close_reason == "hangup" and not ep.calls  # sipp answered our BYE
            jb = room.media.jitter.stats
            assert jb.played > 50 and jb.lost == 0 and jb.late == 0, jb
            assert room.media.dtmf.stats.digits == 4
            _assert_agent_audio(sink)
    finally:
        sink.close()


def _assert_agent_audio(sink: UdpPeer) -> None:
    """The agent's RTP reached the caller: PCMU, paced at 20 ms, and it is the 440 Hz voice."""
    packets = [(t, p) for t, d in sink.log if (p := parse_rtp(d)) is not None]
    assert len(packets) > 100, f"only {len(packets)} RTP packets reached the caller"
    assert {p.payload_type for _, p in packets} == {0}
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(packets)]
    assert abs(statistics.median(gaps) - 0.020) < 0.003
    pcm = decode_pcmu([d for _, d in sink.log])
    loud = np.flatnonzero(np.abs(pcm) > 1000)
    assert len(loud) > 8000, "the agent said nothing audible"
    voiced = pcm[loud[0] : loud[0] + 8000]
    assert abs(dominant_hz(voiced, 8000) - 440.0) < 15


async def test_sipp_caller_hanging_up_ends_the_call(tmp_path: Path, whisper: STT) -> None:
    runner = SessionRunner(load_flow(DIGITS_FLOW), whisper, _tts())
    sink = await UdpPeer.open()
    try:
        async for ep in _endpoint(runner):
            async with process(*_sipp("caller_hangs_up.xml", ep, sink.port, tmp_path)) as sipp:
                outcome = await runner.outcome(30.0)
                out, _ = await asyncio.wait_for(sipp.communicate(), 30.0)
            assert sipp.returncode == 0, out.decode()[-2000:]
            room = runner.rooms[0]
            assert room.media.negotiated.codec == "PCMA"  # the offerer's first choice
            assert outcome.reason == "caller_hangup" and room.close_reason == "caller hung up"
            assert "account" not in outcome.state.slots
    finally:
        sink.close()


def _baresip_config(home: Path, mic: Path) -> None:
    """A headless baresip: a WAV as the microphone, decoded audio dumped to files."""
    (home / "snd").mkdir(parents=True)
    # net_interface takes the address: with `lo` baresip finds no usable one.
    (home / "config").write_text("\n".join([
        "poll_method epoll", "sip_listen 127.0.0.1:0", "net_interface 127.0.0.1",
        f"audio_source aufile,{mic}", "audio_player aubridge,nil", "audio_alert aubridge,nil",
        "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so",
        "module aubridge.so", "module sndfile.so", "module account.so", "module menu.so",
        f"snd_path {home / 'snd'}", "",
    ]))
    (home / "accounts").write_text("<sip:+15550002222@127.0.0.1>;regint=0\n")


async def test_baresip_calls_reaches_the_flow_and_is_hung_up_cleanly(
    tmp_path: Path, whisper: STT, caller_line: np.ndarray
) -> None:
    mic = tmp_path / "mic.wav"
    with wave.open(str(mic), "wb") as w:  # aufile wants 8 kHz 16-bit PCM
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        # baresip 1.0 hangs up when its microphone file ends: leave plenty of silence.
        w.writeframes(with_silence(caller_line, 1.3, 20.0).tobytes())
    home = tmp_path / "baresip"
    _baresip_config(home, mic)
    runner = SessionRunner(load_flow(NAME_FLOW), whisper, _tts())
    async for ep in _endpoint(runner):
        dial = f"/dial sip:+15550001000@127.0.0.1:{ep.port}"
        async with process(need("baresip"), "-f", str(home), "-e", dial) as baresip:
            outcome = await runner.outcome(40.0)
            for _ in range(100):  # our BYE is answered
                if not ep.calls:
                    break
                await asyncio.sleep(0.05)
            log = await _output_so_far(baresip)
        room = runner.rooms[0]
        assert outcome.state.outcome == "completed", (outcome, log)
        assert "jane" in str(outcome.state.slots.get("caller_name", "")).lower(), outcome
        assert room.caller.attributes["sip.phoneNumber"] == "+15550002222"
        assert room.close_reason == "hangup" and not ep.calls, log
        assert "terminated" in log, log  # baresip saw the BYE and ended the call
    [dump] = (home / "snd").glob("*-dec.wav")  # what baresip decoded from our RTP
    with wave.open(str(dump)) as w:
        heard = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        rate = w.getframerate()
    loud = np.flatnonzero(np.abs(heard) > 1000)
    assert len(loud) > rate // 2, "baresip heard no agent voice"  # ~0.5 s of tone or more
    assert abs(dominant_hz(heard[loud[0] : loud[0] + rate // 4], rate) - 440.0) < 15


async def _output_so_far(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    chunks = []
    while True:
        try:
            chunk = await asyncio.wait_for(proc.stdout.read(65536), 0.5)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def test_bad_requests_get_their_answers_and_sipp_still_gets_through(
    tmp_path: Path, whisper: STT
) -> None:
    runner = SessionRunner(load_flow(NAME_FLOW), whisper, _tts())
    probe, sink = await UdpPeer.open(), await UdpPeer.open()
    try:
        async for ep in _endpoint(runner):
            bad = Dialog(probe, ep.port)
            probe.send(bad.request("INVITE", sdp(40000)).replace("CSeq: 1 INVITE", "CSeq: 1"),
                       bad.ep)
            assert "CSeq" in (await probe.response(400)).reason
            no_codec = Dialog(probe, ep.port)
            no_codec.send("INVITE", sdp(40000, payloads="9").replace("a=rtpmap:0 PCMU/8000\r\n",
                                                                      ""))
            await probe.response(488)
            stray = Dialog(probe, ep.port)
            stray.to_tag = "gone"
            stray.send("BYE")
            await probe.response(481)
            Dialog(probe, ep.port).send("OPTIONS")
            await probe.response(200)
            assert not ep.calls and not runner.rooms
            async with process(*_sipp("caller_hangs_up.xml", ep, sink.port, tmp_path)) as sipp:
                outcome = await runner.outcome(30.0)
                out, _ = await asyncio.wait_for(sipp.communicate(), 30.0)
            assert sipp.returncode == 0, out.decode()[-2000:]
            assert outcome.reason == "caller_hangup" and len(runner.rooms) == 1
    finally:
        probe.close()
        sink.close()
