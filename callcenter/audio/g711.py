"""G.711 mu-law and A-law codecs with numpy lookup tables (no `audioop`: gone in 3.13).

Encoding uses a 65536-entry table indexed by the int16 sample's bit pattern, decoding a
256-entry table, so both are one numpy gather per frame. The tables are computed once at
import from the ITU-T G.711 segment rules.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callcenter.audio.frame import PCM16

U8 = npt.NDArray[np.uint8]

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _mulaw_encode_all() -> U8:
    x = np.arange(-32768, 32768, dtype=np.int32)
    sign = (x < 0).astype(np.int32)
    mag = np.minimum(np.abs(x), _MULAW_CLIP) + _MULAW_BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    code = ~((sign << 7) | (exponent << 4) | mantissa) & 0xFF
    return _by_bit_pattern(x, code)


def _mulaw_decode_all() -> PCM16:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def _alaw_encode_all() -> U8:
    x = np.arange(-32768, 32768, dtype=np.int32)
    v = x >> 3  # A-law works on 13-bit samples
    mask = np.where(v >= 0, 0xD5, 0x55)
    v = np.where(v >= 0, v, -v - 1)
    # Segment = number of bits above the 5 lowest, clamped to 0..7.
    seg = np.clip(np.floor(np.log2(np.maximum(v, 1))).astype(np.int32) - 4, 0, 7)
    mant = np.where(seg < 2, (v >> 1) & 0x0F, (v >> np.maximum(seg, 1)) & 0x0F)
    code = ((seg << 4) | mant) ^ mask
    return _by_bit_pattern(x, code)


def _alaw_decode_all() -> PCM16:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _by_bit_pattern(x: npt.NDArray[np.int32], code: npt.NDArray[np.int32]) -> U8:
    # Reorder so that table[sample.view(uint16)] is the code for that sample.
    table = np.empty(65536, dtype=np.uint8)
    table[x.astype(np.int16).view(np.uint16)] = code.astype(np.uint8)
    return table


_MULAW_ENC = _mulaw_encode_all()
_MULAW_DEC = _mulaw_decode_all()
_ALAW_ENC = _alaw_encode_all()
_ALAW_DEC = _alaw_decode_all()


def _as_pcm16(samples: npt.ArrayLike) -> PCM16:
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise TypeError(f"G.711 encoders take int16 PCM samples, got dtype {arr.dtype}")
    return arr


def _as_codes(data: bytes | U8) -> U8:
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    if data.dtype != np.uint8:
        raise TypeError(f"G.711 decoders take bytes or uint8 codes, got dtype {data.dtype}")
    return data


def mulaw_encode(samples: PCM16) -> bytes:
    """PCM16 -> G.711 mu-law bytes (one byte per sample)."""
    return _MULAW_ENC[_as_pcm16(samples).view(np.uint16)].tobytes()


def mulaw_decode(data: bytes | U8) -> PCM16:
    """G.711 mu-law bytes -> PCM16."""
    return _MULAW_DEC[_as_codes(data)]


def alaw_encode(samples: PCM16) -> bytes:
    """PCM16 -> G.711 A-law bytes (one byte per sample)."""
    return _ALAW_ENC[_as_pcm16(samples).view(np.uint16)].tobytes()


def alaw_decode(data: bytes | U8) -> PCM16:
    """G.711 A-law bytes -> PCM16."""
    return _ALAW_DEC[_as_codes(data)]
