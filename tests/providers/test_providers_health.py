"""Provider health: exponential backoff, Retry-After, rejected keys, background recovery."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.speech import ChatMessage, SpeechError, TranscriptKind
from callcenter.speech.errors import FailureReason, ProviderError, parse_retry_after
from callcenter.speech.health import ProviderHealth
from callcenter.speech.llm.fallback import FallbackLLM
from callcenter.speech.stt.fallback import FallbackSTT
from callcenter.speech.vendors.deepgram import DeepgramSTT
from callcenter.speech.vendors.openai import OpenAILLM
from callcenter.testing.cloud import FakeDeepgram, FakeOpenAI, Fault, FaultKind, scripted_frames


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_per_failure_and_resets_on_success() -> None:
    clock = Clock()
    h = ProviderHealth("x", base_backoff=1.0, max_backoff=5.0, clock=clock)
    waits = []
    for _ in range(4):
        h.mark_failed(ProviderError("x", "boom", reason=FailureReason.SERVER))
        waits.append(h.unhealthy_until - clock.now)
    assert waits == [1.0, 2.0, 4.0, 5.0] and not h.healthy
    clock.now += 5.0
    assert h.healthy  # no probe: half-open once the wait is over
    h.mark_ok()
    h.mark_failed(SpeechError("x", "boom"))
    assert h.unhealthy_until - clock.now == 1.0


def test_retry_after_and_rejected_keys_override_the_backoff() -> None:
    clock = Clock()
    h = ProviderHealth("x", base_backoff=0.1, max_backoff=60.0, clock=clock)
    h.mark_failed(ProviderError("x", "429", reason=FailureReason.RATE_LIMITED, retry_after=7))
    assert h.unhealthy_until - clock.now == 7 and h.rate_limited
    h.mark_failed(ProviderError("x", "401", reason=FailureReason.AUTH))
    assert h.unhealthy_until - clock.now == 60.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


async def test_llm_drop_mid_reply_raises_and_next_reply_uses_the_fallback() -> None:
    async with FakeOpenAI() as a, FakeOpenAI() as b:
        a.inject(Fault(FaultKind.DROP, after=3))
        llm = FallbackLLM([OpenAILLM(api_key=a.api_key, base_url=a.url),
                           OpenAILLM(api_key=b.api_key, base_url=b.url)], stall_timeout=0.3)
        got: list[str] = []
        with pytest.raises(ProviderError) as info:
            async for c in llm.chat([ChatMessage("user", "one two three four five")]):
                got.append(c.text)
        assert info.value.reason is FailureReason.DROPPED and "".join(got) == "You said:"
        text = "".join([c.text async for c in llm.chat([ChatMessage("user", "again")])])
        assert text == "You said: again" and llm.active == "openai#2" and a.requests == 1
        await llm.aclose()


async def test_stt_returns_to_the_recovered_primary_at_an_utterance_boundary() -> None:
    async with FakeDeepgram(script=["second from primary"]) as a, \
            FakeDeepgram(script=["first from fallback"]) as b:
        a.inject(Fault(FaultKind.DROP, after=1))
        stt = FallbackSTT([DeepgramSTT(api_key=a.api_key, base_url=a.http_url),
                           DeepgramSTT(api_key=b.api_key, base_url=b.http_url)],
                          stall_timeout=0.3, base_backoff=0.05)
        stream = stt.stream()
        for f in scripted_frames(16000, [(0.6, True), (1.5, False)]):
            stream.push_frame(f)
        texts: list[str] = []
        async for ev in stream:
            if ev.kind is TranscriptKind.END_OF_UTTERANCE:
                texts.append(ev.text)
                if len(texts) == 1:
                    await asyncio.sleep(0.2)  # the primary's probe (REST) succeeds meanwhile
                    for f in scripted_frames(16000, [(0.6, True), (1.5, False)], t0_ms=2100):
                        stream.push_frame(f)
                else:
                    break
        await stream.aclose()
        await stt.aclose()
    assert texts == ["first from fallback", "second from primary"]
    assert stream.providers_used == ["deepgram#1", "deepgram#2", "deepgram#1"]


def test_masking_hides_known_keys_and_auth_header_values_but_not_prose() -> None:
    from callcenter.speech.errors import mask_secrets

    key = "sk-proj-AbCdEf0123456789xyz"
    assert mask_secrets(f"Incorrect API key provided: {key}", [key]) == (
        "Incorrect API key provided: ***")
    assert mask_secrets("Authorization: Token 0123456789abcdef0123") == (
        "Authorization: Token ***")
    assert mask_secrets("headers={'xi-api-key': 'el-secret-0123456789'}") == (
        "headers={'xi-api-key': '***'}")
    assert mask_secrets("the token limit was reached") == "the token limit was reached"
