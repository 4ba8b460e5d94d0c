"""WAV files: read PCM16 (mono/stereo) and G.711 mu-law/A-law, write PCM16.

A small RIFF reader of our own instead of the stdlib `wave` module, because `wave` rejects
G.711 WAVs (format tags 6 and 7), which is what sox and phone recordings produce.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callcenter.audio.frame import AudioFrame
from callcenter.audio.g711 import alaw_decode, mulaw_decode

_PCM = 0x0001
_ALAW = 0x0006
_MULAW = 0x0007
_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {_PCM: "PCM", 0x0003: "IEEE float", _ALAW: "A-law", _MULAW: "mu-law"}
SUPPORTED = "16-bit PCM or 8-bit mu-law/A-law, 1 or 2 channels"
_MIN_RATE, _MAX_RATE = 4000, 384000


class WavFormatError(ValueError):
    """The file is not a WAV we can read; the message says what was found."""


@dataclass(slots=True)
class WavAudio:
    """Decoded WAV contents. `samples` is int16 shaped (frames, channels)."""

    samples: npt.NDArray[np.int16]
    sample_rate: int
    source_format: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_ms(self) -> float:
        return 1000.0 * int(self.samples.shape[0]) / self.sample_rate

    def to_mono(self) -> AudioFrame:
        """One mono frame (stereo is averaged, so neither side is lost)."""
        if self.channels == 1:
            mono = self.samples[:, 0].copy()
        else:
            mono = self.samples.astype(np.int32).mean(axis=1).round().astype(np.int16)
        return AudioFrame(mono, self.sample_rate)


def read_wav(path: str | Path) -> WavAudio:
    """Read a WAV file; raises WavFormatError naming the format found if unsupported."""
    return parse_wav(Path(path).read_bytes(), name=str(path))


def read_wav_frame(path: str | Path) -> AudioFrame:
    """Read a WAV file as one mono AudioFrame at its own sample rate."""
    return read_wav(path).to_mono()


def parse_wav(data: bytes, *, name: str = "<bytes>") -> WavAudio:
    """Decode WAV bytes (see `read_wav`)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError(f"{name}: not a RIFF/WAVE file (starts with {data[:12]!r})")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body, name)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError(f"{name}: 'data' chunk comes before the 'fmt ' chunk")
            return _decode(body, *fmt, name=name)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    raise WavFormatError(f"{name}: no 'data' chunk found (file truncated?)")


def _parse_fmt(body: bytes, name: str) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise WavFormatError(f"{name}: 'fmt ' chunk is {len(body)} bytes, expected >= 16")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the SubFormat GUID
    return tag, channels, rate, bits


def _decode(body: bytes, tag: int, channels: int, rate: int, bits: int, *, name: str) -> WavAudio:
    found = f"{_FORMAT_NAMES.get(tag, f'format tag 0x{tag:04x}')}, {bits}-bit, {channels} ch"
    if channels not in (1, 2):
        raise WavFormatError(f"{name}: found {found}; supported: {SUPPORTED}")
    if not _MIN_RATE <= rate <= _MAX_RATE:  # 0 Hz divided by zero only half-way into a call
        raise WavFormatError(f"{name}: sample rate {rate} Hz is not audio; supported: "
                             f"{_MIN_RATE} to {_MAX_RATE} Hz")
    if tag == _PCM and bits == 16:
        usable = len(body) - len(body) % (2 * channels)
        pcm = np.frombuffer(body[:usable], dtype="<i2").astype(np.int16)
        label = "pcm16"
    elif tag in (_MULAW, _ALAW) and bits == 8:
        usable = len(body) - len(body) % channels
        codes = np.frombuffer(body[:usable], dtype=np.uint8)
        pcm = mulaw_decode(codes) if tag == _MULAW else alaw_decode(codes)
        label = "mulaw" if tag == _MULAW else "alaw"
    else:
        raise WavFormatError(
            f"{name}: found {found}; supported: {SUPPORTED}. "
            "Convert it, e.g. `sox in.wav -b 16 -e signed-integer out.wav`"
        )
    return WavAudio(pcm.reshape(-1, channels), rate, label)


def encode_wav(samples: npt.NDArray[np.int16], sample_rate: int) -> bytes:
    """PCM16 WAV bytes from int16 samples shaped (n,) for mono or (n, 2) for stereo."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise TypeError(f"WAV writer takes int16 samples, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise ValueError(f"samples must be shaped (n,) or (n, 1|2), got {arr.shape}")
    channels = int(arr.shape[1])
    payload = arr.astype("<i2").tobytes()
    fmt = struct.pack(
        "<HHIIHH", _PCM, channels, sample_rate, sample_rate * 2 * channels, 2 * channels, 16
    )
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(payload))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(payload))
        + payload
    )


def write_wav(
    path: str | Path, samples: npt.NDArray[np.int16] | AudioFrame, sample_rate: int | None = None
) -> None:
    """Write a PCM16 WAV from an AudioFrame or int16 samples ((n,) or (n, 2))."""
    if isinstance(samples, AudioFrame):
        sample_rate, arr = samples.sample_rate, samples.samples
    elif sample_rate is None:
        raise ValueError("sample_rate is required when writing raw samples")
    else:
        arr = samples
    Path(path).write_bytes(encode_wav(arr, sample_rate))
