"""`callcenter providers check` against the fake servers (and a closed port)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.cli.providers import CheckStatus, check_providers
from callcenter.config import Settings, get_settings
from callcenter.testing.cloud import FakeDeepgram, FakeElevenLabs, FakeOpenAI

OA, DG, EL = (FakeOpenAI().api_key, FakeDeepgram().api_key, FakeElevenLabs().api_key)


async def test_each_provider_gets_a_clear_verdict() -> None:
    async with FakeOpenAI() as o, FakeDeepgram() as d, FakeElevenLabs() as e:
        good = Settings(openai_api_key=SecretStr(OA), openai_base_url=o.url,
                        deepgram_api_key=SecretStr(DG), deepgram_base_url=d.http_url,
                        elevenlabs_api_key=SecretStr(EL), elevenlabs_base_url=e.http_url,
                        elevenlabs_voice_id="voice-a")
        assert [r.status for r in await check_providers(good)] == [CheckStatus.OK] * 3
        bad = good.model_copy(update={
            "openai_api_key": SecretStr("sk-nope-0123456789abcdef"),
            "deepgram_base_url": "http://127.0.0.1:9",
            "elevenlabs_voice_id": "no-such-voice"})
        oa, dg, el = await check_providers(bad, timeout=2)
    assert oa.status is CheckStatus.BAD_KEY and "OPENAI_API_KEY" in oa.detail
    assert "sk-nope" not in oa.detail
    assert dg.status is CheckStatus.UNREACHABLE
    assert el.status is CheckStatus.FAILED and "ELEVENLABS_VOICE_ID" in el.detail


@pytest.fixture
def servers_in_thread() -> Iterator[tuple[FakeOpenAI, FakeDeepgram, FakeElevenLabs]]:
    """The CLI runs its own event loop, so the fakes live on another thread's loop."""
    loop = asyncio.new_event_loop()
    fakes = (FakeOpenAI(), FakeDeepgram(), FakeElevenLabs())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    for f in fakes:
        asyncio.run_coroutine_threadsafe(f.start(), loop).result(5)
    yield fakes
    for f in fakes:
        asyncio.run_coroutine_threadsafe(f.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_cli_prints_one_line_per_provider_and_fails_on_a_bad_key(
    servers_in_thread: tuple[FakeOpenAI, FakeDeepgram, FakeElevenLabs],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    o, d, e = servers_in_thread
    env = {"OPENAI_API_KEY": OA, "OPENAI_BASE_URL": o.url,
           "DEEPGRAM_API_KEY": "dg-typo-secret-0123456789", "DEEPGRAM_BASE_URL": d.http_url,
           "ELEVENLABS_API_KEY": EL, "ELEVENLABS_BASE_URL": e.http_url,
           "ELEVENLABS_VOICE_ID": "voice-b"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["providers", "check", "--timeout", "5"])
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert lines[0].startswith("openai") and " OK " in lines[0]
    assert lines[1].startswith("deepgram") and "BAD KEY DEEPGRAM_API_KEY" in lines[1]
    assert lines[2].startswith("elevenlabs") and " OK " in lines[2]
    assert "dg-typo-secret" not in result.output and OA not in result.output
