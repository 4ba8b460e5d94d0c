"""`callcenter livekit setup` against the fake Twirp server, through the real SDK."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from livekit import api
from typer.testing import CliRunner

from callcenter.cli import app
from callcenter.livekit_setup import ensure_sip_setup
from callcenter.testing.livekit import FakeLiveKitServer


@pytest.fixture
async def lk() -> AsyncIterator[tuple[FakeLiveKitServer, api.LiveKitAPI]]:
    async with FakeLiveKitServer() as server:
        lkapi = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        yield server, lkapi
        await lkapi.aclose()


async def test_setup_creates_trunk_and_rule_then_changes_nothing(
    lk: tuple[FakeLiveKitServer, api.LiveKitAPI],
) -> None:
    server, lkapi = lk
    first = await ensure_sip_setup(lkapi, ["+18005550100"], agent_name="callcenter")
    assert [c.action for c in first] == ["created", "created"]
    (trunk,) = server.twirp.state.inbound_trunks.values()
    (rule,) = server.twirp.state.dispatch_rules.values()
    assert list(trunk.numbers) == ["+18005550100"]
    assert rule.rule.dispatch_rule_individual.room_prefix == "call-"
    assert [a.agent_name for a in rule.room_config.agents] == ["callcenter"]
    assert list(rule.trunk_ids) == [trunk.sip_trunk_id]
    again = await ensure_sip_setup(lkapi, ["+18005550100"], agent_name="callcenter")
    assert [c.action for c in again] == ["unchanged", "unchanged"]
    assert len(server.twirp.calls_to("CreateSIPInboundTrunk")) == 1
    assert server.twirp.calls_to("UpdateSIPInboundTrunk") == []


async def test_setup_updates_numbers_and_agent_in_place(
    lk: tuple[FakeLiveKitServer, api.LiveKitAPI],
) -> None:
    server, lkapi = lk
    await ensure_sip_setup(lkapi, ["+18005550100"], agent_name="callcenter")
    changes = await ensure_sip_setup(
        lkapi, ["+18005550100", "+18005550111"], agent_name="support-agent"
    )
    assert [c.action for c in changes] == ["updated", "updated"]
    assert "+18005550111" in changes[0].detail
    assert "support-agent" in changes[1].detail
    (trunk,) = server.twirp.state.inbound_trunks.values()
    assert sorted(trunk.numbers) == ["+18005550100", "+18005550111"]
    (rule,) = server.twirp.state.dispatch_rules.values()
    assert [a.agent_name for a in rule.room_config.agents] == ["support-agent"]


async def test_setup_rejects_numbers_that_are_not_e164(
    lk: tuple[FakeLiveKitServer, api.LiveKitAPI],
) -> None:
    server, lkapi = lk
    with pytest.raises(ValueError, match=r"not E\.164 phone numbers: 555-0100"):
        await ensure_sip_setup(lkapi, ["555-0100"], agent_name="callcenter")
    assert server.twirp.calls == []


async def test_fake_server_rejects_a_wrong_secret_like_livekit() -> None:
    wrong = "not-the-secret-0123456789abcdefghij"
    async with FakeLiveKitServer() as server:
        bad = api.LiveKitAPI(server.url, server.api_key, wrong)
        with pytest.raises(api.ServerError) as err:
            await bad.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
        await bad.aclose()
    assert err.value.status == 401 and err.value.code == "unauthenticated"


@pytest.fixture
def threaded_server() -> Iterator[FakeLiveKitServer]:
    """The fake in its own thread: the CLI runs its own event loop."""
    server = FakeLiveKitServer()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_cli_setup_prints_what_changed_and_is_idempotent(
    threaded_server: FakeLiveKitServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter.config import get_settings

    monkeypatch.setenv("LIVEKIT_URL", threaded_server.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", threaded_server.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", threaded_server.api_secret)
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["livekit", "setup", "-n", "+18005550100"])
    assert first.exit_code == 0, first.output
    assert "created inbound trunk ST_" in first.output
    assert "created dispatch rule SDR_" in first.output
    second = runner.invoke(app, ["livekit", "setup", "-n", "+18005550100"])
    assert second.exit_code == 0
    assert second.output.count("unchanged") == 2
    bad = runner.invoke(app, ["livekit", "setup", "-n", "12345"])
    assert bad.exit_code != 0 and "E.164" in bad.output
