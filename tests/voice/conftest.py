"""A call on a virtual clock: LocalRoom + scripted caller + VoiceSession with fake providers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest

from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import CallerReport, ScriptedCaller
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript
from callcenter.voice import Utterance, VoiceSession, VoiceSettings


@dataclass
class Call:
    clock: VirtualClock
    room: LocalRoom
    board: SpeechBoard
    session: VoiceSession
    llm: FakeLLM
    tts: FakeTTS
    utterances: list[Utterance]

    def caller(self, yaml_text: str, **kw: object) -> ScriptedCaller:
        return ScriptedCaller(self.room, CallerScript.from_yaml(yaml_text), board=self.board, **kw)  # type: ignore[arg-type]

    async def play(self, yaml_text: str) -> CallerReport:
        return await self.caller(yaml_text).run()




@pytest.fixture
async def make_call() -> AsyncIterator[Callable[..., Call]]:
    made: list[Call] = []
    clock = VirtualClock()

    def make(
        *,
        replies: str | Sequence[str] = "Okay.",
        settings: VoiceSettings | None = None,
        llm_ttft: float = 0.0,
        token_interval: float = 0.0,
        stt_latency: float = 0.0,
        auto_reply: bool = True,
    ) -> Call:
        room = LocalRoom(clock=clock, output_rate=16000)
        board = SpeechBoard()
        llm = FakeLLM(replies, clock=clock, ttft=llm_ttft, token_interval=token_interval)
        tts = FakeTTS(clock=clock)
        s = settings or VoiceSettings(input_rate=8000, auto_reply=auto_reply)
        session = VoiceSession(
            room, stt=FakeSTT(board, clock=clock, final_latency=stt_latency), tts=tts, llm=llm,
            settings=s, clock=clock,
        )
        utterances: list[Utterance] = []
        session.on_utterance(utterances.append)
        call = Call(clock, room, board, session, llm, tts, utterances)
        made.append(call)
        return call

    yield make
    for c in made:
        await c.session.aclose()
        c.room.close()
    await clock.aclose()
