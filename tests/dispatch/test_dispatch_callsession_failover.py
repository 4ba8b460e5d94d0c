"""The real call handler survives its runner dying: resumed from Redis on another runner.

Two runners share a Redis checkpoint store under the local dispatcher (the embedded
default's dispatcher, same runner/watchdog code as LiveKit workers). The first runner is
dropped without a drain mid-call; the watchdog re-dispatches; the second runner's
CallSession resumes from the checkpoint: one recovery line, no question asked twice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from callcenter import migrate
from callcenter.callsession import handler
from callcenter.callsession.effects import IntentService
from callcenter.callsession.providers import Speech
from callcenter.callsession.session import RECOVERY_LINE
from callcenter.config import get_settings
from callcenter.db import session_scope
from callcenter.dispatch.admission import Admission
from callcenter.dispatch.local import LocalDispatcher
from callcenter.dispatch.redis_store import RedisCheckpointStore
from callcenter.dispatch.runner import CallRunner, RunnerTiming
from callcenter.flowstore import FlowStore
from callcenter.models import Call, Utterance
from callcenter.rooms.clock import RealClock
from callcenter.rooms.local import LocalRoom
from callcenter.testing.caller import ScriptedCaller
from callcenter.testing.fakes import FakeSTT, FakeTTS, SpeechBoard
from callcenter.testing.script import CallerScript

FLOWS = Path(__file__).resolve().parents[2] / "flows"
NUMBER = "+15550002000"
FAST = RunnerTiming(heartbeat_s=0.05, lease_ttl_s=0.3, worker_ttl_s=1.0)


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpeechBoard]:
    migrate.upgrade(get_settings().effective_database_url)
    with session_scope() as s:
        store = FlowStore(s)
        store.publish_text((FLOWS / "appointment_booking.yaml").read_text())
        store.map_number(NUMBER, "appointment_booking")
    board = SpeechBoard()
    clock = RealClock()
    speech = Speech(stt=FakeSTT(board, clock=clock), tts=FakeTTS(clock=clock), llm=None,
                    intents=IntentService(prefer_minilm=False))
    monkeypatch.setattr(handler, "process_speech", lambda: speech)
    monkeypatch.setattr(handler, "_enqueue_postcall", lambda call_id: None)
    yield board


@pytest.fixture
async def dispatcher(redis11_url: str, redis_prefix: str) -> AsyncIterator[LocalDispatcher]:
    store = RedisCheckpointStore.from_url(redis11_url, prefix=redis_prefix,
                                          lease_ttl_s=FAST.lease_ttl_s)
    d = LocalDispatcher(store, watchdog_interval_s=0.05)
    yield d
    await d.aclose()
    await store.aclose()


def _runner(d: LocalDispatcher, max_calls: int = 4) -> CallRunner:
    cores = float(os.cpu_count() or 1)
    r = CallRunner(handler=handler.handle_call, store=d.store, timing=FAST,
                   admission=Admission(max_calls=max_calls, cpu_threshold=cores))
    d.add_runner(r)
    return r


async def test_call_session_resumes_on_another_runner_after_its_runner_dies(
    board: SpeechBoard, dispatcher: LocalDispatcher
) -> None:
    a = _runner(dispatcher)
    room = LocalRoom("call-failover")
    caller = ScriptedCaller(room, CallerScript.from_yaml(f"""
        voice: espeak
        attributes: {{sip.trunkPhoneNumber: '{NUMBER}', sip.phoneNumber: '+15551112222'}}
        turns:
          - wait: agent_done
          - say: "Jane Doe"
          - wait: agent_done
          - say: "next Tuesday"
          - wait: agent_done
          - say: "I want to talk to a person"
          - wait: agent_done
          - hangup: true
        """), board=board)
    playing = asyncio.ensure_future(caller.run())
    await dispatcher.dispatch(room)
    b = _runner(dispatcher)

    # Kill runner A (no drain) once the name is in the checkpoint.
    for _ in range(3000):
        ck = await dispatcher.store.load(room.name)
        if ck is not None and ck.data["state"]["slots"].get("patient_name"):
            break
        await asyncio.sleep(0.01)
    assert ck is not None and ck.data["state"]["slots"]["patient_name"] == "Jane Doe"
    a.admission.max_calls = 0
    await dispatcher.remove_runner(a, drain_timeout_s=None)

    await asyncio.wait_for(playing, 60)
    for _ in range(500):
        final = await dispatcher.store.load(room.name)
        if final is not None and final.worker_id == b.worker_id and \
                final.data["state"]["status"] == "ended":
            break
        await asyncio.sleep(0.02)
    assert final is not None and final.worker_id == b.worker_id
    assert dispatcher.watchdog.redispatched == [room.name]
    state = final.data["state"]
    assert state["slots"]["patient_name"] == "Jane Doe"
    assert state["slots"]["appointment_date"]
    assert "front_desk" in state["path"]

    with session_scope() as s:
        agent = [u.text for u in s.exec(select(Utterance).where(
            Utterance.call_id == room.name).order_by(Utterance.start_ms)).all()
            if u.speaker_role == "agent"]
        call = s.get(Call, room.name)
    assert agent.count(RECOVERY_LINE) == 1, agent
    assert sum("full name" in t for t in agent) == 1, agent
    assert call is not None and call.worker_id == b.worker_id
