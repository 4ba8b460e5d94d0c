"""DeepgramSTT through deepgram-sdk against the fake Deepgram live websocket server."""

from __future__ import annotations

import logging

import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.speech import Transcript, TranscriptKind
from callcenter.speech.errors import FailureReason, ProviderError
from callcenter.speech.usage import STTMetrics, UsageRecorder
from callcenter.speech.vendors.deepgram import DeepgramSTT
from callcenter.testing.cloud.caller_audio import scripted_frames as frames
from callcenter.testing.cloud.deepgram_fake import FakeDeepgram
from callcenter.testing.cloud.faults import Fault, FaultKind

KEY = "dg-test-fake-deepgram-key-0123456789"


async def run(stt: DeepgramSTT, audio: list[AudioFrame], *, finalize: bool = False,
              keywords: tuple[str, ...] = ()) -> list[Transcript]:
    stream = stt.stream(keywords=keywords)
    for f in audio:
        stream.push_frame(f)
    if finalize:
        stream.end_of_speech()
    got: list[Transcript] = []
    async for ev in stream:
        got.append(ev)
        done = TranscriptKind.FINAL if finalize else TranscriptKind.END_OF_UTTERANCE
        if ev.kind is done:
            break
    await stream.aclose()
    return got


@pytest.mark.parametrize(("encoding", "rate"), [("linear16", 16000), ("mulaw", 8000)])
async def test_interim_final_and_end_of_utterance_with_word_times(encoding: str, rate: int) -> None:
    async with FakeDeepgram(KEY, ["I want to check my Acme order."]) as srv:
        rec = UsageRecorder()
        stt = DeepgramSTT(api_key=KEY, base_url=srv.http_url, encoding=encoding,  # type: ignore[arg-type]
                          sample_rate=rate, recorder=rec)
        got = await run(stt, frames(rate, [(0.2, False), (1.0, True), (0.6, False)], t0_ms=5000),
                        keywords=("Acme", "Zorblax"))
    kinds = [e.kind for e in got]
    assert kinds.count(TranscriptKind.INTERIM) >= 2
    final = next(e for e in got if e.kind is TranscriptKind.FINAL)
    assert final.text == "I want to check my Acme order."
    assert kinds[-1] is TranscriptKind.END_OF_UTTERANCE and got[-1].text == final.text
    # word times are stream media times: speech started 200 ms after the first frame (5000 ms)
    assert final.words[0].text == "I" and final.words[0].start_ms == pytest.approx(5200, abs=25)
    assert final.words[-1].end_ms == pytest.approx(6200, abs=25)
    q = srv.queries[0]
    assert q["encoding"] == [encoding] and q["sample_rate"] == [str(rate)]
    assert q["keyterm"] == ["Acme", "Zorblax"] and q["interim_results"] == ["true"]
    m = rec.records[0]
    assert isinstance(m, STTMetrics)
    assert m.audio_s == pytest.approx(1.8, abs=1e-6)
    assert len(m.latencies_s) == 1 and m.latencies_s[0] < 1


async def test_end_of_speech_finalizes_and_utterance_end_is_not_doubled() -> None:
    async with FakeDeepgram(KEY, ["yes please"]) as srv:
        stt = DeepgramSTT(api_key=KEY, base_url=srv.http_url)
        got = await run(stt, frames(16000, [(0.5, True)]), finalize=True)
    assert got[-1].kind is TranscriptKind.FINAL and got[-1].text == "yes please"


async def test_wrong_key_names_env_var_and_key_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "dg-wrong-secret-key-abcdef0123456789"
    async with FakeDeepgram(KEY) as srv:
        stt = DeepgramSTT(api_key=bad, base_url=srv.http_url)
        with pytest.raises(ProviderError) as info:
            await run(stt, frames(16000, [(0.1, True)]))
        with pytest.raises(ProviderError) as rest:
            await stt.probe()
    for err in (info.value, rest.value):
        assert err.reason is FailureReason.AUTH and "DEEPGRAM_API_KEY" in str(err)
        assert bad not in str(err)
    assert bad not in caplog.text


@pytest.mark.parametrize(("fault", "reason"), [
    (Fault(FaultKind.STATUS, status=429, retry_after=4), FailureReason.RATE_LIMITED),
    (Fault(FaultKind.STATUS, status=502), FailureReason.SERVER),
    (Fault(FaultKind.DROP, after=1), FailureReason.DROPPED),
])
async def test_failures_are_classified(fault: Fault, reason: FailureReason,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeDeepgram(KEY) as srv:
        srv.inject(fault)
        stt = DeepgramSTT(api_key=KEY, base_url=srv.http_url)
        with pytest.raises(ProviderError) as info:
            await run(stt, frames(16000, [(1.0, True), (0.5, False)]))
    assert info.value.reason is reason
    if reason is FailureReason.RATE_LIMITED:
        assert info.value.retry_after == 4
    assert KEY not in caplog.text


async def test_probe_ok_and_bad_input_is_explained() -> None:
    async with FakeDeepgram(KEY) as srv:
        stt = DeepgramSTT(api_key=KEY, base_url=srv.http_url)
        await stt.probe()
        stream = stt.stream()
        with pytest.raises(ValueError, match="16000 Hz"):
            stream.push_frame(AudioFrame.silence(20, 8000))
        await stream.aclose()
    with pytest.raises(ValueError, match="mulaw at 8000"):
        DeepgramSTT(api_key=KEY, encoding="mulaw", sample_rate=16000)
