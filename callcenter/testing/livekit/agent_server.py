"""A fake LiveKit `/agent` endpoint: the server side of the agent-dispatch protocol.

It speaks `livekit.protocol.agent` protobuf frames over a websocket exactly as a LiveKit server
does: checks the worker's JWT (agent grant), takes `register`, answers with a worker id, offers
jobs with `availability`, sends `assignment` with a room token, records `update_job` /
`update_worker`, answers `ping` with `pong` and can send `termination` or drop the connection.
Self-hosted LiveKit never re-dispatches a lost worker's jobs, and neither does this fake.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from livekit import api
from livekit.protocol import agent, models

REGISTER_TIMEOUT_S = 10.0
AVAILABILITY_TIMEOUT_S = 10.0


@dataclass
class FakeJob:
    """A job the fake offered, and what the worker told us about it."""

    job: agent.Job
    worker_id: str = ""
    participant_identity: str = ""
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def status(self) -> int | None:
        return self.statuses[-1] if self.statuses else None


@dataclass
class ConnectedWorker:
    """One registered worker connection."""

    id: str
    agent_name: str
    version: str
    ws: web.WebSocketResponse
    status: int = agent.WS_AVAILABLE
    load: float = 0.0
    job_count: int = 0
    draining: bool = False
    status_updates: int = 0
    pings: int = 0
    pending: dict[str, asyncio.Future[agent.AvailabilityResponse]] = field(default_factory=dict)

    @property
    def accepting(self) -> bool:
        return self.status == agent.WS_AVAILABLE and not self.draining and not self.ws.closed


class FakeAgentDispatcher:
    """The `/agent` half of the fake LiveKit server."""

    def __init__(self, api_key: str, api_secret: str, *, room_url: str = "") -> None:
        self._api_key, self._api_secret = api_key, api_secret
        self._verifier = api.TokenVerifier(api_key, api_secret)
        self.room_url = room_url
        self.workers: dict[str, ConnectedWorker] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.registrations = 0
        self.rejected_connections = 0
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/agent", self._serve)

    # --- driving the fake from a test -------------------------------------------------

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> None:
        """Wait until `predicate()` is true (re-checked after every protocol message)."""
        assert callable(predicate)
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def dispatch(
        self, room_name: str, *, agent_name: str = "", metadata: str = "", dispatch_id: str = ""
    ) -> FakeJob | None:
        """Offer a job for `room_name` to accepting workers, least loaded first.

        Returns the assigned job, or None when every worker declined or none is accepting.
        """
        job = agent.Job(
            id=f"AJ_{next(self._ids):06d}",
            dispatch_id=dispatch_id,
            type=agent.JT_ROOM,
            room=models.Room(name=room_name, sid=f"RM_{room_name}"),
            metadata=metadata,
            agent_name=agent_name,
        )
        candidates = sorted(
            (w for w in self.workers.values() if w.accepting and w.agent_name == agent_name),
            key=lambda w: w.load,
        )
        for worker in candidates:
            answer = await self._offer(worker, job)
            if answer is None or not answer.available:
                continue
            fake = FakeJob(job, worker.id, answer.participant_identity)
            self.jobs[job.id] = fake
            token = (
                api.AccessToken(self._api_key, self._api_secret)
                .with_identity(answer.participant_identity or f"agent-{job.id}")
                .with_kind("agent")
                .with_grants(api.VideoGrants(room_join=True, room=room_name, agent=True))
                .to_jwt()
            )
            assignment = agent.JobAssignment(job=job, token=token)
            if self.room_url:
                assignment.url = self.room_url
            out = agent.ServerMessage(assignment=assignment)
            await worker.ws.send_bytes(out.SerializeToString())
            return fake
        return None

    async def terminate(self, job_id: str) -> None:
        fake = self.jobs[job_id]
        worker = self.workers[fake.worker_id]
        msg = agent.ServerMessage(termination=agent.JobTermination(job_id=job_id))
        await worker.ws.send_bytes(msg.SerializeToString())

    async def drop(self, worker_id: str) -> None:
        """Close a worker's connection from the server side (a network blip or restart)."""
        await self.workers[worker_id].ws.close()

    # --- the protocol ------------------------------------------------------------------

    async def _offer(
        self, worker: ConnectedWorker, job: agent.Job
    ) -> agent.AvailabilityResponse | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[agent.AvailabilityResponse] = loop.create_future()
        worker.pending[job.id] = fut
        req = agent.AvailabilityRequest(job=job)
        try:
            await worker.ws.send_bytes(agent.ServerMessage(availability=req).SerializeToString())
            return await asyncio.wait_for(fut, AVAILABILITY_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            return None
        finally:
            worker.pending.pop(job.id, None)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        try:
            claims = self._verifier.verify(auth.removeprefix("Bearer "))
            if not (claims.video and claims.video.agent):
                raise PermissionError("token has no agent grant")
        except Exception as exc:  # any JWT problem: refuse the upgrade like the server does
            self.rejected_connections += 1
            raise web.HTTPUnauthorized(text=f"invalid agent token: {exc}") from None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            first = await asyncio.wait_for(ws.receive(), REGISTER_TIMEOUT_S)
        except TimeoutError:
            await ws.close()
            return ws
        if first.type != WSMsgType.BINARY:
            await ws.close()
            return ws
        msg = agent.WorkerMessage.FromString(first.data)
        if msg.WhichOneof("message") != "register":
            await ws.close()
            return ws
        worker = ConnectedWorker(
            id=f"AW_{next(self._ids):06d}",
            agent_name=msg.register.agent_name,
            version=msg.register.version,
            ws=ws,
        )
        resp = agent.RegisterWorkerResponse(worker_id=worker.id)
        resp.server_info.version = "fake"
        await ws.send_bytes(agent.ServerMessage(register=resp).SerializeToString())
        self.workers[worker.id] = worker
        self.registrations += 1
        await self._notify()
        try:
            async for frame in ws:
                if frame.type == WSMsgType.BINARY:
                    await self._on_message(worker, agent.WorkerMessage.FromString(frame.data))
        finally:
            self.workers.pop(worker.id, None)
            await self._notify()
        return ws

    async def _on_message(self, worker: ConnectedWorker, msg: agent.WorkerMessage) -> None:
        kind = msg.WhichOneof("message")
        if kind == "availability":
            fut = worker.pending.get(msg.availability.job_id)
            if fut is not None and not fut.done():
                fut.set_result(msg.availability)
        elif kind == "update_job":
            fake = self.jobs.get(msg.update_job.job_id)
            if fake is not None:
                fake.statuses.append(msg.update_job.status)
                if msg.update_job.error:
                    fake.errors.append(msg.update_job.error)
        elif kind == "update_worker":
            u = msg.update_worker
            if u.HasField("status"):
                worker.status = u.status
            worker.load, worker.job_count, worker.draining = u.load, u.job_count, u.draining
            worker.status_updates += 1
        elif kind == "ping":
            worker.pings += 1
            pong = agent.WorkerPong(
                last_timestamp=msg.ping.timestamp, timestamp=int(time.time() * 1000)
            )
            await worker.ws.send_bytes(agent.ServerMessage(pong=pong).SerializeToString())
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
