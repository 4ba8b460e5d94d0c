"""The worker warms its TTS cache with the published flows' static prompts."""

from __future__ import annotations

from pathlib import Path

from callcenter import migrate
from callcenter.callsession.static_prompts import admit_flow, static_prompts, warm_published
from callcenter.config import get_settings
from callcenter.db import session_scope
from callcenter.flow.validate import load_flow_file
from callcenter.flowstore import FlowStore
from callcenter.speech.tts.cache import CachingTTS
from callcenter.testing.fakes import FakeTTS

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_published_flows_are_admitted_at_once_and_warmed_in_the_background() -> None:
    migrate.upgrade(get_settings().effective_database_url)
    with session_scope() as s:
        FlowStore(s).publish_text((FLOWS / "customer_support.yaml").read_text())
    texts = static_prompts(load_flow_file(FLOWS / "customer_support.yaml"))
    assert texts and not [t for t in texts if "{{" in t]
    tts = CachingTTS(FakeTTS())
    thread = warm_published(tts)
    assert thread is not None
    assert all(tts.is_static(t) for t in texts)  # before any audio is made
    thread.join(30)
    assert len(tts.cache) == len(texts)
    # Disk under DATA_DIR is the worker's default (factory.cached_tts); not used here.
    assert tts.cache.directory is None


def test_a_flow_published_later_is_admitted_by_its_first_call() -> None:
    tts = CachingTTS(FakeTTS())
    flow = load_flow_file(FLOWS / "appointment_booking.yaml")
    admit_flow(tts, flow)
    assert all(tts.is_static(t) for t in static_prompts(flow))
