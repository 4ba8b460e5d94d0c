"""ElevenLabsTTS against the fake ElevenLabs websocket/REST server."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from callcenter.speech import TTSAudio
from callcenter.speech.errors import FailureReason, ProviderError
from callcenter.speech.usage import TTSMetrics, UsageRecorder
from callcenter.speech.vendors.elevenlabs import ElevenLabsTTS
from callcenter.testing.cloud.elevenlabs_fake import FakeElevenLabs
from callcenter.testing.cloud.faults import Fault, FaultKind

KEY = "el-test-fake-elevenlabs-key-0123456789"


async def speak(tts: ElevenLabsTTS, *pieces: str, voice: str | None = None) -> list[TTSAudio]:
    stream = tts.stream(voice=voice)
    for p in pieces:
        stream.push_text(p)
    stream.end_input()
    out = [a async for a in stream]
    await stream.aclose()
    return out


@pytest.mark.parametrize(("fmt", "rate"), [("pcm_16000", 16000), ("ulaw_8000", 8000)])
async def test_streams_audio_with_word_alignment(fmt: str, rate: int) -> None:
    async with FakeElevenLabs(KEY, ms_per_char=20) as srv:
        rec = UsageRecorder()
        tts = ElevenLabsTTS(api_key=KEY, voice_id="voice-a", base_url=srv.http_url,
                            output_format=fmt, recorder=rec)  # type: ignore[arg-type]
        out = await speak(tts, "Your order has shipped,", "it arrives Monday.")
    assert tts.sample_rate == rate and all(a.frame.sample_rate == rate for a in out)
    assert out[-1].is_final
    words = [w for a in out for w in a.words]
    expected = ["Your", "order", "has", "shipped,", "it", "arrives", "Monday."]
    assert [w.text for w in words] == expected
    # Times are utterance-relative and monotonic; each word lasts ~20 ms per char.
    assert words[0].start_ms == 0 and all(
        b.start_ms >= a.end_ms for a, b in itertools.pairwise(words))
    total_ms = sum(a.frame.duration_ms for a in out)
    assert words[-1].end_ms <= total_ms
    assert abs(out[2].frame.timestamp_ms - sum(a.frame.duration_ms for a in out[:2])) < 1e-6
    # ulaw decoded to pcm: a real tone, not silence
    assert max(abs(int(s)) for s in out[0].frame.samples) > 4000
    m = rec.records[0]
    assert isinstance(m, TTSMetrics)
    assert m.kind == "tts" and m.characters == len("Your order has shipped,it arrives Monday.")
    assert m.ttfb_s is not None and m.audio_s == pytest.approx(total_ms / 1000)


async def test_audio_starts_before_the_reply_is_complete() -> None:
    async with FakeElevenLabs(KEY) as srv:
        tts = ElevenLabsTTS(api_key=KEY, voice_id="voice-a", base_url=srv.http_url)
        stream = tts.stream(voice="voice-b")
        stream.push_text("Hello there.")
        stream.flush()
        first = await asyncio.wait_for(anext(aiter(stream)), 2)
        assert first.frame.duration_ms > 0 and [w.text for w in first.words] == ["Hello"]
        await stream.aclose()
    assert srv.received == ["Hello there. "]


async def test_wrong_key_names_env_var_and_key_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "el-wrong-secret-key-abcdef0123456789"
    async with FakeElevenLabs(KEY) as srv:
        tts = ElevenLabsTTS(api_key=bad, voice_id="voice-a", base_url=srv.http_url)
        with pytest.raises(ProviderError) as info:
            await speak(tts, "Hi.")
        with pytest.raises(ProviderError) as rest:
            await tts.probe()
    for err in (info.value, rest.value):
        assert err.reason is FailureReason.AUTH and "ELEVENLABS_API_KEY" in str(err)
        assert bad not in str(err)
    assert bad not in caplog.text


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault(FaultKind.STATUS, status=429, retry_after=3), FailureReason.RATE_LIMITED),
    (Fault(FaultKind.STATUS, status=500), FailureReason.SERVER),
    (Fault(FaultKind.DROP, after=2), FailureReason.DROPPED),
])
async def test_failures_are_classified(fault: Fault, reason: FailureReason,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeElevenLabs(KEY) as srv:
        srv.inject(fault)
        tts = ElevenLabsTTS(api_key=KEY, voice_id="voice-a", base_url=srv.http_url)
        got: list[TTSAudio] = []
        with pytest.raises(ProviderError) as info:
            stream = tts.stream()
            stream.push_text("one two three four five.")
            stream.end_input()
            async for a in stream:
                got.append(a)
    assert info.value.reason is reason
    if reason is FailureReason.RATE_LIMITED:
        assert info.value.retry_after == 3
    if reason is FailureReason.DROPPED:
        assert [w.text for a in got for w in a.words] == ["one", "two"]
    assert KEY not in caplog.text


async def test_probe_checks_voice_through_the_sdk() -> None:
    async with FakeElevenLabs(KEY) as srv:
        tts = ElevenLabsTTS(api_key=KEY, voice_id="voice-a", base_url=srv.http_url)
        await tts.probe()
        with pytest.raises(ProviderError, match="404"):
            await tts.probe("no-such-voice")


def test_rejects_unsupported_output_format() -> None:
    with pytest.raises(ValueError, match="pcm_16000"):
        ElevenLabsTTS(api_key=KEY, voice_id="v", output_format="mp3_44100_128")  # type: ignore[arg-type]
