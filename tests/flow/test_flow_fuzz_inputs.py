"""Fuzz the other doors callers and scripts come through: caller scripts, WAV headers and
LiveKit webhook bodies (signed, so they reach the parser and the database).

Never an unhandled exception (a typed error or a 4xx is fine), never longer than a bound
per input.
"""

from __future__ import annotations

import contextlib
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from callcenter.audio.resample import resample_frame
from callcenter.audio.wav import WavFormatError, encode_wav, parse_wav
from callcenter.testing.script import CallerScript, ScriptError

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
BOUND_S = 1.0  # YAML or a SQLite write on a loaded 2-core machine; hangs take far longer

# ------------------------------------------------------------------ caller scripts

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["agent_done", "inf", "nan", "-1", "1e999", "piper", "espeak", "phone",
                     "/etc/passwd", "../../x.wav", "9" * 400]),
)
keys = st.sampled_from(["voice", "channel", "audio", "turns", "timeout", "identity",
                        "attributes", "say", "wait", "dtmf", "hangup", "barge_in_after",
                        "expect", "timeout", "x"])
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
options = st.dictionaries(st.sampled_from(["timeout", "barge_in_after", "x"]), scalars,
                          max_size=2)
# Mostly well-formed turns, so the fuzzer gets past the shape checks to the values.
turn = st.builds(lambda kind, value, extra: {kind: value, **extra},
                 st.sampled_from(["say", "wait", "dtmf", "noise", "hangup"]),
                 st.one_of(st.sampled_from(["hello", 1, 0.5, True, "12#", "agent_done"]),
                           scalars), options)
script = st.one_of(
    values,
    st.fixed_dictionaries({"turns": st.lists(turn | st.dictionaries(keys, values, min_size=1,
                                                                    max_size=3),
                                             min_size=1, max_size=3)},
                          optional={k: values for k in ("voice", "channel", "timeout",
                                                        "identity", "attributes")}),
)


@FUZZ
@given(script)
def test_any_caller_script_loads_or_is_a_script_error(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    started = time.perf_counter()
    try:
        loaded = CallerScript.from_yaml(text, name="fuzz.yaml")
    except ScriptError as exc:
        assert "fuzz.yaml" in str(exc)
    else:
        assert loaded.turns and loaded.timeout > 0 and np.isfinite(loaded.timeout)
        for t in loaded.turns:  # a number that reaches the call is finite and sane
            for value in (t.timeout, t.seconds, t.barge_in_after):
                assert value is None or (np.isfinite(value) and value >= 0), t
    assert time.perf_counter() - started < BOUND_S


@FUZZ
@given(st.text(max_size=400))
def test_any_text_as_a_caller_script_is_a_script_error_or_loads(text: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(ScriptError):
        CallerScript.from_yaml(text, name="fuzz.yaml")
    assert time.perf_counter() - started < BOUND_S


# ------------------------------------------------------------------ WAV headers

def _chunk(cid: bytes, body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    return cid + struct.pack("<I", size & 0xFFFFFFFF) + body


fmt_fields = st.tuples(
    st.sampled_from([1, 3, 6, 7, 0xFFFE, 0, 2, 0x55]) | st.integers(0, 0xFFFF),  # tag
    st.sampled_from([0, 1, 2, 3, 8]) | st.integers(0, 0xFFFF),  # channels
    st.sampled_from([0, 1, 7999, 8000, 16000, 44100, 48000, 192000, 2**32 - 1])
    | st.integers(0, 2**32 - 1),  # sample rate
    st.integers(0, 2**32 - 1),  # byte rate
    st.integers(0, 0xFFFF),  # block align
    st.sampled_from([0, 8, 16, 24, 32]) | st.integers(0, 0xFFFF),  # bits
)


@st.composite
def wav_files(draw: st.DrawFn) -> bytes:
    tag, ch, rate, brate, align, bits = draw(fmt_fields)
    fmt = struct.pack("<HHIIHH", tag, ch, rate, brate, align, bits)
    fmt += draw(st.binary(max_size=12))
    body = draw(st.binary(max_size=2000))
    chunks = [_chunk(b"fmt ", fmt, draw(st.none() | st.integers(0, 2**32 - 1))),
              _chunk(b"data", body, draw(st.none() | st.integers(0, 2**32 - 1)))]
    if draw(st.booleans()):
        chunks.insert(0, _chunk(b"LIST", draw(st.binary(max_size=30))))
    if draw(st.booleans()):
        chunks.reverse()
    riff = b"".join(chunks)
    data = b"RIFF" + struct.pack("<I", len(riff) + 4) + b"WAVE" + riff
    cut = draw(st.none() | st.integers(0, len(data)))  # truncated files
    return data if cut is None else data[:cut]


def _check_wav(data: bytes) -> None:
    started = time.perf_counter()
    try:
        audio = parse_wav(data, name="fuzz.wav")
    except WavFormatError as exc:
        assert "fuzz.wav" in str(exc)
    else:
        # What a call does with it: mono, then the phone rate. Nothing may fail half-way.
        assert 1 <= audio.channels <= 2 and audio.sample_rate > 0
        frame = audio.to_mono()
        resample_frame(frame, 8000)
        assert np.isfinite(audio.duration_ms)
    assert time.perf_counter() - started < BOUND_S


@FUZZ
@given(wav_files())
def test_any_wav_header_decodes_or_is_a_wav_format_error(data: bytes) -> None:
    _check_wav(data)


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_a_real_wav_with_corrupted_bytes_decodes_or_is_refused(
    prefix: bytes, at: int, junk: bytes
) -> None:
    good = encode_wav(np.zeros(800, dtype=np.int16), 8000)
    at = min(at, len(good))
    _check_wav(good[:at] + junk + good[at + len(junk):])
    _check_wav(prefix)


# ------------------------------------------------------------------ webhook bodies

KEY, SECRET = "fuzzkey", "fuzz-webhook-secret-0123456789-abcdef"


@pytest.fixture(scope="module")
def webhook_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from admin.app import create_app
    from callcenter.config import load_settings
    from callcenter.db import engine_for

    db = Path(tmp_path_factory.mktemp("fuzzdb")) / "fuzz.db"
    engine = engine_for(f"sqlite:///{db}")
    SQLModel.metadata.create_all(engine)
    settings_ = load_settings(livekit_api_key=KEY, livekit_api_secret=SECRET)
    return TestClient(create_app(settings_, engine=engine, enqueue_postcall=lambda _c: None))


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["room_started", "room_finished", "participant_joined",
                     "participant_left", "track_published", "egress_ended", "SIP",
                     "9999999999999999999", "-1", "1e999", "call-1", ""]))
event_keys = st.sampled_from(["event", "id", "createdAt", "room", "participant", "track",
                              "egressInfo", "ingressInfo", "numDropped", "name", "sid",
                              "creationTime", "identity", "kind", "attributes", "state",
                              "joinedAt", "emptyTimeout", "x"])
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(event_keys, inner, max_size=5)),
    max_leaves=25)
webhook_bodies = st.one_of(
    st.dictionaries(event_keys, json_values, max_size=6).map(json.dumps),
    st.builds(lambda kind, eid, room, created, attrs: json.dumps({
        "event": kind, "id": eid, "createdAt": created,
        "room": {"name": room, "sid": "RM_x", "creationTime": created},
        "participant": {"identity": "sip_x", "kind": "SIP", "attributes": attrs}}),
        json_scalars, json_scalars, json_scalars, json_scalars,
        st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4)),
    st.text(max_size=300),
)


@FUZZ
@given(webhook_bodies)
def test_any_signed_webhook_body_is_recorded_or_refused_with_a_4xx(
    webhook_client: TestClient, body: str
) -> None:
    from datetime import timedelta

    from callcenter.testing.livekit.webhooks import sign_webhook

    auth = sign_webhook(body, KEY, SECRET, ttl=timedelta(minutes=5))
    started = time.perf_counter()
    r = webhook_client.post("/livekit/webhook", content=body.encode(),
                            headers={"Authorization": auth,
                                     "Content-Type": "application/webhook+json"})
    assert r.status_code in (200, 400, 401, 413, 422), (r.status_code, r.text[:300])
    assert time.perf_counter() - started < 2.0  # one SQLite write on a loaded machine
