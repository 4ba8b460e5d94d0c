"""In-process rooms for dev mode, tests and benchmarks.

A `LocalRoom` moves audio in 20 ms ticks of a `Clock` (real or virtual): each tick it takes
one frame from every participant's outgoing queue (silence when there is none), hands it to
the agent's `audio_stream` subscribers, plays one frame of the agent's `AudioOutput`, and
gives every local participant the mix of everyone else. Media times are milliseconds since
the room was created, on the room's clock, for every stream in the room.

Participants other than the agent join with `join(...)` and get a `LocalParticipant`:
push audio, press keys, send text, receive the mix, leave.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.audio.resample import StreamResampler
from callcenter.rooms.base import (
    DataReceived,
    DtmfReceived,
    Participant,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    Room,
    RoomClosed,
    RoomEvent,
    TransferFailed,
)
from callcenter.rooms.clock import Clock, RealClock
from callcenter.rooms.local_audio import (
    LocalAudioOutput,
    _realtime_resampler,
    _Timeline,
    _zeros,
)

FRAME_MS = 20.0
MixCallback = Callable[[AudioFrame, tuple[str, ...]], None]
TextCallback = Callable[[str, str, str], None]  # (sender identity, topic, text)
# (sender identity, topic, text, recipients: None = everyone): every message sent in the room.
TextTap = Callable[[str, str, str, tuple[str, ...] | None], None]


class _FrameChannel:
    """A single-consumer async frame queue with one waiter future (cheaper than asyncio.Queue)."""

    def __init__(self) -> None:
        self._frames: deque[AudioFrame] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def put(self, frame: AudioFrame) -> None:
        self._frames.append(frame)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def __aiter__(self) -> AsyncIterator[AudioFrame]:
        while True:
            while self._frames:
                yield self._frames.popleft()
            if self.closed:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None


@dataclass(slots=True)
class _Subscription:
    channel: _FrameChannel
    rate: int
    resampler: StreamResampler | None = None


@dataclass(eq=False)
class LocalParticipant:
    """A non-agent participant in a `LocalRoom` (scripted caller, supervisor, test)."""

    room: LocalRoom
    info: Participant
    sample_rate: int
    on_audio: MixCallback | None = None
    on_text: TextCallback | None = None
    _line: _Timeline | None = None
    _mix_rs: dict[int, StreamResampler] = field(default_factory=dict)
    present: bool = True
    muted: bool = False
    # Line noise sent when nothing is queued (peak in int16 LSB; 0 = digital silence).
    comfort_noise: int = 0
    _noise: PCM16 | None = None
    _noise_pos: int = 0

    def _idle_frame(self, n: int) -> PCM16:
        if not self.comfort_noise:
            return _zeros(n)
        if self._noise is None:
            rng = np.random.default_rng(abs(hash(self.identity)) % 2**32)
            self._noise = rng.integers(
                -self.comfort_noise, self.comfort_noise + 1, self.sample_rate, dtype=np.int16
            )
        if self._noise_pos + n > len(self._noise):
            self._noise_pos = 0
        out = self._noise[self._noise_pos : self._noise_pos + n]
        self._noise_pos += n
        return out

    @property
    def identity(self) -> str:
        return self.info.identity

    def push_audio(self, samples: PCM16) -> float:
        """Queue audio (at this participant's rate): it starts now, or after what is queued.

        Returns the media time (ms) of its first sample in the room.
        """
        return self.line.push(samples, self.room.now_ms())

    @property
    def line(self) -> _Timeline:
        if self._line is None:
            self._line = _Timeline(self.sample_rate)
        return self._line

    @property
    def queued_ms(self) -> float:
        return 1000.0 * self.line.queue.samples / self.sample_rate

    def clear_audio(self) -> None:
        self.line.clear(self.room.now_ms(), self.room.frame_start_ms())

    def send_dtmf(self, digits: str) -> None:
        for d in digits:
            if d not in "0123456789*#ABCD":
                raise ValueError(f"not a DTMF digit: {d!r} (use 0-9, *, #, A-D)")
            self.room._emit(DtmfReceived(self.identity, d))

    def send_text(self, text: str, *, topic: str = "lk.chat") -> None:
        self.room._tap(self.identity, topic, text, None)
        self.room._emit(DataReceived(self.identity, topic, text.encode()))

    def leave(self) -> None:
        self.room._leave(self)


class LocalRoom(Room):
    """An in-process room seen from the agent (see module docstring)."""

    clock: Clock  # always set: a local room's media runs on its own (real or virtual) clock

    def __init__(
        self,
        name: str = "local",
        *,
        clock: Clock | None = None,
        agent_identity: str = "agent",
        output_rate: int = 16000,
    ) -> None:
        self.name = name
        self.local_identity = agent_identity
        self.clock = clock or RealClock()
        self._output = LocalAudioOutput(output_rate, self.now_ms, self.frame_start_ms)
        self._participants: dict[str, LocalParticipant] = {}
        self._subs: dict[str, list[_Subscription]] = {}
        self._callbacks: list[Callable[[RoomEvent], None]] = []
        self._taps: list[TextTap] = []
        self.messages: list[tuple[str, str, str, tuple[str, ...] | None]] = []
        self.closed = False
        self._tick_ms = 0.0  # media time of the last tick: the current frame starts here
        self._tick_clock = self.clock.now()  # clock time of the last tick
        self._tick_handle = self.clock.ticker(FRAME_MS / 1000.0).add(self._on_tick)
        self.listen_only = False
        # Where the caller was transferred (a scripted call asserts on it); None: not yet.
        self.transferred_to: str | None = None
        # Set by a test to make the far end refuse transfers (the flow's failure route).
        self.refuse_transfers: TransferFailed | None = None

    # ---------------------------------------------------------------- participants

    def join(
        self,
        identity: str,
        kind: ParticipantKind = ParticipantKind.CALLER,
        *,
        sample_rate: int = 16000,
        attributes: dict[str, str] | None = None,
        on_audio: MixCallback | None = None,
        on_text: TextCallback | None = None,
        comfort_noise: int = 0,
    ) -> LocalParticipant:
        """Add a participant; it hears the mix of everyone else through `on_audio`.

        `comfort_noise` > 0 sends low-level line noise of that peak instead of digital
        silence between utterances (what a real phone line does).
        """
        if self.closed:
            raise RuntimeError(f"room {self.name!r} is closed: create a new room")
        if identity in self._participants or identity == self.local_identity:
            raise ValueError(f"identity {identity!r} is already in room {self.name!r}")
        p = LocalParticipant(
            self, Participant(identity, kind, identity, dict(attributes or {})), sample_rate,
            on_audio, on_text, comfort_noise=comfort_noise,
        )
        self._participants[identity] = p
        self._emit(ParticipantJoined(p.info))
        return p

    def _leave(self, p: LocalParticipant) -> None:
        if self._participants.pop(p.identity, None) is None:
            return
        p.present = False
        for sub in self._subs.pop(p.identity, []):
            sub.channel.close()
        self._emit(ParticipantLeft(p.info))

    def participants(self) -> list[Participant]:
        return [p.info for p in self._participants.values()]

    def now_ms(self) -> float:
        """The room's media time now.

        It runs from the ticks (the frames' own time line) and moves on with the clock
        between them, so audio queued now lines up with the frames delivered, even when
        ticks run late.
        """
        since = 1000.0 * (self.clock.now() - self._tick_clock)
        return self._tick_ms + min(FRAME_MS, max(0.0, since))

    def frame_start_ms(self) -> float:
        """Start of the frame being filled now (the time of the last tick)."""
        return self._tick_ms

    def next_frame_ms(self) -> float:
        """Media time now (kept for readability at call sites that schedule audio)."""
        return self.now_ms()

    # ---------------------------------------------------------------- Room interface

    def audio_stream(self, identity: str, sample_rate: int) -> AsyncIterator[AudioFrame]:
        ch = _FrameChannel()
        if self.closed:
            ch.close()
        else:
            self._subs.setdefault(identity, []).append(_Subscription(ch, sample_rate))
        return ch.__aiter__()

    @property
    def audio_output(self) -> LocalAudioOutput:
        return self._output

    def on_event(self, callback: Callable[[RoomEvent], None]) -> None:
        self._callbacks.append(callback)

    async def send_text(
        self, text: str, *, topic: str = "lk.chat", to: list[str] | None = None
    ) -> None:
        dest = None if to is None else tuple(to)  # () reaches nobody, as on LiveKit here
        self.messages.append((self.local_identity, topic, text, dest))
        self._tap(self.local_identity, topic, text, dest)
        for p in list(self._participants.values()):
            if p.on_text is not None and (dest is None or p.identity in dest):
                p.on_text(self.local_identity, topic, text)

    def tap_text(self, tap: TextTap) -> None:
        """See every text message sent in the room, whoever it is addressed to.

        For the process that hosts the room (the dev server's call feed), not for a
        participant: what a participant receives is only what `on_text` gets.
        """
        self._taps.append(tap)

    def _tap(self, sender: str, topic: str, text: str, to: tuple[str, ...] | None) -> None:
        for tap in list(self._taps):
            tap(sender, topic, text, to)

    async def publish_transcript(self, identity: str, text: str, *, final: bool) -> None:
        if final:
            await self.send_text(f"{identity}: {text}", topic="lk.transcription")

    async def set_listen_only(self, listen_only: bool) -> None:
        self.listen_only = listen_only
        self._output.enabled = not listen_only
        if listen_only:
            self._output.clear()

    async def transfer(self, target: str) -> None:
        """Cold transfer, as SIP REFER does it: the caller's leg leaves for `target`.

        The caller's media in this room ends (they leave); the agent stays until it hangs
        up. Raises `TransferFailed` when there is no caller to transfer or `refuse_transfers`
        is set.
        """
        if self.refuse_transfers is not None:
            raise self.refuse_transfers
        callers = [p for p in self._participants.values() if p.info.kind == ParticipantKind.CALLER]
        if not target or not callers:
            raise TransferFailed(target, "no target" if not target else "no caller in the room")
        self.transferred_to = target
        for p in callers:
            self._leave(p)

    async def hangup(self) -> None:
        self.close("hangup")

    def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        self.clock.ticker(FRAME_MS / 1000.0).remove(self._tick_handle)
        self._output.clear()
        for subs in self._subs.values():
            for sub in subs:
                sub.channel.close()
        self._subs.clear()
        for p in list(self._participants.values()):
            p.present = False
        self._emit(RoomClosed(reason))

    def _emit(self, event: RoomEvent) -> None:
        for cb in list(self._callbacks):
            cb(event)

    # ---------------------------------------------------------------- media tick

    def _on_tick(self, _k: int, _due: float) -> None:
        # Each tick completes the frame [ts, ts + 20 ms): it is delivered at its end, the
        # way a real-time sender packetizes audio.
        ts = self._tick_ms
        self._tick_ms += FRAME_MS
        self._tick_clock = self.clock.now()
        sent: list[tuple[str, AudioFrame, bool]] = []
        for p in self._participants.values():
            n = p.sample_rate * 20 // 1000
            samples = None if p.muted or p._line is None else p._line.frame(ts, n)
            frame = AudioFrame(p._idle_frame(n) if samples is None else samples, p.sample_rate, ts)
            sent.append((p.identity, frame, samples is not None))
            for sub in self._subs.get(p.identity, ()):
                self._deliver(sub, frame)
        out = self._output
        agent = out._play(ts, out.sample_rate * 20 // 1000)
        n_out = out.sample_rate * 20 // 1000
        sent.append((
            self.local_identity,
            AudioFrame(_zeros(n_out) if agent is None else agent, out.sample_rate, ts),
            agent is not None,
        ))
        for p in self._participants.values():
            if p.on_audio is not None:
                p.on_audio(*_mix_for(p, sent, ts))

    def _deliver(self, sub: _Subscription, frame: AudioFrame) -> None:
        if frame.sample_rate == sub.rate:
            sub.channel.put(frame)
            return
        if sub.resampler is None:
            sub.resampler = _realtime_resampler(frame.sample_rate, sub.rate)
        for f in sub.resampler.push(frame):
            sub.channel.put(f)


def _mix_for(
    p: LocalParticipant, sent: list[tuple[str, AudioFrame, bool]], ts: float
) -> tuple[AudioFrame, tuple[str, ...]]:
    """Everyone's audio except `p`'s own, at `p`'s rate, and who is in it."""
    n = p.sample_rate * 20 // 1000
    parts: list[PCM16] = []
    who: list[str] = []
    for identity, frame, audible in sent:
        if identity == p.identity:
            continue
        samples = frame.samples
        if frame.sample_rate != p.sample_rate:
            # Resamplers are streaming filters: once one exists it is fed every frame,
            # silent or not, so its delay stays constant and edges stay in place.
            if not audible and frame.sample_rate not in p._mix_rs:
                continue
            rs = p._mix_rs.get(frame.sample_rate)
            if rs is None:
                rs = p._mix_rs[frame.sample_rate] = _realtime_resampler(
                    frame.sample_rate, p.sample_rate
                )
            out = rs.push(frame)
            samples = np.concatenate([f.samples for f in out]) if out else _zeros(0)
            if len(samples) < n:  # a fresh filter holds samples back: keep the tail aligned
                samples = np.concatenate([np.zeros(n - len(samples), np.int16), samples])
        if not audible:
            continue
        who.append(identity)
        parts.append(samples)
    if not parts:
        return AudioFrame(_zeros(n), p.sample_rate, ts), ()
    if len(parts) == 1 and len(parts[0]) == n:  # one speaker: pass through, no copy
        return AudioFrame(parts[0], p.sample_rate, ts), tuple(who)
    acc = np.zeros(n, dtype=np.int32)
    for samples in parts:
        m = min(n, len(samples))
        acc[:m] += samples[:m]
    return AudioFrame(np.clip(acc, -32768, 32767).astype(np.int16), p.sample_rate, ts), tuple(who)


__all__ = ["FRAME_MS", "LocalAudioOutput", "LocalParticipant", "LocalRoom", "TextTap"]
