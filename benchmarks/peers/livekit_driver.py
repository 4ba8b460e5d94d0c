"""LiveKit Agents density step: N AgentSessions in one process, one pacing clock (manual bench).

Run in the LiveKit Agents virtualenv by `benchmarks/peers/run`:
    .venvs/livekit/bin/python livekit_driver.py --workload DIR --sessions N --seconds S

Each session is an `AgentSession` with an `Agent`, Silero VAD (loaded once per process and
shared, as LiveKit's prewarm advice has it), VAD turn detection and our fake STT/LLM/TTS
plugins (the package ships no fakes). No room and no server: the session's audio input and
output are AgentSession's own `io.AudioInput` / `io.AudioOutput` abstractions, fed and
drained by the pacing clock; the output takes reply audio at playback pace, as an
`rtc.AudioSource` would. A frame's lag is taken when the Silero stream takes it.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import logging
import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import (
    Workload,
    driver_main,
    load_workload,
    rss_mb,
    session_turns,
    step_result,
)
from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, stt, tts, vad
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.agents.utils import aio
from livekit.agents.voice import io
from livekit.plugins import silero

logging.basicConfig(level=logging.ERROR)
# Silero's end of speech after 0.2 s of silence, the turn committed 0.4 s after the voice
# stopped (LiveKit back-dates its endpointing wait to the speech end): our 400 ms.
MIN_SILENCE_S = 0.2
MIN_DELAY_S = 0.4


class Session(common.Session):
    def __init__(self, index: int, w: Workload) -> None:
        super().__init__(index, w)
        self.input = FeedInput()
        self.output = PlayoutOutput(self)


class FeedInput(io.AudioInput):
    def __init__(self) -> None:
        super().__init__(label="bench-feed")
        self.queue: asyncio.Queue[rtc.AudioFrame] = asyncio.Queue()

    async def __anext__(self) -> rtc.AudioFrame:
        return await self.queue.get()


class PlayoutOutput(io.AudioOutput):
    """Reply audio into the session's playout buffer at playback pace; the clock plays it."""

    def __init__(self, session: Session) -> None:
        super().__init__(label="bench-playout",
                         capabilities=io.AudioOutputCapabilities(pause=False),
                         sample_rate=session.w.rate)
        self._s = session
        self._next_send = 0.0
        self._segment_s = 0.0
        self._flushed = False
        self._started = False

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._started:
            self._started = True
            self.on_playback_started(created_at=time.time())
        buf = array.array("h")
        buf.frombytes(bytes(frame.data))
        self._s.queue_reply(buf)
        dur = len(buf) / frame.sample_rate
        self._segment_s += dur
        now = time.monotonic()
        self._next_send = max(self._next_send, now) + dur
        await asyncio.sleep(max(0.0, self._next_send - now - 0.04))

    def flush(self) -> None:
        super().flush()
        self._flushed = True

    def clear_buffer(self) -> None:
        del self._s.playout[:]
        if self._started:
            self._finish(interrupted=True)

    def played(self) -> None:
        """Called by the clock after each tick: a flushed segment ends when it has played."""
        if self._flushed and not self._s.playout:
            self._finish(interrupted=False)

    def _finish(self, *, interrupted: bool) -> None:
        pos, self._segment_s = self._segment_s, 0.0
        self._flushed = self._started = False
        self.on_playback_finished(playback_position=pos, interrupted=interrupted)


class ProbedChan(aio.Chan):  # type: ignore[type-arg]
    """Silero's input channel as it is; it notes when the stream takes each frame."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._s = session

    async def __anext__(self):  # type: ignore[no-untyped-def]
        item = await super().__anext__()
        if isinstance(item, rtc.AudioFrame):
            self._s.vad_took_frame()
        return item


class SessionVAD(vad.VAD):
    """The process's shared Silero VAD, each stream's input channel probed for this session."""

    def __init__(self, shared: silero.VAD, session: Session) -> None:
        super().__init__(capabilities=shared.capabilities)
        self._shared, self._s = shared, session

    def stream(self) -> vad.VADStream:
        s = self._shared.stream()
        s._input_ch = ProbedChan(self._s)  # before its task first runs: nothing sent yet
        return s


class FakeSTT(stt.STT):
    def __init__(self, session: Session) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._s = session

    async def _recognize_impl(self, buffer, *, language=None, conn_options=None):  # type: ignore[no-untyped-def, override]
        raise NotImplementedError("the bench STT streams")

    def stream(  # type: ignore[no-untyped-def, override]
        self, *, language=None, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ):
        return FakeRecognizeStream(self._s, stt=self, conn_options=conn_options)


class FakeRecognizeStream(stt.RecognizeStream):
    """A streaming STT whose final transcript comes `stt_final_s` after each line's voice."""

    def __init__(self, session: Session, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._s = session

    async def _run(self) -> None:
        w = self._s.w
        pending = collections.deque(w.lines_until(self._s.index, 3.6e6))
        heard_ms = 0.0
        async for frame in self._input_ch:
            if not isinstance(frame, rtc.AudioFrame):
                continue
            heard_ms += 1000.0 * frame.samples_per_channel / frame.sample_rate
            while pending and pending[0][2] + 1000.0 * w.stt_final_s <= heard_ms:
                text = pending.popleft()[0]
                self._event_ch.send_nowait(stt.SpeechEvent(
                    type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[stt.SpeechData(language="en", text=text, confidence=1.0)],
                ))


class FakeLLM(llm.LLM):
    def __init__(self, w: Workload) -> None:
        super().__init__()
        self.w = w

    def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **_kw):  # type: ignore[no-untyped-def, override]
        return FakeLLMStream(self, chat_ctx=chat_ctx, tools=tools or [],
                             conn_options=conn_options)


class FakeLLMStream(llm.LLMStream):
    async def _run(self) -> None:
        w = self._llm.w  # type: ignore[attr-defined]
        await asyncio.sleep(w.llm_ttft_s)
        self._event_ch.send_nowait(llm.ChatChunk(
            id=uuid.uuid4().hex, delta=llm.ChoiceDelta(role="assistant", content=w.reply_text)))


class FakeTTS(tts.TTS):
    def __init__(self, w: Workload) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False),
                         sample_rate=w.rate, num_channels=1)
        self.w = w

    def synthesize(  # type: ignore[override]
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> FakeChunkedStream:
        return FakeChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class FakeChunkedStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        w = self._tts.w  # type: ignore[attr-defined]
        output_emitter.initialize(request_id=uuid.uuid4().hex, sample_rate=w.rate,
                                  num_channels=1, mime_type="audio/pcm")
        await asyncio.sleep(w.tts_ttfb_s)
        output_emitter.push(w.reply.tobytes())
        output_emitter.flush()


async def start_session(s: Session, shared_vad: silero.VAD) -> AgentSession:
    session: AgentSession = AgentSession(
        stt=FakeSTT(s), llm=FakeLLM(s.w), tts=FakeTTS(s.w), vad=SessionVAD(shared_vad, s),
        turn_handling={
            "turn_detection": "vad",
            "endpointing": {"min_delay": MIN_DELAY_S},
            # Off, as in ours and Pipecat: the LLM starts when the turn is committed.
            "preemptive_generation": {"enabled": False},
        },
    )
    session.input.audio = s.input
    session.output.audio = s.output
    await session.start(Agent(instructions="Answer the caller in one short sentence."),
                        record=False)
    return session


async def feed(s: common.Session, _k: int, pcm: bytes) -> None:
    assert isinstance(s, Session)
    n = len(pcm) // 2
    s.input.queue.put_nowait(rtc.AudioFrame(pcm, s.w.rate, 1, n))


def played(s: common.Session) -> None:
    assert isinstance(s, Session)
    s.output.played()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    w = load_workload(Path(args.workload))
    rss0 = rss_mb()
    shared = silero.VAD.load(sample_rate=w.rate, min_silence_duration=MIN_SILENCE_S)
    sessions = [Session(i, w) for i in range(args.sessions)]
    agents = [await start_session(s, shared) for s in sessions]
    window, total = await common.pace(list(sessions), args.seconds, feed, played)
    wall, cpu = window.close()
    rss1 = rss_mb()
    for a in agents:
        await a.aclose()
    overheads, expected = session_turns(w, sessions, window, total)
    return step_result(
        framework="livekit-agents", version=version("livekit-agents"), sessions=args.sessions,
        wall_s=wall, cpu_s=cpu, frames=sum(s.late.frames for s in sessions),
        late=sum(s.late.late for s in sessions), overheads=overheads, rss0_mb=rss0,
        rss1_mb=rss1, expected_turns=expected,
        notes={"endpointing": f"Silero min_silence {MIN_SILENCE_S} s, min_delay {MIN_DELAY_S} s "
                              "from the speech end"},
    )


if __name__ == "__main__":
    driver_main(__doc__, main_async)
