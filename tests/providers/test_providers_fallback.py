"""Fallback adapters over real provider clients talking to fake servers on 127.0.0.1.

The figures the issue asks for are printed (run with `-s`): time from the moment audio or a
transcript became due to the first result from the fallback, with the primary stalled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from callcenter.speech import ChatMessage, SpeechError, TranscriptKind, TTSAudio
from callcenter.speech.errors import FailureReason
from callcenter.speech.llm.fallback import FallbackLLM
from callcenter.speech.stt.fallback import FallbackSTT
from callcenter.speech.tts.fallback import FallbackTTS
from callcenter.speech.vendors.deepgram import DeepgramSTT
from callcenter.speech.vendors.elevenlabs import ElevenLabsTTS
from callcenter.speech.vendors.openai import OpenAILLM
from callcenter.testing.cloud.caller_audio import scripted_frames as frames
from callcenter.testing.cloud.deepgram_fake import FakeDeepgram
from callcenter.testing.cloud.elevenlabs_fake import FakeElevenLabs
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply

EL_KEY = "el-test-fake-elevenlabs-key-0123456789"
DG_KEY = "dg-test-fake-deepgram-key-0123456789"
OA_KEY = "sk-test-fake-openai-key-0123456789"
STALL = 0.3
BUDGET = STALL + 0.3  # the bar: fallback output no later than stall timeout + 300 ms


def el(srv: FakeElevenLabs, fmt: str = "pcm_16000") -> ElevenLabsTTS:
    return ElevenLabsTTS(api_key=EL_KEY, voice_id="voice-a", base_url=srv.http_url,
                         output_format=fmt)  # type: ignore[arg-type]


async def test_tts_stalled_primary_caller_hears_fallback_within_stall_plus_300ms() -> None:
    async with FakeElevenLabs(EL_KEY) as a, FakeElevenLabs(EL_KEY) as b:
        a.inject(Fault(FaultKind.STALL, times=-1))
        tts = FallbackTTS([el(a), el(b)], stall_timeout=STALL)
        stream = tts.stream(voice="voice-b")
        stream.push_text("Thank you for calling.")
        stream.flush()
        due = time.monotonic()
        first = await asyncio.wait_for(anext(aiter(stream)), 3)
        waited = time.monotonic() - due
        await stream.aclose()
        print(f"\nTTS stalled primary -> fallback first audio after {waited * 1000:.0f} ms "
              f"(stall timeout {STALL * 1000:.0f} ms, bar {BUDGET * 1000:.0f} ms)")
        assert first.frame.duration_ms > 0 and stream.providers_used == ["elevenlabs#1",
                                                                         "elevenlabs#2"]
        assert STALL <= waited <= BUDGET
        assert stream.metrics.ttfb_s == pytest.approx(waited, abs=0.01)
        # The next utterance skips the unhealthy primary: no stall paid twice.
        again = tts.stream()
        again.push_text("Goodbye.")
        again.end_input()
        t0 = time.monotonic()
        audio = [x async for x in again]
        assert time.monotonic() - t0 < STALL and audio[-1].is_final
        assert a.requests == 1 and again.providers_used == ["elevenlabs#2"]
        await tts.aclose()


async def test_tts_mid_sentence_drop_resumes_on_fallback_without_repeating() -> None:
    sentence = "Your order number is ready and it ships on Monday morning."
    async with FakeElevenLabs(EL_KEY) as a, FakeElevenLabs(EL_KEY) as b:
        a.inject(Fault(FaultKind.DROP, after=3))
        # The fallback speaks 8 kHz mu-law: its audio is resampled to the primary's 16 kHz.
        tts = FallbackTTS([el(a), el(b, "ulaw_8000")], stall_timeout=STALL)
        stream = tts.stream()
        stream.push_text(sentence)
        stream.end_input()
        out: list[TTSAudio] = [x async for x in stream]
        await tts.aclose()
    assert a.words_sent == [["Your", "order", "number"]]
    assert b.received == ["is ready and it ships on Monday morning. "]
    words = [w for x in out for w in x.words]
    assert [w.text for w in words] == sentence.split()  # every word once, in order
    assert all(x.frame.sample_rate == 16000 for x in out)
    # One continuous utterance: frame times follow each other, word times keep increasing.
    t = 0.0
    for x in out:
        assert x.frame.timestamp_ms == pytest.approx(t)
        t += x.frame.duration_ms
    assert all(w2.start_ms >= w1.end_ms - 1 for w1, w2 in itertools.pairwise(words))
    assert out[-1].is_final


async def test_tts_all_providers_failing_raises_one_clear_error() -> None:
    async with FakeElevenLabs(EL_KEY) as a, FakeElevenLabs(EL_KEY) as b:
        a.inject(Fault(FaultKind.STATUS, status=503))
        b.inject(Fault(FaultKind.STATUS, status=500))
        tts = FallbackTTS([el(a), el(b)], stall_timeout=STALL)
        stream = tts.stream()
        stream.push_text("Hello.")
        stream.end_input()
        with pytest.raises(SpeechError) as info:
            _ = [x async for x in stream]
        await tts.aclose()
    assert not info.value.retryable and info.value.provider == "fallback-tts"
    assert "HTTP 503" in str(info.value) and "HTTP 500" in str(info.value)


async def test_429_keeps_the_provider_out_for_exactly_retry_after_then_recovers() -> None:
    async with FakeElevenLabs(EL_KEY) as a, FakeElevenLabs(EL_KEY) as b:
        a.inject(Fault(FaultKind.STATUS, status=429, retry_after=1))
        # base_backoff is far shorter than Retry-After: Retry-After must win.
        tts = FallbackTTS([el(a), el(b)], stall_timeout=STALL, base_backoff=0.05)

        async def say(text: str) -> list[str]:
            s = tts.stream()
            s.push_text(text)
            s.end_input()
            _ = [x async for x in s]
            return s.providers_used

        t429 = time.monotonic()
        assert await say("One.") == ["elevenlabs#1", "elevenlabs#2"]
        health = tts.pool.health[0]
        assert health.last_reason is FailureReason.RATE_LIMITED
        assert health.unhealthy_until - t429 == pytest.approx(1.0, abs=0.1)
        await asyncio.sleep(0.5)
        assert await say("Two.") == ["elevenlabs#2"] and a.requests == 1
        await asyncio.sleep(max(0.0, t429 + 1.3 - time.monotonic()))  # probe ran at ~1.0 s
        assert health.healthy
        assert await say("Three.") == ["elevenlabs#1"] and a.requests == 2
        await tts.aclose()


async def test_llm_stalled_or_unauthorized_primary_falls_back() -> None:
    async with FakeOpenAI(OA_KEY) as a, FakeOpenAI(OA_KEY) as b:
        b.script.append(ScriptedReply(text="Fallback here."))
        a.inject(Fault(FaultKind.STALL))
        llm = FallbackLLM([OpenAILLM(api_key=OA_KEY, base_url=a.url),
                           OpenAILLM(api_key=OA_KEY, base_url=b.url)], stall_timeout=STALL)
        t0 = time.monotonic()
        it = aiter(llm.chat([ChatMessage("user", "hi")]))
        first = await anext(it)
        waited = time.monotonic() - t0
        rest = [c.text async for c in it]
        print(f"\nLLM stalled primary -> fallback first token after {waited * 1000:.0f} ms")
        assert waited <= BUDGET and first.text + "".join(rest) == "Fallback here."
        assert llm.active == "openai#2"
        await llm.aclose()
    async with FakeOpenAI(OA_KEY) as a, FakeOpenAI(OA_KEY) as b:
        llm = FallbackLLM([OpenAILLM(api_key="sk-wrong-0123456789abcdef", base_url=a.url),
                           OpenAILLM(api_key=OA_KEY, base_url=b.url)], stall_timeout=STALL)
        text = "".join([c.text async for c in llm.chat([ChatMessage("user", "hi")])])
        assert text == "You said: hi"
        assert llm.pool.health[0].last_reason is FailureReason.AUTH
        assert llm.pool.candidates() == [1]  # a rejected key is not even a last resort
        await llm.aclose()


async def test_stt_stalled_primary_final_transcript_within_stall_plus_300ms() -> None:
    async with FakeDeepgram(DG_KEY) as a, FakeDeepgram(DG_KEY, ["I need a human"]) as b:
        a.inject(Fault(FaultKind.STALL, times=-1))
        stt = FallbackSTT([DeepgramSTT(api_key=DG_KEY, base_url=a.http_url),
                           DeepgramSTT(api_key=DG_KEY, base_url=b.http_url)],
                          stall_timeout=STALL)
        stream = stt.stream()
        for f in frames(16000, [(0.8, True)]):  # the scripted caller speaks
            stream.push_frame(f)
        stream.end_of_speech()  # our VAD: the caller stopped
        due = time.monotonic()
        final = None
        async for ev in stream:
            if ev.kind is TranscriptKind.FINAL:
                final = ev
                break
        waited = time.monotonic() - due
        await stream.aclose()
        await stt.aclose()
        print(f"\nSTT stalled primary -> fallback FINAL after {waited * 1000:.0f} ms")
    assert final is not None and final.text == "I need a human"
    assert STALL <= waited <= BUDGET and stream.providers_used == ["deepgram#1", "deepgram#2"]


async def test_stt_dropped_socket_replays_the_utterance_on_the_fallback() -> None:
    async with FakeDeepgram(DG_KEY, ["lost"]) as a, FakeDeepgram(DG_KEY, ["cancel my order"]) as b:
        a.inject(Fault(FaultKind.DROP, after=1))
        stt = FallbackSTT([DeepgramSTT(api_key=DG_KEY, base_url=a.http_url),
                           DeepgramSTT(api_key=DG_KEY, base_url=b.http_url)],
                          stall_timeout=STALL)
        stream = stt.stream()
        for f in frames(16000, [(0.9, True), (0.5, False)]):
            stream.push_frame(f)
        kinds = []
        async for ev in stream:
            kinds.append(ev.kind)
            if ev.kind is TranscriptKind.END_OF_UTTERANCE:
                assert ev.text == "cancel my order"
                break
        await stream.aclose()
        await stt.aclose()
    assert TranscriptKind.FINAL in kinds and stream.providers_used[-1] == "deepgram#2"


async def test_no_key_in_logs_when_every_provider_rejects_its_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keys = ["sk-bad-openai-secret-000111222333", "dg-bad-deepgram-secret-000111222333",
            "el-bad-elevenlabs-secret-000111222333"]
    async with FakeOpenAI(OA_KEY) as o, FakeDeepgram(DG_KEY) as d, FakeElevenLabs(EL_KEY) as e:
        llm = FallbackLLM([OpenAILLM(api_key=keys[0], base_url=o.url)], stall_timeout=STALL)
        with pytest.raises(SpeechError, match="OPENAI_API_KEY"):
            _ = [c async for c in llm.chat([ChatMessage("user", "hi")])]
        stt = FallbackSTT([DeepgramSTT(api_key=keys[1], base_url=d.http_url)],
                          stall_timeout=STALL)
        s = stt.stream()
        s.push_frame(frames(16000, [(0.1, True)])[0])
        with pytest.raises(SpeechError, match="DEEPGRAM_API_KEY"):
            _ = [ev async for ev in s]
        tts = FallbackTTS([ElevenLabsTTS(api_key=keys[2], voice_id="voice-a",
                                         base_url=e.http_url)], stall_timeout=STALL)
        t = tts.stream()
        t.push_text("Hi.")
        t.end_input()
        with pytest.raises(SpeechError, match="ELEVENLABS_API_KEY"):
            _ = [x async for x in t]
        for adapter in (llm, stt, tts):
            await adapter.aclose()
    assert "401" in caplog.text  # the failures were logged...
    for key in keys:
        assert key not in caplog.text  # ...without the keys


async def _first_audio_after(tts: FallbackTTS) -> tuple[float, list[str]]:
    stream = tts.stream()
    stream.push_text("Please hold on.")
    stream.flush()
    due = time.monotonic()
    await asyncio.wait_for(anext(aiter(stream)), 3)
    waited = time.monotonic() - due
    await stream.aclose()
    return waited, stream.providers_used


async def test_warm_standby_hides_the_fallbacks_connect_time() -> None:
    connect = 0.12  # a TLS websocket handshake to a cloud region (scaled like the stall)
    async with FakeElevenLabs(EL_KEY) as a, FakeElevenLabs(EL_KEY, accept_delay=connect) as b:
        a.inject(Fault(FaultKind.STALL, times=-1))
        warm, used = await _first_audio_after(FallbackTTS([el(a), el(b)], stall_timeout=STALL))
        cold, _ = await _first_audio_after(
            FallbackTTS([el(a), el(b)], stall_timeout=STALL, warm_standby=False))
    print(f"\nfallback with {connect * 1000:.0f} ms connect: warm standby {warm * 1000:.0f} ms, "
          f"cold {cold * 1000:.0f} ms (stall timeout {STALL * 1000:.0f} ms)")
    assert used == ["elevenlabs#1", "elevenlabs#2"]
    assert warm <= STALL + 0.08 and cold >= STALL + connect


async def test_standby_of_a_slow_but_working_primary_costs_no_characters() -> None:
    async with FakeElevenLabs(EL_KEY, first_audio_delay=0.2) as a, FakeElevenLabs(EL_KEY) as b:
        waited, used = await _first_audio_after(FallbackTTS([el(a), el(b)], stall_timeout=STALL))
        await asyncio.sleep(0.1)
    assert used == ["elevenlabs#1"] and 0.2 <= waited < STALL
    assert b.requests == 1 and b.received == [""]  # connected as standby, never sent text
