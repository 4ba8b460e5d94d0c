"""A call that fails at any point ends its row (`failed`, with the reason) and queues
post-call work for what was recorded: the post-call record appears for the failed call.

Each path runs through the worker's real call handler (`handle_call`) on a local room with
fake speech and the embedded post-call worker, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from callcenter import migrate
from callcenter.callsession import handler
from callcenter.callsession.effects import IntentService
from callcenter.callsession.providers import Speech
from callcenter.callsession.recorder import CallRecorder
from callcenter.callsession.session import APOLOGY_LINE
from callcenter.config import get_settings
from callcenter.db import session_scope
from callcenter.dispatch.job import JobContext, JobInfo
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.escalation.port import NoSupervisors
from callcenter.flowstore import FlowStore
from callcenter.models import Call, CallStatus, CallTranscript, PostcallJob, Utterance
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.speech import STTStream
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript

NUMBER = "+15550007777"
FLOW = """
name: two_questions
start: ask_name
nodes:
  ask_name:
    type: ask
    slot: name
    expect: text
    prompt: May I have your name?
    next: ask_city
  ask_city:
    type: ask
    slot: city
    expect: text
    prompt: And your city?
    next: bye
  bye:
    type: hangup
    say: Thank you, goodbye.
"""
CALLER = f"""
attributes: {{sip.trunkPhoneNumber: '{NUMBER}', sip.phoneNumber: '+15551230000'}}
turns:
  - wait: agent_done
  - say: "Jane Doe"
  - wait: agent_done
  - say: "Springfield"
  - wait: 6
  - hangup: true
"""


class Rig:
    """Fake speech in the handler, the flow published on NUMBER, one call at a time."""

    def __init__(self, board: SpeechBoard) -> None:
        self.board = board
        self.stt = FakeSTT(board, clock=RealClock())
        self.tts = FakeTTS(clock=RealClock())

    def speech(self) -> Speech:
        return Speech(stt=self.stt, tts=self.tts, llm=None,
                      intents=IntentService(prefer_minilm=False))

    async def start(self, call_id: str, *, tap: Any = None
                    ) -> tuple[asyncio.Task[None], JobContext, ScriptedCaller]:
        room = LocalRoom(f"call-{call_id}", clock=RealClock())
        caller = ScriptedCaller(room, CallerScript.from_yaml(CALLER), board=self.board,
                                kind=ParticipantKind.CALLER)
        self.playing = asyncio.ensure_future(caller.run())
        store = MemoryCheckpointStore()
        lease = await store.acquire(call_id, "w1", room_name=room.name,
                                    agent_name="callcenter", ttl_s=30)
        assert lease is not None
        ctx = JobContext(job=JobInfo("j-" + call_id, room.name, call_id, "callcenter"),
                         room=room, worker_id="w1", lease=lease, resume=None, store=store)
        task = asyncio.ensure_future(handler.run_call(ctx, NoSupervisors(), tap))
        return task, ctx, caller

    async def finish(self, task: asyncio.Task[None]) -> BaseException | None:
        try:
            await asyncio.wait_for(task, 60)
        except asyncio.CancelledError as exc:
            return exc
        except Exception as exc:
            return exc
        finally:
            self.playing.cancel()
        return None


@pytest.fixture(params=["sqlite", "postgresql"])
def rig(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    if request.param == "postgresql":
        engine: Engine = request.getfixturevalue("pg_engine")
        monkeypatch.setenv("DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
        get_settings.cache_clear()
    else:
        migrate.upgrade(get_settings().effective_database_url)
    with session_scope() as s:
        store = FlowStore(s)
        store.publish_text(FLOW)
        store.map_number(NUMBER, "two_questions")
    rig = Rig(SpeechBoard())
    monkeypatch.setattr(handler, "process_speech", rig.speech)
    yield rig
    from callcenter.postcall.inprocess import stop_embedded

    stop_embedded()


def _row(call_id: str) -> Call:
    with session_scope() as s:
        call = s.get(Call, call_id)
        assert call is not None, f"no row for {call_id}"
        s.expunge(call)
        return call


async def _wait_for_row(call_id: str, status: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as s:
            call = s.get(Call, call_id)
            if call is not None and call.status == status:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{call_id} never became {status}")


async def _postcall_record(call_id: str, timeout: float = 90.0) -> Call:
    """The post-call record of the call, from the embedded worker (a loaded host is slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as s:
            if s.get(CallTranscript, call_id) is not None:
                call = s.get(Call, call_id)
                if call is not None and call.processed_at is not None:
                    s.expunge(call)
                    return call
        await asyncio.sleep(0.2)
    raise AssertionError(f"no post-call record for {call_id} within {timeout:g} s")


async def _assert_failed_with_record(call_id: str, reason_part: str) -> Call:
    row = _row(call_id)
    assert row.status == CallStatus.FAILED, (row.status, row.end_reason)
    assert reason_part in row.end_reason, row.end_reason
    assert row.ended_at is not None
    record = await _postcall_record(call_id)
    assert record.disposition == "failed"
    return record


class _DeafStream(STTStream):
    """Wraps a working stream; from the second utterance on, the engine crashes."""

    def __init__(self, inner: STTStream, stt: CrashingSTT) -> None:
        self.inner, self.stt = inner, stt

    def push_frame(self, frame: Any) -> None:
        if self.stt.utterances >= 1:
            raise RuntimeError("speech engine crashed (segfault in the decoder)")
        self.inner.push_frame(frame)

    def end_of_speech(self) -> None:
        self.stt.utterances += 1
        self.inner.end_of_speech()

    def expect(self, expectation: Any) -> None:
        self.inner.expect(expectation)

    def __aiter__(self) -> Any:
        return self.inner.__aiter__()

    async def aclose(self) -> None:
        await self.inner.aclose()


class CrashingSTT(FakeSTT):
    utterances = 0

    def stream(self, **kw: Any) -> Any:
        return _DeafStream(super().stream(**kw), self)


async def test_recognizer_crash_mid_call_fails_the_call_with_an_apology(rig: Rig) -> None:
    rig.stt = CrashingSTT(rig.board, clock=RealClock())
    task, _ctx, caller = await rig.start("c-deaf")
    err = await rig.finish(task)
    assert isinstance(err, RuntimeError), err
    record = await _assert_failed_with_record("c-deaf", "RuntimeError: speech engine crashed")
    assert record.metrics["path"][:2] == ["ask_name", "ask_city"]
    # The caller was told, instead of talking to a deaf agent until they gave up.
    with session_scope() as s:
        said = s.exec(select(Utterance.text).where(Utterance.call_id == "c-deaf",
                                                   Utterance.speaker_role == "agent")).all()
    assert said[-1] == APOLOGY_LINE, said
    assert caller.report.agent, "the caller heard the agent"


class _FailingEvents:
    """The call's record store breaks mid-call (the database went away for its writes)."""

    def __init__(self, inner: CallRecorder, after: int) -> None:
        self.inner, self.after = inner, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def event(self, seq: int, type_: str, offset_ms: int, data: dict[str, Any]) -> None:
        self.after -= 1
        if self.after < 0:
            raise RuntimeError("event store refused the write")
        await self.inner.event(seq, type_, offset_ms, data)


async def test_exception_in_the_session_mid_flow_fails_the_call(rig: Rig) -> None:
    task, _ctx, _caller = await rig.start(
        "c-crash", tap=lambda recorder, _id: _FailingEvents(recorder, after=3))
    err = await rig.finish(task)
    assert isinstance(err, RuntimeError)
    await _assert_failed_with_record("c-crash", "event store refused the write")


async def test_the_server_ending_the_job_ends_the_call(rig: Rig) -> None:
    task, ctx, _caller = await rig.start("c-gone")
    await _wait_for_row("c-gone", CallStatus.ACTIVE)
    await asyncio.sleep(0.5)  # mid-flow
    ctx.terminated = True  # what WorkerRunner.terminate does before cancelling the job
    task.cancel()
    assert isinstance(await rig.finish(task), asyncio.CancelledError)
    await _assert_failed_with_record("c-gone", "terminated")


async def test_a_hand_over_cancellation_leaves_the_call_to_its_next_worker(rig: Rig) -> None:
    task, _ctx, _caller = await rig.start("c-moved")
    await _wait_for_row("c-moved", CallStatus.ACTIVE)
    task.cancel()  # drain timeout or lease lost: resumed elsewhere from its checkpoint
    assert isinstance(await rig.finish(task), asyncio.CancelledError)
    row = _row("c-moved")
    assert row.status == CallStatus.ACTIVE and row.ended_at is None
    with session_scope() as s:
        assert s.get(PostcallJob, "c-moved") is None  # not over: no post-call yet


async def test_failure_before_the_session_starts_fails_the_call(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Speech:
        raise RuntimeError("model file missing: reinstall callcenter[local]")

    monkeypatch.setattr(handler, "process_speech", broken)
    task, _ctx, _caller = await rig.start("c-early")
    err = await rig.finish(task)
    assert isinstance(err, RuntimeError)
    row = _row("c-early")
    assert row.dialed_number == NUMBER  # the row is created with what was known
    await _assert_failed_with_record("c-early", "model file missing")


async def test_unknown_number_gets_a_postcall_record(rig: Rig) -> None:
    room = LocalRoom("call-c-unknown", clock=RealClock())
    caller = ScriptedCaller(room, CallerScript.from_yaml(
        "attributes: {sip.trunkPhoneNumber: '+19990000000'}\nturns:\n  - wait: agent_done\n"),
        board=rig.board)
    playing = asyncio.ensure_future(caller.run())
    store = MemoryCheckpointStore()
    lease = await store.acquire("c-unknown", "w1", room_name=room.name,
                                agent_name="callcenter", ttl_s=30)
    assert lease is not None
    ctx = JobContext(job=JobInfo("j", room.name, "c-unknown", "callcenter"), room=room,
                     worker_id="w1", lease=lease, resume=None, store=store)
    await asyncio.wait_for(handler.run_call(ctx, NoSupervisors()), 30)
    await playing
    await _assert_failed_with_record("c-unknown", "unknown_number")


async def test_the_room_going_away_under_the_caller_fails_the_call(
    rig: Rig,
) -> None:
    task, ctx, _caller = await rig.start("c-closed")
    await _wait_for_row("c-closed", CallStatus.ACTIVE)
    await asyncio.sleep(0.5)  # mid-flow
    assert isinstance(ctx.room, LocalRoom)
    ctx.room.close("the media server closed the room")
    await rig.finish(task)
    row = _row("c-closed")
    assert row.status == CallStatus.FAILED and row.ended_at is not None
    assert row.end_reason == "room_closed: the media server closed the room"
    record = await _postcall_record("c-closed")
    assert record.disposition == "failed"


async def test_a_caller_hanging_up_is_still_an_ended_call(rig: Rig) -> None:
    task, ctx, caller = await rig.start("c-bye")
    await _wait_for_row("c-bye", CallStatus.ACTIVE)
    await asyncio.sleep(0.5)
    caller.participant.leave()  # the caller hangs up; the room then closes behind them
    assert isinstance(ctx.room, LocalRoom)
    ctx.room.close("empty")
    await rig.finish(task)
    row = _row("c-bye")
    assert (row.status, row.end_reason) == (CallStatus.ENDED, "caller_hangup")
    await _postcall_record("c-bye")
