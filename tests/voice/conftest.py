"""Calls on a virtual clock: LocalRoom + scripted caller + fake providers.

`make_call` gives a bare `VoiceSession` (the test plays the agent with `say`); `make_agent_call`
gives a whole `CallSession` whose flow is one LLM agent node, the production path of a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest

from callcenter.callsession import CallSession, CallSetup, MemoryRecorder
from callcenter.callsession.recorder import CallInfo
from callcenter.flow.validate import load_flow
from callcenter.rooms.clock import Clock, VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import CallerReport, ScriptedCaller
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import SessionEvent, UserTurn, Utterance, VoiceSession, VoiceSettings

# One LLM agent node and nothing else: every caller turn is an LLM turn.
AGENT_FLOW = """
name: voice_agent
start: talk
nodes:
  talk:
    type: agent
    instructions: Answer the caller in one short sentence.
    use_llm: true
    timeout: 60
    max_turns: 200
"""


@dataclass
class Call:
    clock: VirtualClock
    room: LocalRoom
    board: SpeechBoard
    session: VoiceSession
    tts: FakeTTS
    utterances: list[Utterance]
    # Every event the scripted agent (`answer`) read from the session, in order.
    events: list[SessionEvent] = field(default_factory=list)
    _agent: asyncio.Task[None] | None = None

    def caller(self, yaml_text: str, **kw: object) -> ScriptedCaller:
        return ScriptedCaller(self.room, CallerScript.from_yaml(yaml_text), board=self.board, **kw)  # type: ignore[arg-type]

    async def play(self, yaml_text: str) -> CallerReport:
        return await self.caller(yaml_text).run()

    def answer(self, replies: str | Sequence[str] = "Okay.") -> None:
        """Play the agent: `say` the next reply after every turn (no LLM, no history)."""
        lines = [replies] if isinstance(replies, str) else list(replies)

        async def agent() -> None:
            n = 0
            while True:
                ev = await self.session.next_event()
                if ev is None:
                    continue
                self.events.append(ev)
                if isinstance(ev, UserTurn):
                    self.session.say(lines[min(n, len(lines) - 1)])
                    n += 1

        self._agent = asyncio.get_running_loop().create_task(agent())

    async def stop(self) -> None:
        if self._agent is not None:
            self._agent.cancel()
            await asyncio.gather(self._agent, return_exceptions=True)
        await self.session.aclose()
        self.room.close()


@dataclass
class AgentCall:
    clock: VirtualClock
    room: LocalRoom
    board: SpeechBoard
    session: CallSession
    llm: FakeLLM
    recorder: MemoryRecorder
    utterances: list[Utterance]
    task: asyncio.Task[object] | None = None

    @property
    def voice(self) -> VoiceSession:
        return self.session.voice

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.session.run())

    async def play(self, yaml_text: str) -> CallerReport:
        return await ScriptedCaller(
            self.room, CallerScript.from_yaml(yaml_text), board=self.board
        ).run()

    async def stop(self) -> None:
        self.room.close()  # the session sees the room close and ends the call
        if self.task is not None:
            await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 5)


@pytest.fixture
async def vclock() -> AsyncIterator[VirtualClock]:
    clock = VirtualClock()
    yield clock
    await clock.aclose()


@pytest.fixture
async def make_call(vclock: VirtualClock) -> AsyncIterator[Callable[..., Call]]:
    made: list[Call] = []

    def make(
        *, settings: VoiceSettings | None = None, stt_latency: float = 0.0,
        room: LocalRoom | None = None,
    ) -> Call:
        room = room or LocalRoom(clock=vclock, output_rate=16000)
        board = SpeechBoard()
        tts = FakeTTS(clock=vclock)
        session = VoiceSession(
            room, stt=FakeSTT(board, clock=vclock, final_latency=stt_latency), tts=tts,
            settings=settings or VoiceSettings(input_rate=8000), clock=vclock,
        )
        utterances: list[Utterance] = []
        session.on_utterance(utterances.append)
        call = Call(vclock, room, board, session, tts, utterances)
        made.append(call)
        return call

    yield make
    for c in made:
        await c.stop()


def agent_setup(
    room: LocalRoom, board: SpeechBoard, llm: FakeLLM, recorder: MemoryRecorder, clock: Clock,
    settings: VoiceSettings | None = None,
) -> CallSetup:
    return CallSetup(
        room=room, info=CallInfo(call_id=f"call-{room.name}", room_name=room.name),
        flow=load_flow(AGENT_FLOW), stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock),
        recorder=recorder, llm=llm, voice_settings=settings or VoiceSettings(input_rate=8000),
        clock=clock,
    )


@pytest.fixture
async def make_agent_call(vclock: VirtualClock) -> AsyncIterator[Callable[..., AgentCall]]:
    made: list[AgentCall] = []

    def make(
        *, replies: str | Sequence[str] = "Okay.", llm_ttft: float = 0.0,
        settings: VoiceSettings | None = None,
    ) -> AgentCall:
        room = LocalRoom(clock=vclock, output_rate=16000)
        board = SpeechBoard()
        llm = FakeLLM(replies, clock=vclock, ttft=llm_ttft)
        recorder = MemoryRecorder()
        session = CallSession(agent_setup(room, board, llm, recorder, vclock, settings))
        utterances: list[Utterance] = []
        session.voice.on_utterance(utterances.append)
        call = AgentCall(vclock, room, board, session, llm, recorder, utterances)
        made.append(call)
        return call

    yield make
    for c in made:
        await c.stop()
