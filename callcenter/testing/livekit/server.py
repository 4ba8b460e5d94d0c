"""`FakeLiveKitServer`: the fake Twirp API and the fake `/agent` endpoint on one local port."""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import web
from livekit.protocol import agent_dispatch

from callcenter.testing.livekit.agent_server import FakeAgentDispatcher
from callcenter.testing.livekit.twirp import FakeTwirpApi

DEFAULT_KEY = "devkey"
DEFAULT_SECRET = "devsecret-for-tests-only-0123456789"


class FakeLiveKitServer:
    """A local stand-in for a LiveKit server's control plane (no media).

    `CreateDispatch` through the Twirp API offers the job to connected workers, as the
    real server does, so a watchdog's re-dispatch reaches a worker end to end.
    """

    def __init__(self, api_key: str = DEFAULT_KEY, api_secret: str = DEFAULT_SECRET) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.twirp = FakeTwirpApi(api_key, api_secret)
        self.agents = FakeAgentDispatcher(api_key, api_secret)
        self.twirp.on_dispatch = self._on_dispatch
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        self.twirp.add_routes(app)
        self.agents.add_routes(app)
        # Handlers are ours and short: don't wait a minute for them on shutdown.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for worker in list(self.agents.workers.values()):
            await worker.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLiveKitServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _on_dispatch(self, d: agent_dispatch.AgentDispatch) -> None:
        task = asyncio.get_running_loop().create_task(
            self.agents.dispatch(
                d.room, agent_name=d.agent_name, metadata=d.metadata, dispatch_id=d.id
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
