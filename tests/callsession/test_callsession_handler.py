"""The worker's call handler: number -> published flow, the call recorded, post-call done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from callcenter import migrate
from callcenter.callsession import handler
from callcenter.callsession.effects import IntentService
from callcenter.callsession.providers import Speech
from callcenter.config import get_settings
from callcenter.db import get_engine, session_scope
from callcenter.dispatch.job import JobContext, JobInfo
from callcenter.dispatch.memory_store import MemoryCheckpointStore
from callcenter.flowstore import FlowStore
from callcenter.models import Call, CallTranscript, Utterance
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SUPPORT = "+15550001000"


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpeechBoard]:
    """Fake speech for the worker process (real time: the handler uses the real clock)."""
    migrate.upgrade(get_settings().effective_database_url)
    board = SpeechBoard()
    clock = RealClock()
    speech = Speech(stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), llm=None,
                    intents=IntentService(prefer_minilm=False))
    monkeypatch.setattr(handler, "process_speech", lambda: speech)
    yield board
    from callcenter.postcall.inprocess import stop_embedded

    stop_embedded()


async def _run(room: LocalRoom, call_id: str) -> None:
    store = MemoryCheckpointStore()
    lease = await store.acquire(call_id, "w1", room_name=room.name, agent_name="callcenter",
                                ttl_s=30)
    assert lease is not None
    ctx = JobContext(job=JobInfo("j1", room.name, call_id, "callcenter"), room=room,
                     worker_id="w1", lease=lease, resume=None, store=store)
    await handler.handle_call(ctx)


async def test_unknown_number_hears_not_in_service_and_is_recorded(board: SpeechBoard) -> None:
    room = LocalRoom("call-unknown", clock=RealClock())
    caller = ScriptedCaller(room, CallerScript.from_yaml(
        "attributes: {sip.trunkPhoneNumber: '+19999999999'}\nturns:\n  - wait: agent_done\n"
    ), board=board)
    playing = asyncio.ensure_future(caller.run())
    await asyncio.wait_for(_run(room, "c-unknown"), 30)
    await playing
    assert caller.report.agent, "the caller heard the not-in-service notice"
    with session_scope() as s:
        call = s.get(Call, "c-unknown")
        assert call is not None and call.status == "failed" and call.end_reason == "unknown_number"
        assert call.dialed_number == "+19999999999"


async def test_mapped_number_runs_its_published_flow_and_postcall_stores_the_record(
    board: SpeechBoard,
) -> None:
    with session_scope() as s:
        store = FlowStore(s)
        store.publish_text((FLOWS / "customer_support.yaml").read_text())
        store.map_number(SUPPORT, "customer_support")
    room = LocalRoom("call-support", clock=RealClock())
    caller = ScriptedCaller(room, CallerScript.from_yaml(f"""
        attributes: {{sip.trunkPhoneNumber: '{SUPPORT}', sip.phoneNumber: '+15557654321'}}
        turns:
          - wait: agent_done
          - dtmf: "0"
          - wait: 8
          - hangup: true
        """), board=board, kind=ParticipantKind.CALLER)
    playing = asyncio.ensure_future(caller.run())
    await asyncio.wait_for(_run(room, "c-support"), 60)
    await playing
    with session_scope() as s:
        call = s.get(Call, "c-support")
        assert call is not None
        assert (call.caller_number, call.dialed_number) == ("+15557654321", SUPPORT)
        assert call.flow_version_id is not None and call.status in ("ended", "escalated")
        assert s.exec(select(Utterance).where(Utterance.call_id == "c-support")).all()
    # Post-call processing runs on the embedded Celery worker: wait for its record.
    deadline = time.monotonic() + 90  # a loaded CI host: the embedded worker loads models
    while time.monotonic() < deadline:
        with session_scope() as s:
            if s.get(CallTranscript, "c-support") is not None:
                call = s.get(Call, "c-support")
                assert call is not None and call.processed_at is not None
                assert call.disposition is not None
                return
        await asyncio.sleep(0.2)
    raise AssertionError("post-call record not stored within 90 s")


def test_engine_is_the_settings_database() -> None:
    assert str(get_engine().url).endswith("callcenter.db")


async def test_a_flows_intent_phrases_are_embedded_once_per_process_on_its_first_call() -> None:
    from callcenter import models
    from callcenter.flow.validate import load_flow
    from callcenter.flowstore import PublishedFlow

    warmed: list[str] = []

    class Recording(IntentService):
        def warm_flow(self, flow):  # type: ignore[no-untyped-def]
            warmed.append(flow.name)

    speech = Speech(stt=None, tts=None, llm=None, intents=Recording())  # type: ignore[arg-type]
    flow = load_flow((FLOWS / "customer_support.yaml").read_text())
    first = PublishedFlow(flow, models.FlowVersion(id=987_001, flow_id=1, version=1, yaml_text=""))
    again = PublishedFlow(flow, models.FlowVersion(id=987_001, flow_id=1, version=1, yaml_text=""))
    newer = PublishedFlow(flow, models.FlowVersion(id=987_002, flow_id=1, version=2, yaml_text=""))
    for published in (first, again, newer):
        await handler._warm_intents(speech, published)
    assert warmed == [flow.name, flow.name]  # versions 1 and 2, each once
