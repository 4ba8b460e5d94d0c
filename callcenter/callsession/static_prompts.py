"""A flow's static prompts, and warming the worker's TTS cache with them.

A prompt is static when it has no `{{slot}}` template: every caller hears the same words,
so its audio can be made once per process (or once per host, on disk) and replayed at once.
The text is rendered exactly as the runner renders spoken text (`render(..., spoken=True)`
turns "$5" into "5 dollars"), so the cache key matches what the call later asks for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

from callcenter.flow import templates
from callcenter.flow.nodes import (
    AgentNode,
    AskNode,
    EscalateNode,
    HangupNode,
    MenuNode,
    SayNode,
    TransferNode,
)
from callcenter.flow.schema import Flow
from callcenter.flow.turns import DEFAULT_NO_MATCH
from callcenter.speech.tts.base import TTS
from callcenter.speech.tts.cache import CachingTTS

log = logging.getLogger(__name__)


def _spoken_texts(flow: Flow) -> Iterator[str | None]:
    for node in flow.nodes.values():
        if isinstance(node, SayNode):
            yield node.text
        elif isinstance(node, AskNode):
            yield from (node.prompt, node.no_input, node.no_match, node.confirm)
        elif isinstance(node, MenuNode):
            yield from (node.prompt, node.no_input, node.no_match)
        elif isinstance(node, AgentNode):
            yield from (node.greeting, node.fallback)
            yield from (i.say for i in node.intents)
            yield from (k.a for k in node.knowledge)
        elif isinstance(node, EscalateNode):
            yield node.hold_prompt
        elif isinstance(node, TransferNode | HangupNode):
            yield node.say
    h = flow.handlers
    for handler in (h.human_request, h.silence, h.no_match, h.provider_failure,
                    h.max_duration):
        if handler is not None:
            yield handler.say
    yield DEFAULT_NO_MATCH


def static_prompts(flow: Flow) -> list[str]:
    """Every spoken text of `flow` that is the same on every call, once, in flow order."""
    out: dict[str, None] = {}
    # The flow's own variables ("Thanks for calling {{company}}") are the same on every
    # call; a webhook that changes one later only makes that text miss the cache.
    constants: dict[str, object] = {"flow_name": flow.name, **flow.variables}
    for text in _spoken_texts(flow):
        if not text:
            continue
        if any(p.name not in constants for p in templates.placeholders(text)):
            continue  # slot-filled text differs per caller: never cached
        spoken = templates.render(text, constants, spoken=True).strip()
        if spoken:
            out[spoken] = None
    return list(out)


def published_flows() -> list[Flow]:
    """Every published flow in the database (blocking: run it in a thread)."""
    from callcenter.db import session_scope
    from callcenter.flowstore import FlowStore

    flows: list[Flow] = []
    with session_scope() as s:
        store = FlowStore(s)
        for summary in store.list_flows():
            try:
                published = store.published(summary.name)
            except Exception as exc:  # one broken flow must not stop the others warming
                log.warning("tts cache: skipping flow %s: %s", summary.name, exc)
                continue
            if published is not None:
                flows.append(published.flow)
    return flows


def admit_flow(tts: TTS, flow: Flow) -> None:
    """Let a call's flow record its static prompts (one published after the worker started
    is then cached on its first call, replayed on the next)."""
    if isinstance(tts, CachingTTS):
        tts.admit(static_prompts(flow))


def warm_published(tts: TTS) -> threading.Thread | None:
    """Admit every published flow's static prompts now and synthesize them in a background
    thread (returned): model loading, not prompt warming, is what a first call waits for.

    Until a prompt is warmed, the first call that says it synthesizes and records it.
    """
    if not isinstance(tts, CachingTTS):
        return None
    try:
        flows = published_flows()
    except Exception as exc:  # no database yet, a broken row: calls still work, just slower
        log.warning("tts cache: cannot read the published flows: %s", exc)
        return None
    texts = [t for flow in flows for t in static_prompts(flow)]
    tts.admit(texts)

    def warm() -> None:
        try:
            made = asyncio.run(tts.warm(texts))
        except Exception as exc:  # best effort: the call path works without it
            log.warning("tts cache: warming the published flows failed: %s", exc)
            return
        log.info("tts cache: %d static prompts of %d flow(s), %d synthesized now",
                 len(texts), len(flows), made)

    thread = threading.Thread(target=warm, name="tts-cache-warm", daemon=True)
    thread.start()
    return thread
