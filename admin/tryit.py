"""What the try-it and scenario routes share: the app's session registry, the flow version
asked for, and where webhooks go (callcenter/scenarios/webhooks.py: canned answers from the
flow's scenario folder, or a refusal; try-it never sends a request off the server).
"""

from __future__ import annotations

import asyncio
import threading

import httpx
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from callcenter.callsession.effects import IntentService
from callcenter.config import LLMProvider, Settings
from callcenter.flow.schema import Flow
from callcenter.flow.validate import load_flow
from callcenter.flowstore import FlowStore, FlowStoreError
from callcenter.models import FlowVersion
from callcenter.scenarios.files import count_scenarios, load_scenarios, scenarios_dir
from callcenter.scenarios.suite import SuiteReport, run_suite
from callcenter.scenarios.tryit import TryItError, TryItSessions
from callcenter.scenarios.webhooks import canned_transport
from callcenter.speech import LLM


def _llm(settings: Settings) -> LLM | None:
    """As `callcenter chat`: OpenAI when configured with a key; else agent nodes use intents."""
    if settings.llm_provider != LLMProvider.OPENAI:
        return None
    from callcenter.speech.factory import openai_llm

    return openai_llm(settings)


def sessions(app: FastAPI) -> TryItSessions:
    """The app's try-it registry, made on first use (tests may set `app.state.tryit`)."""
    registry = getattr(app.state, "tryit", None)
    if registry is None:
        settings: Settings = app.state.settings
        registry = TryItSessions(intents=IntentService(prefer_minilm=True), llm=_llm(settings))
        app.state.tryit = registry
    assert isinstance(registry, TryItSessions)
    return registry


def flow_version(db: Session, name: str, version: int | None) -> tuple[Flow, FlowVersion]:
    """The flow at `version` (default: the newest); FlowStoreError if there is none."""
    store = FlowStore(db)
    row = store.version(name, version) if version is not None else store.latest_version(name)
    if row is None:
        raise FlowStoreError(f"no flow named {name!r}")
    return load_flow(row.yaml_text, name), row  # stored versions were validated when saved


def transport(settings: Settings, flow_name: str) -> httpx.AsyncBaseTransport:
    return canned_transport(scenarios_dir(settings), flow_name)


def scenario_count(settings: Settings, flow_name: str) -> int:
    return count_scenarios(scenarios_dir(settings), flow_name)


# Scenario runs are CPU work (intent embeddings) on the web server: a few at a time.
MAX_RUNS = 2
_runs = threading.BoundedSemaphore(MAX_RUNS)


async def run_scenarios(app: FastAPI, flow: Flow) -> SuiteReport:
    """Every scenario of `flow`, played on a loop of its own in a worker thread; TryItError
    (429) while MAX_RUNS other runs are going."""
    settings: Settings = app.state.settings
    files = load_scenarios(scenarios_dir(settings), flow.name)
    registry = sessions(app)
    if not _runs.acquire(blocking=False):
        raise TryItError(429, f"{MAX_RUNS} scenario runs are going already; try again when "
                         "they have finished")

    def play() -> SuiteReport:
        try:
            return asyncio.run(run_suite(flow, files, transport=lambda: transport(
                settings, flow.name), intents=registry.intents, llm=registry.llm))
        finally:
            _runs.release()

    return await run_in_threadpool(play)
