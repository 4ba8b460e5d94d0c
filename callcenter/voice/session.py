"""VoiceSession: turn-taking between the agent and everyone in a room.

States: listening -> (caller speaking) -> thinking -> agent speaking -> listening.
The session listens to every participant (speaker-labelled), decides when a turn is over
(`endpointing`), stops the agent when the caller talks over it (barge-in, with false-alarm
resume), speaks `SpeechHandle`s one after another, and reports utterances, turn events and
per-turn metrics. It knows nothing about LiveKit, SIP or the flow: it talks to a `Room`
and to speech providers. It keeps no conversation: whoever drives the call (the flow, via
`CallSession`) owns the one history and learns what was heard from each `SpeechHandle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from callcenter.audio.frame import AudioFrame
from callcenter.audio.vad import BatchedSileroVAD, Scorer, VADEvent
from callcenter.rooms.base import (
    DtmfReceived,
    Participant,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    Room,
    RoomClosed,
    RoomEvent,
)
from callcenter.rooms.clock import Clock, RealClock, VirtualClock
from callcenter.speech import STT, TTS, Transcript, TranscriptKind
from callcenter.voice.bargein import BargeIn
from callcenter.voice.events import (
    AgentInterrupted,
    AgentState,
    CallEnded,
    DtmfInput,
    ParticipantGone,
    SessionEvent,
    SpeechTiming,
    TurnMetrics,
    UserTurn,
    Utterance,
)
from callcenter.voice.listener import ParticipantListener
from callcenter.voice.settings import VoiceSettings
from callcenter.voice.speaker import AgentSpeaker
from callcenter.voice.speech import SpeechHandle, TextSource
from callcenter.voice.turn_reading import end_of_turn
from callcenter.voice.turns import (
    EventQueue,
    TurnState,
    turn_confidence,
    turn_text,
)

UtteranceHook = Callable[[Utterance], None]
log = logging.getLogger(__name__)


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


# How long a no-input timeout waits on for a turn already under way (speech, then the STT
# final and endpointing); longer than any answer's hold for the rest of a number.
_ANSWER_GRACE_S = 15.0


class VoiceSession:
    """Real-time voice I/O for one call. See `callcenter.voice` for the API overview."""

    def __init__(
        self,
        room: Room,
        *,
        stt: STT,
        tts: TTS,
        settings: VoiceSettings | None = None,
        clock: Clock | None = None,
        batched_vad: bool | None = None,
    ) -> None:
        self.room = room
        self.stt, self.tts = stt, tts
        self.settings = settings or VoiceSettings()
        self.clock = clock or room.clock or RealClock()
        if batched_vad is None:
            # Share one batched VAD across the process's calls when ONNX Runtime is there;
            # on a virtual clock score inline, so tests stay deterministic.
            batched_vad = not isinstance(self.clock, VirtualClock) and _has_onnxruntime()
        self._scorer: Scorer | None = (
            BatchedSileroVAD.shared(self.settings.vad_rate_at(self.settings.input_rate))
            if batched_vad else None
        )
        self.listeners: dict[str, ParticipantListener] = {}
        self._turns: dict[str, TurnState] = {}
        self.utterances: list[Utterance] = []
        self.metrics: list[TurnMetrics] = []
        self.listen_only = False
        self.expected_digits: int | None = None
        # The flow asked a yes/no question: a plain "yes" or "no" ends the turn at once.
        self.expect_yes_no = False
        # One key that must not interrupt the agent if it comes next (see _on_room_event).
        self.ignore_key: str | None = None
        # How long to wait for a final transcript after the caller stops (seconds).
        self.stt_timeout = 5.0
        self._hooks: list[UtteranceHook] = []
        self._events = EventQueue(self.clock)
        self._speaker = AgentSpeaker(
            tts, room.audio_output, self.clock, self.media_now, self._finished,
            chunk_ms=self.settings.playout_chunk_ms,
        )
        self._offset_ms: float | None = None
        self._barge = BargeIn(
            self.settings.interruption, self.clock,
            current=lambda: self.current, muted=lambda: self.listen_only,
            is_speaking=self._is_speaking, drop_queued=self.drop_queued,
            media_now=self.media_now, on_interrupted=self.push_event,
        )
        self._unanswered: TurnMetrics | None = None
        self._committed_ms = 0.0  # media time the unanswered turn was committed
        self.speech_timings: list[SpeechTiming] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # Listeners whose participant left, being closed: `aclose` waits for these rather
        # than cancelling them with the session's other tasks (a close cancelled before it
        # ran left the STT stream and its transcript task pending, holding the whole call).
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = False
        # Set when hearing a participant broke (see on_listener_failed): the call cannot go on.
        self.failure: Exception | None = None
        self.frames_seen = 0
        self.late_frames = 0

    # ================================================================ public API

    async def start(self) -> None:
        """Start listening to everyone in the room (and to whoever joins later)."""
        self._offset_ms = self.clock.now_ms()
        self.room.on_event(self._on_room_event)
        for p in self.room.participants():
            self._listen(p)
        self._speaker.start()

    def on_utterance(self, hook: UtteranceHook) -> None:
        """Call `hook` with every finished utterance (agent and participants), in order."""
        self._hooks.append(hook)

    def say(self, text: TextSource, *, interruptible: bool = True) -> SpeechHandle:
        """Queue agent speech (a string, or an async stream of text deltas)."""
        handle = SpeechHandle(text, interruptible=interruptible)
        handle.turn_metrics, self._unanswered = self._unanswered, None
        handle.queued_ms = self.media_now()
        if handle.turn_metrics is not None:
            handle.turn_metrics.flow_ms = handle.queued_ms - self._committed_ms
        if self.listen_only or self.closed:
            handle.interrupt(self.media_now())
            return handle
        self._speaker.enqueue(handle)
        return handle

    async def next_event(self, timeout: float | None = None) -> SessionEvent | None:
        """The next turn/DTMF/interruption/hang-up event, or None after `timeout` seconds.

        A timeout is a no-input timer, so it does not run out on a caller who is answering:
        as on a phone IVR, it stops at their speech start. A slow recognizer (a busy host)
        or a number said in groups can finish the turn well after the timeout, and "Sorry, I
        didn't hear anything" over an answer is the worst reply there is. Bounded, so noise
        that never becomes words still times out.
        """
        if self.closed:
            return await self._events.next(0) or CallEnded("closed")
        ev = await self._events.next(timeout)
        if timeout is None or ev is not None:
            return ev
        grace_end = self.clock.now() + _ANSWER_GRACE_S
        while ev is None and self._answer_in_progress() and not self.closed:
            left = grace_end - self.clock.now()
            if left <= 0:
                break
            ev = await self._events.next(min(left, 0.1))
        return ev

    def _answer_in_progress(self) -> bool:
        """A caller has started a turn (speech heard, words awaited or being endpointed).

        A supervisor's talk is not an answer to the agent's question: it holds nothing."""
        for identity, t in self._turns.items():
            listener = self.listeners.get(identity)
            if listener is not None and listener.participant.kind is ParticipantKind.SUPERVISOR:
                continue
            if t.start_ms is not None or t.endpoint is not None or t.awaiting_finals > 0:
                return True
        return False

    async def ask(
        self, text: str, *, timeout: float | None = None, interruptible: bool = True
    ) -> SessionEvent | None:
        """Say `text`, then return the caller's answer (a turn or DTMF), or None on timeout.

        The timeout counts from the end of the prompt; an answer that barges in counts too.
        """
        handle = self.say(text, interruptible=interruptible)
        while True:
            waiter = asyncio.get_running_loop().create_task(self.next_event())
            prompt = asyncio.get_running_loop().create_task(handle.wait())
            await asyncio.wait({waiter, prompt}, return_when=asyncio.FIRST_COMPLETED)
            prompt.cancel()
            if waiter.done():
                ev = waiter.result()
            else:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
                ev = await self.next_event(timeout)
            if not isinstance(ev, AgentInterrupted):
                return ev

    async def set_listen_only(self, listen_only: bool) -> None:
        """Escalation: stop speaking (and publishing audio) but keep transcribing everyone."""
        self.listen_only = listen_only
        if listen_only:
            self.drop_queued()
            if self.current is not None and not self.current.done():
                self._barge.stop(self.current)
        await self.room.set_listen_only(listen_only)

    @property
    def current(self) -> SpeechHandle | None:
        """The agent utterance playing (or being prepared) now."""
        return self._speaker.current

    @property
    def state(self) -> AgentState:
        cur = self.current
        if cur is not None and not cur.done():
            return AgentState.SPEAKING if cur.started and not cur.paused else AgentState.THINKING
        return AgentState.LISTENING

    def media_now(self) -> float:
        """Now, in ms on the room's media time line (call start = 0)."""
        return self.clock.now_ms() - (self._offset_ms or 0.0)

    async def aclose(self) -> None:
        self.closed = True
        self.drop_queued()
        if self.current is not None and not self.current.done():
            self._barge.stop(self.current)
        self._barge.close()
        me = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not me]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # An utterance cut off by the close is recorded as it ends (SpeechHandle.on_done),
        # so a goodbye that finished just before the hang-up is in the transcript too.
        await self._speaker.aclose(self.media_now())
        for lst in list(self.listeners.values()):
            await lst.aclose()
        self.listeners.clear()
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        self.push_event(CallEnded("closed"))

    # ================================================================ room side

    def _listen(self, p: Participant) -> None:
        if p.kind is ParticipantKind.AGENT or p.identity in self.listeners:
            return
        rate = self.settings.input_rate
        self.listeners[p.identity] = ParticipantListener(
            self, p, self.room.audio_stream(p.identity, rate), self.stt, self.settings,
            sample_rate=rate, scorer=self._scorer,
        )
        self._turns[p.identity] = TurnState()

    def _on_room_event(self, ev: RoomEvent) -> None:
        if isinstance(ev, ParticipantJoined):
            self._listen(ev.participant)
        elif isinstance(ev, DtmfReceived):
            cur = self.current
            # The terminator a caller presses after an answer that was already complete
            # ("...six digits" then '#') is not type-ahead for the next prompt.
            habit, self.ignore_key = self.ignore_key == ev.digit, None
            if (
                self.settings.interruption.dtmf_interrupts and cur is not None
                and cur.interruptible and cur.started and not cur.done() and not habit
            ):
                self._barge.stop(cur)  # type-ahead: a key press ends the prompt
            self.push_event(DtmfInput(ev.identity, ev.digit))
        elif isinstance(ev, ParticipantLeft):
            self.push_event(ParticipantGone(ev.participant.identity))
        elif isinstance(ev, RoomClosed):
            self.spawn(self.aclose())

    def observe_frame(self, frame: AudioFrame) -> None:
        """Keep the media-time mapping (the smallest arrival lag is the truest) and count
        frames that reached us more than one frame period late."""
        off = self.clock.now_ms() - frame.end_ms
        self.frames_seen += 1
        if self._offset_ms is None or off < self._offset_ms:
            self._offset_ms = off
        elif off - self._offset_ms > 20.0:
            self.late_frames += 1

    def _is_speaking(self, identity: str) -> bool:
        listener = self.listeners.get(identity)
        return listener is not None and listener.vad.speaking

    def _turn(self, listener: ParticipantListener) -> TurnState:
        return self._turns.setdefault(listener.identity, TurnState())

    def on_listener_failed(self, listener: ParticipantListener, exc: Exception) -> None:
        """The agent can no longer hear `listener`: the call ends (its owner records why)."""
        if self.failure is None:
            self.failure = exc
            log.error("hearing %s failed (%s: %s): ending the call", listener.identity,
                      type(exc).__name__, exc)
        self.push_event(CallEnded("error"))

    def on_listener_ended(self, listener: ParticipantListener) -> None:
        """The participant's audio ended (they left): forget them, so a rejoin is heard."""
        if self.listeners.get(listener.identity) is listener:
            del self.listeners[listener.identity]
        self._turns.pop(listener.identity, None)
        # Not `spawn`: the session's close cancels spawned tasks, and a listener close
        # cancelled before it ran would leave its STT stream and transcript task pending
        # until the GC destroys them (a stall in a busy worker). Whether the session is
        # open, closing or closed, this close runs to its end.
        task = asyncio.get_running_loop().create_task(listener.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # ================================================================ turn-taking
    # The listeners report here (this class is their `TurnSink`).

    def on_speech_start(self, listener: ParticipantListener, ev: VADEvent) -> None:
        turn = self._turn(listener)
        if turn.endpoint is not None:
            turn.endpoint.cancel()  # speaking again: the same turn goes on
            turn.endpoint = None
        if turn.start_ms is None:
            turn.start_ms = ev.timestamp_ms
            turn.overlapped = self.state is not AgentState.LISTENING
        else:
            listener.stt.continue_turn()  # past a pause: the STT keeps the turn's audio
        turn.interim_words = 0
        self.on_speaking(listener, listener.last_frame_end_ms - ev.timestamp_ms)

    def on_speaking(self, listener: ParticipantListener, speech_ms: float) -> None:
        """Called for every frame while `listener` speaks: the barge-in check."""
        self._barge.check(
            listener.identity, listener.speech_start_ms, speech_ms,
            self._turn(listener).interim_words,
        )

    def on_speech_end(self, listener: ParticipantListener, ev: VADEvent) -> None:
        turn = self._turn(listener)
        turn.speech_end_ms = ev.timestamp_ms
        turn.segments += 1
        turn.awaiting_finals += 1
        turn.final_arrived.clear()
        turn.eos_at = self.clock.now()
        if turn.endpoint is not None:
            turn.endpoint.cancel()
        turn.endpoint = self.spawn(self._endpoint(listener))

    def on_transcript(self, listener: ParticipantListener, t: Transcript) -> None:
        turn = self._turn(listener)
        words = len(t.words) if t.words else len(t.text.split())
        if t.kind is TranscriptKind.INTERIM:
            turn.interim_words = words
        else:
            turn.texts.append(t.text.strip())
            if t.text.strip():
                turn.confidences.append(t.confidence)
            turn.awaiting_finals = max(0, turn.awaiting_finals - 1)
            turn.stt_latency_ms = 1000.0 * (self.clock.now() - turn.eos_at)
            turn.final_arrived.set()
        if words:
            self._barge.words_heard()  # the barge-in has words: it is real

    async def _endpoint(self, listener: ParticipantListener) -> None:
        turn = self._turn(listener)
        if not await end_of_turn(self, listener, turn):
            # Noise: no words, no turn. Not `end_turn`: that is for committed turns (the
            # STT keeps the last one for a second hearing); the next turn's speech starts
            # the STT's own turn afresh anyway.
            self._turns[listener.identity] = TurnState()
            return
        turn.endpoint = None
        self._commit(listener, turn)

    def _commit(self, listener: ParticipantListener, turn: TurnState) -> None:
        self._turns[listener.identity] = TurnState()
        listener.stt.end_turn()
        now = self.media_now()
        text = turn_text(turn.texts, turn.reading)
        start = turn.start_ms if turn.start_ms is not None else turn.speech_end_ms
        m = TurnMetrics(
            listener.identity, turn.speech_end_ms,
            end_of_utterance_delay_ms=now - turn.speech_end_ms,
            stt_final_latency_ms=turn.stt_latency_ms,
            turn_reading_ms=turn.reading_wait_ms,
        )
        self.metrics.append(m)
        self._unanswered, self._committed_ms = m, now
        role = listener.participant.kind.value
        self._record(Utterance(role, listener.identity, text, start, turn.speech_end_ms))
        confidence = turn_confidence(turn.confidences, turn.reading, turn.reading_confidence)
        self.push_event(UserTurn(listener.identity, text, start, turn.speech_end_ms,
                                 turn.overlapped, confidence))
        self.spawn(self.room.publish_transcript(listener.identity, text, final=True))

    # ================================================================ interruptions

    def drop_queued(self) -> None:
        self._speaker.drop_queued(everything=self.listen_only or self.closed)

    # ================================================================ speaking

    def _finished(self, h: SpeechHandle) -> None:
        text = h.heard_text if h.interrupted else h.planned_text.strip()
        m = h.turn_metrics
        if m is not None and h.start_ms is not None:
            m.e2e_ms = h.start_ms - m.speech_end_ms
            m.tts_ttfb_ms = h.tts_ttfb_ms
            m.llm_ttft_ms = h.llm_ttft_ms
            if h.queued_ms is not None:
                m.first_audio_ms = h.start_ms - h.queued_ms
        if h.start_ms is None:
            return  # nothing was heard: no utterance
        if h.run_ms is not None:
            self.speech_timings.append(
                SpeechTiming(h.planned_text.strip(), max(0.0, h.start_ms - h.run_ms)))
        self._record(
            Utterance("agent", self.room.local_identity, text, h.start_ms,
                      h.end_ms if h.end_ms is not None else self.media_now(),
                      interrupted=h.interrupted, planned_text=h.planned_text.strip())
        )

    # ================================================================ plumbing

    def _record(self, u: Utterance) -> None:
        self.utterances.append(u)
        for hook in self._hooks:
            try:
                hook(u)
            except Exception:
                # A failing transcript store must not take the call's audio down with it.
                log.exception("on_utterance hook failed for %s utterance", u.role)

    def push_event(self, ev: SessionEvent) -> None:
        self._events.push(ev)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
