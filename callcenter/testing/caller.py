"""A scripted caller: joins a `LocalRoom`, plays a `CallerScript`, records what the agent says.

What it says goes into the room as real speech audio (Piper/eSpeak/WAV over a phone or
wideband channel), so the agent's VAD and STT hear what a phone would deliver. It writes
each line to a `SpeechBoard` (for `FakeSTT`) with the exact media times of the voice, and
it notes every stretch of agent audio it hears, so tests can assert on timing (turn
latency, barge-in stop time) and content (`heard` audio can be transcribed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from callcenter.audio.frame import PCM16, AudioFrame
from callcenter.rooms.base import ParticipantKind, RoomClosed, RoomEvent
from callcenter.rooms.local import LocalParticipant, LocalRoom
from callcenter.testing.fakes import SpeechBoard
from callcenter.testing.script import CallerScript, CallerTurn
from callcenter.testing.voices import CallerVoice, SpokenAudio, audio_file, channel_rate


def _edge(frame: AudioFrame, *, first: bool) -> float:
    """Sample-accurate start/end of the audible part of a frame (audio may start mid-frame)."""
    loud = np.flatnonzero(np.abs(frame.samples) > 100)
    ms_per = 1000.0 / frame.sample_rate
    if not len(loud):
        return frame.timestamp_ms if first else frame.end_ms
    return float(frame.timestamp_ms + (loud[0] if first else loud[-1] + 1) * ms_per)


class CallerTimeout(TimeoutError):
    """The agent did not do what the script waited for in time."""


@dataclass(slots=True)
class SaidLine:
    """One caller line. `speech_*` are the ground-truth media times of the voice."""

    text: str
    audio_start_ms: float
    speech_start_ms: float
    speech_end_ms: float


@dataclass(slots=True)
class AgentSegment:
    """A stretch of agent audio the caller heard (gaps shorter than `gap_ms` merged)."""

    start_ms: float
    end_ms: float
    chunks: list[PCM16] = field(default_factory=list)

    def audio(self, sample_rate: int) -> AudioFrame:
        data = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return AudioFrame(data, sample_rate, self.start_ms)


@dataclass
class CallerReport:
    said: list[SaidLine] = field(default_factory=list)
    agent: list[AgentSegment] = field(default_factory=list)
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    hung_up_ms: float | None = None


class ScriptedCaller:
    """Plays `script` in `room` as participant `script.identity`."""

    def __init__(
        self,
        room: LocalRoom,
        script: CallerScript,
        *,
        board: SpeechBoard | None = None,
        voice: CallerVoice | None = None,
        gap_ms: float = 400.0,
        keep_audio: bool = False,
        comfort_noise: int = 0,
        kind: ParticipantKind = ParticipantKind.CALLER,
    ) -> None:
        self.room = room
        self.script = script
        self.board = board if board is not None else SpeechBoard()
        self.voice = voice or CallerVoice(script.voice, script.channel)
        self.rate = channel_rate(script.channel)
        self.gap_ms = gap_ms
        self.keep_audio = keep_audio
        self.report = CallerReport()
        self._open: AgentSegment | None = None
        self._last_agent_ms = -1e9
        self._last_frame: AudioFrame | None = None
        self._watch: tuple[Callable[[], bool], asyncio.Future[None]] | None = None
        self.participant: LocalParticipant = room.join(
            script.identity, kind, sample_rate=self.rate, attributes=script.attributes,
            on_audio=self._on_audio, comfort_noise=comfort_noise,
        )
        self._mark_ms = room.next_frame_ms()
        room.on_event(self._on_room_event)

    def _on_room_event(self, event: RoomEvent) -> None:
        # The agent hung up: whatever it was saying is finished, and nothing more will come,
        # so a `wait: agent_done` must not wait for a pause that can never be heard.
        if isinstance(event, RoomClosed):
            if self._open is not None and self._last_frame is not None:
                self._open.end_ms = self._last_agent_ms = _edge(self._last_frame, first=False)
            self._open, self._last_frame = None, None
            if self._watch is not None:
                fut = self._watch[1]
                self._watch = None
                if not fut.done():
                    fut.set_result(None)

    # ------------------------------------------------------------------ hearing

    def _on_audio(self, frame: AudioFrame, who: tuple[str, ...]) -> None:
        if self.room.local_identity in who:
            if self._open is None:
                self._open = AgentSegment(_edge(frame, first=True), frame.end_ms)
                self.report.agent.append(self._open)
            self._last_frame = frame
            self._last_agent_ms = frame.end_ms
            if self.keep_audio:
                self._open.chunks.append(frame.samples.copy())
        elif self._last_frame is not None:
            # The agent's audio stopped in (or at the end of) the last frame that had it.
            assert self._open is not None
            self._open.end_ms = self._last_agent_ms = _edge(self._last_frame, first=False)
            self._last_frame = None
        elif self._open is not None and frame.end_ms - self._last_agent_ms >= self.gap_ms:
            self._open = None
        if self._watch is not None and self._watch[0]():
            fut = self._watch[1]
            self._watch = None
            if not fut.done():
                fut.set_result(None)

    async def _until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        if predicate():
            return
        fut = asyncio.get_running_loop().create_future()
        self._watch = (predicate, fut)
        timer = asyncio.get_running_loop().create_task(self.room.clock.sleep(timeout))
        try:
            await asyncio.wait({fut, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            self._watch = None
        if not fut.done():
            raise CallerTimeout(f"caller {self.script.identity!r}: waited {timeout:g} s {what}")

    def agent_segments_since(self, ms: float) -> list[AgentSegment]:
        return [s for s in self.report.agent if s.start_ms >= ms]

    # The waits' predicates run on every frame heard: they look back from the newest
    # segment (segments are heard in time order) instead of listing the whole call's.
    def _started_since(self, ms: float) -> bool:
        agent = self.report.agent
        return bool(agent) and agent[-1].start_ms >= ms

    def _finished_since(self, ms: float) -> bool:
        """Some agent segment that started at or after `ms` is over."""
        for seg in reversed(self.report.agent):
            if seg.start_ms < ms:
                return False
            if seg is not self._open:
                return True
        return False

    # ------------------------------------------------------------------ acting

    async def run(self) -> CallerReport:
        """Play every turn; returns the report (also available as `.report`)."""
        for i, turn in enumerate(self.script.turns, 1):
            if not self.participant.present:
                break
            await self._play(i, turn)
        return self.report

    async def _play(self, i: int, turn: CallerTurn) -> None:
        timeout = turn.timeout or self.script.timeout
        clock = self.room.clock
        if turn.kind == "wait":
            if not turn.agent_done:
                await clock.sleep(turn.seconds)
                return
            # The agent is talking now: wait for it to finish. Otherwise wait for its next
            # utterance (after our last action) to start and finish.
            talking = self._open is not None and self._last_frame is not None
            mark = self._open.start_ms if talking and self._open else self._mark_ms
            await self._until(
                lambda: self._finished_since(mark),
                timeout, f"in turn {i} for the agent to speak and finish (wait: agent_done)",
            )
            self._mark_ms = self.room.next_frame_ms()
        if turn.barge_in_after is not None:
            mark = self._mark_ms
            await self._until(
                lambda: self._started_since(mark), timeout,
                f"in turn {i} for the agent to start speaking (barge_in_after)",
            )
            start = self.agent_segments_since(mark)[0].start_ms
            await self._sleep_until_ms(start + 1000.0 * turn.barge_in_after)
        if turn.kind == "wait":
            return
        if turn.kind == "say":
            audio = await self._audio_for(turn)
            await self._speak(audio, turn.text)
        elif turn.kind == "noise":
            audio = await clock.run_blocking(self.voice.speak, "Hmm, ahem, uh.")
            n = min(len(audio.samples), round(turn.seconds * audio.sample_rate))
            lead = round(audio.voiced_start_ms * audio.sample_rate / 1000)
            cut = audio.samples[lead : lead + n]
            dur = 1000.0 * len(cut) / audio.sample_rate
            await self._speak(SpokenAudio(cut, audio.sample_rate, 0.0, dur), None)
        elif turn.kind == "dtmf":
            # The agent may answer the first key at once: listen for it from here.
            self._mark_ms = self.room.next_frame_ms()
            for d in turn.digits:
                self.participant.send_dtmf(d)
                self.report.dtmf.append((self.room.next_frame_ms(), d))
                await clock.sleep(0.1)
        else:
            self.report.hung_up_ms = self.room.next_frame_ms()
            self.participant.leave()

    async def _audio_for(self, turn: CallerTurn) -> SpokenAudio:
        path = turn.audio or self.script.audio
        if path is not None:
            return await self.room.clock.run_blocking(audio_file, path, self.script.channel)
        return await self.room.clock.run_blocking(self.voice.speak, turn.text)

    async def _speak(self, audio: SpokenAudio, text: str | None) -> None:
        samples = audio.samples
        if audio.sample_rate != self.rate:
            raise ValueError(
                f"caller audio is {audio.sample_rate} Hz but the {self.script.channel} channel "
                f"is {self.rate} Hz"
            )
        start = self.participant.push_audio(samples)
        s0, s1 = start + float(audio.voiced_start_ms), start + float(audio.voiced_end_ms)
        if text is not None:
            self.board.said(
                self.script.identity, text, s0, s1,
                audio=AudioFrame(samples, audio.sample_rate, start),
            )
            self.report.said.append(SaidLine(text, start, s0, s1))
        await self._sleep_until_ms(start + audio.duration_ms)
        self._mark_ms = self.room.next_frame_ms()

    async def _sleep_until_ms(self, media_ms: float) -> None:
        delta = media_ms - self.room.next_frame_ms()
        if delta > 0:
            await self.room.clock.sleep(delta / 1000.0)


async def run_script(
    room: LocalRoom, script: CallerScript, *, board: SpeechBoard | None = None
) -> CallerReport:
    """Convenience: join `room` and play `script` to the end."""
    return await ScriptedCaller(room, script, board=board).run()
