"""The short encoder window: where the padding starts, how long the window is, and that the
real model encodes a short utterance in it and still reads it right."""

import numpy as np
import pytest

from callcenter.speech.offline import whisper_window as ww


def _features(speech_frames: int, total: int = ww.FULL_FRAMES) -> np.ndarray:
    f = np.zeros((80, total), np.float32)
    # Normalised log-mel of real audio: negative values, never a whole column of zeros.
    f[:, :speech_frames] = np.random.default_rng(1).uniform(-1.0, 0.5, (80, speech_frames))
    return f


def test_content_frames_finds_the_zero_padding() -> None:
    assert ww.content_frames(_features(301)) == 301
    assert ww.content_frames(_features(0)) == 0
    assert ww.content_frames(_features(3000)) == 3000


def test_a_silent_frame_inside_the_speech_is_not_padding() -> None:
    f = _features(500)
    f[:, 200] = 0.0  # one all-zero column in the middle: the padding starts after 500
    assert ww.content_frames(f) == 500


def test_window_keeps_a_long_tail_and_a_minimum_and_never_exceeds_the_full_window() -> None:
    assert ww.window_frames(200) == ww.MIN_WINDOW_FRAMES
    assert ww.window_frames(800) == 800 + ww.TAIL_FRAMES
    assert ww.window_frames(2900) == ww.FULL_FRAMES


def test_trimmed_cuts_only_padding_and_keeps_the_batch_axis() -> None:
    f = _features(1200)[None]
    out = ww.trimmed(f)
    assert out.shape == (1, 80, 1200 + ww.TAIL_FRAMES)
    assert np.array_equal(out, f[..., : out.shape[-1]])
    full = _features(2800)
    assert ww.trimmed(full) is full


def test_the_real_model_encodes_a_short_answer_in_the_short_window() -> None:
    pytest.importorskip("faster_whisper", reason="the offline speech extra is not installed")
    from callcenter.audio.frame import AudioFrame
    from callcenter.audio.phone import phone_channel
    from callcenter.speech.offline.piper import PiperOptions, PiperTTS
    from callcenter.speech.offline.whisper import load_whisper_model

    model = load_whisper_model("tiny.en")
    seen: list[int] = []
    base = type(model).__mro__[1]  # faster-whisper's own WhisperModel
    original = base.encode

    def spy(self: object, features: np.ndarray) -> object:
        seen.append(features.shape[-1])
        return original(self, features)

    tts = PiperTTS(16000, PiperOptions(deterministic=True))
    clause = tts.synthesize_clause("I want to check my order status.")
    audio = phone_channel(AudioFrame(clause.samples, 16000), output_rate=16000).samples
    mp = pytest.MonkeyPatch()
    mp.setattr(base, "encode", spy)

    def read() -> str:
        segments, _ = model.transcribe(audio.astype(np.float32) / 32768.0, language="en",
                                       beam_size=1, without_timestamps=True, vad_filter=False)
        return " ".join(s.text for s in segments).lower()

    try:
        text = read()
        encoded = len(seen)
        again = read()  # a second decode of the same audio reuses the encoder's output
    finally:
        mp.undo()
    assert seen and max(seen) == ww.MIN_WINDOW_FRAMES, seen
    assert "order status" in text
    assert len(seen) == encoded and again == text
    assert isinstance(model.feature_extractor, ww.FeatureMemo)
    assert model.feature_extractor.hop_length == 160  # the extractor's own attributes


def test_the_encoder_memo_encodes_each_window_once_and_stays_bounded() -> None:
    calls: list[int] = []

    def encode(features: np.ndarray) -> object:
        calls.append(features.shape[-1])
        return object()

    memo = ww.EncoderMemo(size=2)
    a, b, c = _features(300, 1000), _features(400, 1000), _features(300, 1100)
    first = memo.get(a, encode)
    assert memo.get(a.copy(), encode) is first  # the same content: no second encode
    assert memo.get(c, encode) is not first      # same speech, another window length
    memo.get(b, encode)                          # a is now the oldest of three: dropped
    memo.get(a, encode)
    assert calls == [1000, 1100, 1000, 1000] and memo.hits == 1


def test_the_feature_memo_computes_each_clips_features_once_and_stays_bounded() -> None:
    calls: list[int] = []

    class Extractor:
        hop_length = 160

        def __call__(self, audio: np.ndarray, chunk_length: int | None = None) -> np.ndarray:
            calls.append(len(audio))
            return np.zeros((80, len(audio) // 160), np.float32)

    memo = ww.FeatureMemo(Extractor(), size=2)
    a, b, c = (np.random.default_rng(n).uniform(-1, 1, 16000).astype(np.float32)
               for n in range(3))
    first = memo(a)
    assert memo(a.copy()) is first and memo.hits == 1  # the same samples: kept
    assert not first.flags.writeable                   # shared by every decode: read-only
    assert memo(a, chunk_length=10) is not first       # other arguments, other features
    memo(b)
    memo(c)                                            # a's two are now the oldest: dropped
    memo(a)
    assert calls == [16000] * 5 and memo.hop_length == 160
