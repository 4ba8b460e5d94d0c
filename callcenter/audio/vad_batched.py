"""Silero VAD batched across streams: one ONNX session per process and sample rate.

Windows from every stream ready in the same event-loop iteration are scored as one batch in
a worker thread (ONNX Runtime releases the GIL, so this uses the second core); see
`callcenter.audio.vad` for the streams that feed it.
"""

from __future__ import annotations

import asyncio
from collections import deque
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
        self._ctx_len = 64 if sample_rate == 16000 else 32
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
        self._ctx = np.zeros((self._cap, self._ctx_len), dtype=np.float32)
        self._slots: dict[int, int] = {}
        self._free: list[int] = []
        self._queue: deque[tuple[int, VADStream, F32 | None, float]] = deque()
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
                ctx = np.zeros((self._cap, self._ctx_len), dtype=np.float32)
                ctx[:slot] = self._ctx
                self._state, self._ctx = state, ctx
        self._state[:, slot] = 0.0
        self._ctx[slot] = 0.0
        self._slots[key] = slot
        return slot

    def score(self, stream: VADStream, window: F32, end_ms: float, gated: bool) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (e.g. the next test): work queued on the old one is gone.
            self._loop, self._running = loop, False
            self._queue.clear()
            self._inflight.clear()
        slot = self._slot(stream)
        if gated and not self._inflight.get(slot):
            self._ctx[slot] = 0.0
            stream.on_probability(0.0, end_ms)
            return
        self._inflight[slot] = self._inflight.get(slot, 0) + 1
        row: F32 | None = None
        if not gated:
            # The model's input row: room for the context (filled when the batch is laid
            # out), then the window, copied once.
            row = np.empty(self._ctx_len + self.window_size_samples, np.float32)
            row[self._ctx_len :] = window
        self._queue.append((slot, stream, row, end_ms))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())  # keep a reference: no early GC

    def release(self, stream: VADStream) -> None:
        slot = self._slots.pop(id(stream), None)
        if slot is not None:
            self._inflight.pop(slot, None)
            self._free.append(slot)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # let every stream that is ready this iteration submit
            while self._queue:
                items, self._queue = list(self._queue), deque()
                await self._score_all(loop, items)
        finally:
            self._running = False

    async def _score_all(
        self, loop: asyncio.AbstractEventLoop, items: list[tuple[int, VADStream, F32 | None, float]]
    ) -> None:
        """Score every queued window in one trip to the worker thread.

        A stream's windows must run in order (the model's state is recurrent), so they are
        laid out in rounds: round r holds the r-th scored window of every stream that has
        one, and the thread runs the rounds one after another. A stream that fell behind
        (frames that arrived late in a burst, after a stall) catches up in this one trip,
        instead of one window per trip while new windows keep coming.
        """
        ctx_len = self._ctx_len
        # Model inputs per slot: the context is the tail of the stream's previous window
        # (zeros after a silent one), known before any model output.
        per_slot: dict[int, list[F32]] = {}
        ctx_now: dict[int, F32 | None] = {}
        for slot, _stream, row, _end in items:
            if row is None:
                ctx_now[slot] = None  # a silent window resets the context
                continue
            prev = ctx_now[slot] if slot in ctx_now else self._ctx[slot]
            row[:ctx_len] = 0.0 if prev is None else prev
            per_slot.setdefault(slot, []).append(row)
            ctx_now[slot] = row[-ctx_len:]
        owners = {slot: stream for slot, stream, _w, _e in items}
        probs: dict[int, list[float]] = {}
        if per_slot:
            slots = list(per_slot)
            local = {slot: i for i, slot in enumerate(slots)}
            rounds: list[tuple[npt.NDArray[np.intp], F32]] = []
            depth = max(map(len, per_slot.values()))
            if depth == 1:  # on time: one window per stream, one round
                rows = [r[0] for r in per_slot.values()]
                rounds.append((np.arange(len(slots)), np.stack(rows)))
            else:
                for r in range(depth):
                    here = [slot for slot in slots if len(per_slot[slot]) > r]
                    idx = np.fromiter((local[slot] for slot in here), dtype=np.intp,
                                      count=len(here))
                    rounds.append((idx, np.stack([per_slot[slot][r] for slot in here])))
            state = self._state[:, slots]  # fancy indexing: a copy the thread may own
            self.trips += 1
            outs, state = await loop.run_in_executor(self._executor, self._run_rounds,
                                                     rounds, state)
            for i, slot in enumerate(slots):
                # A stream closed meanwhile may have handed its slot to a new one.
                if self._slots.get(id(owners[slot])) == slot:
                    self._state[:, slot] = state[:, i]
            for (idx, _x), out in zip(rounds, outs, strict=True):
                self.batches += 1
                self.windows += len(idx)
                for n, j in enumerate(idx.tolist()):
                    probs.setdefault(slots[j], []).append(float(out[n, 0]))
        for slot, last in ctx_now.items():
            if self._slots.get(id(owners[slot])) == slot:
                self._ctx[slot] = 0.0 if last is None else last
        taken: dict[int, int] = {}
        for slot, stream, window, end_ms in items:
            if slot in self._inflight:
                self._inflight[slot] -= 1
            p = 0.0
            if window is not None:
                k = taken.get(slot, 0)
                taken[slot] = k + 1
                p = probs[slot][k]
            if id(stream) in self._slots:  # skip streams closed meanwhile
                stream.on_probability(p, end_ms)

    def _run_rounds(
        self, rounds: list[tuple[npt.NDArray[np.intp], F32]], state: F32
    ) -> tuple[list[F32], F32]:
        """The rounds in order (worker thread); `state` is updated in place and returned."""
        outs: list[F32] = []
        step = self._max_batch
        for idx, x in rounds:
            parts: list[F32] = []
            for lo in range(0, len(idx), step):
                rows = idx[lo : lo + step]
                out, new_state = self._session.run(None, {
                    "input": x[lo : lo + step],
                    "state": np.ascontiguousarray(state[:, rows]), "sr": self._sr,
                })
                state[:, rows] = new_state
                parts.append(out)
            outs.append(parts[0] if len(parts) == 1 else np.concatenate(parts))
        return outs, state
