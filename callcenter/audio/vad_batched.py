"""Silero VAD batched across streams: one ONNX session per process and sample rate.

Windows from every stream ready in the same event-loop iteration are scored as one batch in
a worker thread (ONNX Runtime releases the GIL, so this uses the second core); see
`callcenter.audio.vad` for the streams that feed it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from callcenter.audio.silero import F32, silero_model_path, window_samples

if TYPE_CHECKING:
    from callcenter.audio.vad import VADStream


class BatchedSileroVAD:
    """One Silero ONNX session scoring the windows of many streams in batches.

    Windows submitted during one event-loop iteration are scored together in a dedicated
    worker thread; results are delivered back on the loop, in order per stream. Use one
    instance per process and sample rate (see `shared`). Requires a running event loop.
    """

    _shared: ClassVar[dict[int, BatchedSileroVAD]] = {}

    def __init__(self, sample_rate: int, *, max_batch: int = 512) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "BatchedSileroVAD needs onnxruntime: pip install 'callcenter[local]' "
                "(or use the per-stream LiteScorer)"
            ) from exc
        self.sample_rate = sample_rate
        self.window_size_samples = window_samples(sample_rate)
        # The model reads this many samples of the previous window before each one; the
        # streams lay their rows out that way (see `Scorer` in `vad`).
        self.context_samples = 64 if sample_rate == 16000 else 32
        self._row_len = self.context_samples + self.window_size_samples
        opts = ort.SessionOptions()
        # One thread: the batch is small and the other core belongs to the event loop.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(silero_model_path()), opts, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._max_batch = max_batch
        self._cap = 64
        self._state = np.zeros((2, self._cap, 128), dtype=np.float32)
        # Bumped when a slot changes hands: a trip's results are kept only for the slots
        # still held by the streams they were computed for.
        self._gen = np.zeros(self._cap, dtype=np.int64)
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        # In submission order (results go back in that order); the rows to score by slot.
        self._queue: deque[tuple[int, VADStream, bool, float]] = deque()
        self._rows: dict[int, list[F32]] = {}
        self._inflight: dict[int, int] = {}
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"vad{sample_rate}")
        self.batches = 0  # model runs
        self.windows = 0  # windows scored by the model
        self.trips = 0  # jobs sent to the worker thread

    @classmethod
    def shared(cls, sample_rate: int) -> BatchedSileroVAD:
        """The process-wide batcher for `sample_rate` (created on first use)."""
        inst = cls._shared.get(sample_rate)
        if inst is None:
            inst = cls._shared[sample_rate] = cls(sample_rate)
        return inst

    def _slot(self, stream: VADStream) -> int:
        key = id(stream)
        slot = self._slots.get(key)
        if slot is not None:
            return slot
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._slots)
            if slot >= self._cap:
                self._cap *= 2
                state = np.zeros((2, self._cap, 128), dtype=np.float32)
                state[:, : slot] = self._state
                gen = np.zeros(self._cap, dtype=np.int64)
                gen[:slot] = self._gen
                self._state, self._gen = state, gen
        self._state[:, slot] = 0.0
        self._slots[key] = slot
        return slot

    def score(self, stream: VADStream, window: F32, end_ms: float, gated: bool) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (e.g. the next test): work queued on the old one is gone.
            self._loop, self._running = loop, False
            self._queue.clear()
            self._rows.clear()
            self._inflight.clear()
        slot = self._slots.get(id(stream))
        if slot is None:
            slot = self._slot(stream)
        inflight = self._inflight
        if gated:
            if not inflight.get(slot):
                stream.on_probability(0.0, end_ms)
                return
        else:
            if len(window) != self._row_len:
                raise ValueError(
                    f"a batched VAD row is context + window ({self._row_len} samples), "
                    f"not {len(window)}: the stream must honour `context_samples`"
                )
            rows = self._rows.get(slot)
            if rows is None:
                self._rows[slot] = [window]  # the stream's fresh row: kept, not copied
            else:
                rows.append(window)
        inflight[slot] = inflight.get(slot, 0) + 1
        self._queue.append((slot, stream, gated, end_ms))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())  # keep a reference: no early GC

    def release(self, stream: VADStream) -> None:
        slot = self._slots.pop(id(stream), None)
        if slot is not None:
            self._inflight.pop(slot, None)
            self._rows.pop(slot, None)
            self._gen[slot] += 1
            self._free.append(slot)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # let every stream that is ready this iteration submit
            while self._queue:
                items, self._queue = list(self._queue), deque()
                per_slot, self._rows = self._rows, {}
                await self._score_all(loop, items, per_slot)
        finally:
            self._running = False

    async def _score_all(
        self, loop: asyncio.AbstractEventLoop, items: list[tuple[int, VADStream, bool, float]],
        per_slot: dict[int, list[F32]],
    ) -> None:
        """Score every queued window in one trip to the worker thread.

        A stream's windows must run in order (the model's state is recurrent), so they are
        laid out in rounds: round r holds the r-th scored window of every stream that has
        one, and the thread runs the rounds one after another. A stream that fell behind
        (frames that arrived late in a burst, after a stall) catches up in this one trip,
        instead of one window per trip while new windows keep coming.
        """
        probs: dict[int, Iterator[float]] = {}
        if per_slot:
            slots = list(per_slot)
            at = np.fromiter(slots, dtype=np.intp, count=len(slots))
            rounds: list[tuple[npt.NDArray[np.intp] | None, F32]] = []
            depth = max(map(len, per_slot.values()))
            if depth == 1:  # on time: one window per stream, one round of them all
                rounds.append((None, np.stack([r[0] for r in per_slot.values()])))
            else:
                local = {slot: i for i, slot in enumerate(slots)}
                for r in range(depth):
                    here = [slot for slot in slots if len(per_slot[slot]) > r]
                    idx = np.fromiter((local[slot] for slot in here), dtype=np.intp,
                                      count=len(here))
                    rounds.append((idx, np.stack([per_slot[slot][r] for slot in here])))
            gen = self._gen[at]
            state = self._state[:, at]  # fancy indexing: a copy the thread may own
            self.trips += 1
            outs, state = await loop.run_in_executor(self._executor, self._run_rounds,
                                                     rounds, state)
            # A stream closed meanwhile may have handed its slot to a new one.
            kept = self._gen[at] == gen
            if kept.all():
                self._state[:, at] = state
            else:
                self._state[:, at[kept]] = state[:, kept]
            got: dict[int, list[float]] = {slot: [] for slot in slots}
            for (which, _x), out in zip(rounds, outs, strict=True):
                self.batches += 1
                self.windows += len(out)
                for j, p in zip(range(len(slots)) if which is None else which.tolist(),
                                out[:, 0].tolist(), strict=True):
                    got[slots[j]].append(p)
            probs = {slot: iter(v) for slot, v in got.items()}
        inflight, owned = self._inflight, self._slots
        for slot, stream, gated, end_ms in items:
            if owned.get(id(stream)) != slot:
                # Closed meanwhile: its rows, counts and pending results went with it (its
                # slot may be a new stream's now, whose results these must not take).
                continue
            inflight[slot] -= 1
            stream.on_probability(0.0 if gated else next(probs[slot]), end_ms)

    def _run_rounds(
        self, rounds: list[tuple[npt.NDArray[np.intp] | None, F32]], state: F32
    ) -> tuple[list[F32], F32]:
        """The rounds in order (worker thread); `state` is updated in place and returned.

        A round's `idx` says which of the trip's streams it holds (None: all of them)."""
        outs: list[F32] = []
        step = self._max_batch
        for idx, x in rounds:
            if idx is None and len(x) <= step:  # the common case: no gather, no scatter
                out, state = self._session.run(
                    None, {"input": x, "state": state, "sr": self._sr})
                outs.append(out)
                continue
            rows_all = np.arange(len(x)) if idx is None else idx
            parts: list[F32] = []
            for lo in range(0, len(rows_all), step):
                rows = rows_all[lo : lo + step]
                out, new_state = self._session.run(None, {
                    "input": x[lo : lo + step],
                    "state": np.ascontiguousarray(state[:, rows]), "sr": self._sr,
                })
                state[:, rows] = new_state
                parts.append(out)
            outs.append(parts[0] if len(parts) == 1 else np.concatenate(parts))
        return outs, state
