"""Pipecat density step: N pipelines in one process, fed by one pacing clock (manual bench).

Run in the Pipecat virtualenv by `benchmarks/peers/run`:
    .venvs/pipecat/bin/python pipecat_driver.py --workload DIR --sessions N --seconds S

Each session is the idiomatic Pipecat voice bot: transport.input() -> STT -> user
aggregator (SileroVADAnalyzer, speech-timeout turn stop) -> LLM -> TTS -> transport.output()
-> assistant aggregator, run by a PipelineRunner. Only the edges are ours: an in-process
transport (caller frames in, reply audio out at playback pace, as Pipecat's own websocket
transport paces it) and fake STT/LLM/TTS services with the workload's fixed delays.
A frame's lag is taken when Silero analyzes it (the VAD stage).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import sys
import time
from dataclasses import fields
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
from loguru import logger

logger.remove()
logger.add(sys.stderr, level="ERROR")

from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams, VADState  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    OutputAudioRawFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.task import PipelineParams  # noqa: E402
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection  # noqa: E402
from pipecat.services.llm_service import LLMService  # noqa: E402
from pipecat.services.settings import LLMSettings, STTSettings, TTSSettings  # noqa: E402
from pipecat.services.stt_service import STTService  # noqa: E402
from pipecat.services.tts_service import TTSService  # noqa: E402
from pipecat.transports.base_input import BaseInputTransport  # noqa: E402
from pipecat.transports.base_output import BaseOutputTransport  # noqa: E402
from pipecat.transports.base_transport import BaseTransport, TransportParams  # noqa: E402
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy  # noqa: E402
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

# Pipecat's default VAD stop (0.2 s) + a 0.2 s speech timeout = our 400 ms endpointing.
VAD_STOP_S = 0.2
SPEECH_TIMEOUT_S = 0.2


def _settings(cls, **given):  # type: ignore[no-untyped-def]
    """A settings object with every field set (None: not used by a fake service)."""
    values = {f.name: None for f in fields(cls) if f.name != "extra"}
    return cls(**{**values, **given})


class Session(common.Session):
    def __init__(self, index: int, w: Workload) -> None:
        super().__init__(index, w)
        self.input: FakeInput | None = None
        self.started = asyncio.Event()


class ProbedSilero(SileroVADAnalyzer):
    """Pipecat's Silero analyzer as shipped; it notes when each frame is analyzed."""

    def __init__(self, session: Session, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._session = session

    async def analyze_audio(self, buffer: bytes) -> VADState:
        self._session.vad_took_frame()
        return await super().analyze_audio(buffer)


class FakeInput(BaseInputTransport):
    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)


class FakeOutput(BaseOutputTransport):
    """Reply audio goes to the session's playout buffer at playback pace."""

    def __init__(self, session: Session, params: TransportParams) -> None:
        super().__init__(params)
        self._session = session
        self._next_send = 0.0

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        buf = array.array("h")
        buf.frombytes(frame.audio)
        self._session.queue_reply(buf)
        # Pace like a real-time sink (Pipecat's websocket transport does the same sleep).
        now = time.monotonic()
        self._next_send = max(self._next_send, now) + len(buf) / frame.sample_rate
        await asyncio.sleep(max(0.0, self._next_send - now - 0.04))
        return True


class FakeTransport(BaseTransport):
    def __init__(self, session: Session, params: TransportParams) -> None:
        super().__init__()
        self._in = FakeInput(params)
        self._out = FakeOutput(session, params)
        session.input = self._in

    def input(self) -> FakeInput:
        return self._in

    def output(self) -> FakeOutput:
        return self._out


class FakeSTT(STTService):
    """A streaming STT whose final transcript comes `stt_final_s` after each line's voice."""

    def __init__(self, session: Session) -> None:
        super().__init__(settings=_settings(STTSettings))
        self._session = session
        self._heard_ms = 0.0
        # Every line this session's caller will say in the next hour, in order.
        self._pending = collections.deque(session.w.lines_until(session.index, 3.6e6))

    async def run_stt(self, audio: bytes):  # type: ignore[no-untyped-def, override]
        w = self._session.w
        self._heard_ms += 1000.0 * len(audio) / 2 / w.rate
        while self._pending and self._pending[0][2] + 1000.0 * w.stt_final_s <= self._heard_ms:
            text = self._pending.popleft()[0]
            yield TranscriptionFrame(text, "caller", str(time.time()), finalized=True)


class FakeLLM(LLMService):
    def __init__(self, w: Workload) -> None:
        super().__init__(settings=_settings(LLMSettings, filter_incomplete_user_turns=False))
        self._w = w

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self.push_frame(LLMFullResponseStartFrame())
            await asyncio.sleep(self._w.llm_ttft_s)
            await self._push_llm_text(self._w.reply_text)
            await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)


class FakeTTS(TTSService):
    def __init__(self, w: Workload) -> None:
        super().__init__(push_start_frame=True, push_stop_frames=True, sample_rate=w.rate,
                         settings=_settings(TTSSettings))
        self._w = w

    async def run_tts(self, text: str, context_id: str):  # type: ignore[no-untyped-def, override]
        await asyncio.sleep(self._w.tts_ttfb_s)
        reply = self._w.reply.tobytes()
        chunk = int(self._w.rate * 0.04) * 2  # 40 ms chunks
        for i in range(0, len(reply), chunk):
            yield TTSAudioRawFrame(reply[i:i + chunk], self._w.rate, 1, context_id=context_id)


def build(session: Session) -> PipelineWorker:
    w = session.w
    params = TransportParams(audio_in_enabled=True, audio_out_enabled=True,
                             audio_in_sample_rate=w.rate, audio_out_sample_rate=w.rate)
    transport = FakeTransport(session, params)
    vad = ProbedSilero(session, sample_rate=w.rate, params=VADParams(stop_secs=VAD_STOP_S))
    pair = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            user_turn_strategies=UserTurnStrategies(
                stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=SPEECH_TIMEOUT_S)]
            ),
        ),
    )
    pipeline = Pipeline([
        transport.input(), FakeSTT(session), pair.user(), FakeLLM(w), FakeTTS(w),
        transport.output(), pair.assistant(),
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=w.rate, audio_out_sample_rate=w.rate),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        session.started.set()

    return worker


async def feed(s: common.Session, _k: int, pcm: bytes) -> None:
    assert isinstance(s, Session) and s.input is not None
    await s.input.push_audio_frame(InputAudioRawFrame(pcm, sample_rate=s.w.rate, num_channels=1))


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    w = load_workload(Path(args.workload))
    rss0 = rss_mb()
    sessions = [Session(i, w) for i in range(args.sessions)]
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(*(build(s) for s in sessions))
    running = asyncio.get_running_loop().create_task(runner.run())
    # Every pipeline has started (StartFrame through every processor) before frame 0.
    await asyncio.wait_for(asyncio.gather(*(s.started.wait() for s in sessions)), 60.0)
    window, total = await common.pace(list(sessions), args.seconds, feed)
    wall, cpu = window.close()
    rss1 = rss_mb()
    errors = [repr(running.exception())] if running.done() and running.exception() else []
    await runner.cancel()
    await asyncio.wait([running], timeout=5.0)
    overheads, expected = session_turns(w, sessions, window, total)
    return step_result(
        framework="pipecat", version=version("pipecat-ai"), sessions=args.sessions,
        wall_s=wall, cpu_s=cpu, frames=sum(s.late.frames for s in sessions),
        late=sum(s.late.late for s in sessions), overheads=overheads, rss0_mb=rss0,
        rss1_mb=rss1, expected_turns=expected, errors=errors,
        notes={"endpointing": f"VAD stop {VAD_STOP_S} s + speech timeout {SPEECH_TIMEOUT_S} s"},
    )


if __name__ == "__main__":
    driver_main(__doc__, main_async)
