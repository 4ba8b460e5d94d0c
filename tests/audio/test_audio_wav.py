"""WAV reading and writing, including sox-made G.711 files."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from callcenter.audio.frame import AudioFrame
from callcenter.audio.wav import WavFormatError, encode_wav, parse_wav, read_wav, write_wav


def _tone(n: int, freq: float, rate: int) -> np.ndarray:
    return (8000 * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.int16)


def test_mono_pcm16_round_trips_exactly(tmp_path: Path) -> None:
    tone = _tone(1600, 440, 16000)
    write_wav(tmp_path / "a.wav", AudioFrame(tone, 16000))
    wav = read_wav(tmp_path / "a.wav")
    assert (wav.sample_rate, wav.channels, wav.source_format) == (16000, 1, "pcm16")
    assert np.array_equal(wav.to_mono().samples, tone)
    assert wav.duration_ms == pytest.approx(100.0)


def test_stereo_round_trips_and_downmixes_by_averaging(tmp_path: Path) -> None:
    left, right = _tone(800, 300, 8000), np.full(800, 1000, np.int16)
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), 8000)
    wav = read_wav(tmp_path / "s.wav")
    assert wav.channels == 2
    assert np.array_equal(wav.samples[:, 0], left)
    mono = wav.to_mono().samples
    assert abs(int(mono[5]) - (int(left[5]) + 1000) // 2) <= 1


def test_stdlib_wave_reads_what_we_write(tmp_path: Path) -> None:
    import wave

    write_wav(tmp_path / "a.wav", _tone(100, 440, 8000), 8000)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            1,
            2,
            8000,
            100,
        )


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (apt-get install sox)")
def test_reads_sox_mulaw_wav_close_to_the_pcm_source(tmp_path: Path) -> None:
    tone = _tone(8000, 440, 8000)
    write_wav(tmp_path / "pcm.wav", tone, 8000)
    subprocess.run(
        ["sox", str(tmp_path / "pcm.wav"), "-e", "u-law", str(tmp_path / "ulaw.wav")], check=True
    )
    wav = read_wav(tmp_path / "ulaw.wav")
    assert wav.source_format == "mulaw"
    err = np.abs(wav.to_mono().samples.astype(int) - tone.astype(int))
    assert err.max() <= 8000 / 30


def test_unsupported_format_error_names_found_and_supported() -> None:
    data = bytearray(encode_wav(np.zeros(10, np.int16), 8000))
    data[20:22] = (3).to_bytes(2, "little")  # IEEE float tag
    data[34:36] = (32).to_bytes(2, "little")
    with pytest.raises(WavFormatError, match=r"found IEEE float, 32-bit, 1 ch; supported: 16-bit"):
        parse_wav(bytes(data), name="x.wav")


def test_non_wav_input_is_rejected_clearly() -> None:
    with pytest.raises(WavFormatError, match="not a RIFF/WAVE"):
        parse_wav(b"ID3\x03 mp3 data here")
