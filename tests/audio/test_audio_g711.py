"""G.711 codecs against the standard's code points and quantization bounds."""

import numpy as np
import pytest

from callcenter.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode

ALL = np.arange(-32768, 32768, dtype=np.int16)


def test_mulaw_known_code_points_match_g711() -> None:
    # Silence encodes to 0xFF; the extremes of the table decode to +/-32124.
    assert mulaw_encode(np.array([0], np.int16)) == b"\xff"
    assert mulaw_decode(b"\xff\x7f\x80\x00").tolist() == [0, 0, 32124, -32124]
    assert mulaw_encode(np.array([32767, -32768], np.int16)) == b"\x80\x00"
    # First segment boundary: step 8 around small values.
    assert mulaw_decode(b"\xfe\xfd").tolist() == [8, 16]


def test_alaw_known_code_points_match_g711() -> None:
    assert alaw_encode(np.array([0], np.int16)) == b"\xd5"
    assert alaw_decode(b"\xd5\x55\xaa\x2a").tolist() == [8, -8, 32256, -32256]
    assert alaw_encode(np.array([32767, -32768], np.int16)) == b"\xaa\x2a"


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_round_trip_error_stays_within_half_a_segment_step(encode, decode) -> None:  # type: ignore[no-untyped-def]
    back = decode(encode(ALL)).astype(np.int32)
    err = np.abs(back - ALL.astype(np.int32))
    mag = np.abs(ALL.astype(np.int32))
    # Log companding: half a quantization step is 1/32 of (magnitude + mu-law bias) at a
    # segment start, and never less than the finest step; mu-law clips above 32635.
    bound = np.maximum(16, (mag + 132) / 32)
    inside = mag < 32000
    assert np.all(err[inside] <= bound[inside])
    assert err.max() <= 1024


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_decoded_codes_are_fixed_points(encode, decode) -> None:  # type: ignore[no-untyped-def]
    codes = np.arange(256, dtype=np.uint8)
    values = decode(codes)
    again = np.frombuffer(encode(values), dtype=np.uint8)
    # Every code except mu-law's "negative zero" (0x7F -> 0 -> 0xFF) maps back to itself.
    same = again == codes
    assert same.sum() >= 255
    assert np.array_equal(decode(again), values)


def test_sine_round_trip_snr_is_toll_quality() -> None:
    t = np.arange(8000) / 8000
    sine = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for enc, dec in ((mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)):
        noise = dec(enc(sine)).astype(np.float64) - sine
        snr = 10 * np.log10(np.mean(sine.astype(np.float64) ** 2) / np.mean(noise**2))
        assert snr > 35, snr


def test_encoders_reject_float_audio_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="int16"):
        mulaw_encode(np.zeros(4, np.float32))  # type: ignore[arg-type]
