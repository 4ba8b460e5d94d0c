"""AgentWorker: our side of LiveKit's agent-dispatch protocol (`/agent` websocket).

Registers as a JT_ROOM worker for `agent_name`, answers availability by call slots and CPU
headroom, joins the room of each assignment and runs the call on the `CallRunner`, reports
job and worker status, pings, and reconnects with exponential backoff. Calls keep running
while the control connection is down: they live in their rooms, not on this socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlparse, urlunparse

import aiohttp
from livekit import api
from livekit.protocol import agent

from callcenter.dispatch.connect_errors import describe_connect_error
from callcenter.dispatch.job import JobInfo, RoomConnector, RoomTicket, call_id_for
from callcenter.dispatch.loops import raise_if_cancelled
from callcenter.dispatch.runner import CallRunner, JobOutcome

log = logging.getLogger(__name__)

VERSION = "callcenter-0.1"
_OUTCOME_STATUS = {
    JobOutcome.SUCCESS: agent.JS_SUCCESS,
    JobOutcome.TERMINATED: agent.JS_SUCCESS,
    JobOutcome.FAILED: agent.JS_FAILED,
    JobOutcome.LOST: agent.JS_FAILED,
    JobOutcome.RELEASED: agent.JS_FAILED,
    JobOutcome.DECLINED: agent.JS_FAILED,
    JobOutcome.ABANDONED: agent.JS_FAILED,
}


class AgentWorker:
    """One control connection to a LiveKit server for one worker process."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        api_secret: str,
        agent_name: str,
        runner: CallRunner,
        connect_room: RoomConnector,
        status_interval_s: float = 2.5,
        ping_interval_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._http_url = url
        self._agent_url = _agent_url(url)
        self._key, self._secret = api_key, api_secret
        self.agent_name = agent_name
        self.runner = runner
        self._connect_room = connect_room
        self._status_interval = status_interval_s
        self._ping_interval = ping_interval_s
        self._backoff = backoff_s
        self.server_worker_id = ""
        self.registered = asyncio.Event()
        self.connections = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._status_seq = 0
        runner.on_done = self._job_done

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff until `stop()`."""
        self.runner.start()
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while not self._stopping.is_set():
                # The session runs as a task so stop() ends it wherever it is (even mid-connect).
                session = asyncio.ensure_future(self._session(http))
                stopped = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait({session, stopped}, return_when=asyncio.FIRST_COMPLETED)
                except asyncio.CancelledError:
                    session.cancel()  # never leave the control connection behind
                    raise
                finally:
                    stopped.cancel()
                if not session.done():
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await session
                    break
                try:
                    session.result()
                    attempt = 0
                except Exception as exc:  # any failure: back off and reconnect
                    raise_if_cancelled()
                    # One line a person can act on, not aiohttp's repr of the connection key.
                    log.warning("%s; retrying", describe_connect_error(exc, self._agent_url))
                self.registered.clear()
                if self._stopping.is_set():
                    break
                low, high = self._backoff
                delay = min(high, low * 2**attempt) * random.uniform(0.8, 1.2)
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def drain(self, timeout_s: float) -> bool:
        """Tell the server we're draining, finish running calls, then disconnect."""
        self.runner.draining = True
        await self._send_status()
        ok = await self.runner.drain(timeout_s)
        await self.stop()
        return ok

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    # --- one connection ---------------------------------------------------------------------

    async def _session(self, http: aiohttp.ClientSession) -> None:
        token = (
            api.AccessToken(self._key, self._secret)
            .with_grants(api.VideoGrants(agent=True))
            .to_jwt()
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with http.ws_connect(self._agent_url, headers=headers, heartbeat=None) as ws:
            self._ws = ws
            self.connections += 1
            reg = agent.RegisterWorkerRequest(
                type=agent.JT_ROOM, agent_name=self.agent_name, version=VERSION
            )
            await self._send(agent.WorkerMessage(register=reg))
            first = await asyncio.wait_for(ws.receive(), 10.0)
            if first.type != aiohttp.WSMsgType.BINARY:
                raise ConnectionError(f"server closed the agent socket before registering: {first}")
            msg = agent.ServerMessage.FromString(first.data)
            if msg.WhichOneof("message") != "register":
                raise ConnectionError(f"expected register, got {msg.WhichOneof('message')}")
            self.server_worker_id = msg.register.worker_id
            self.registered.set()
            log.info("registered as %s (%s)", self.server_worker_id, self.runner.worker_id)
            loops = [
                asyncio.create_task(self._status_loop()),
                asyncio.create_task(self._ping_loop()),
            ]
            try:
                await self._send_status()
                async for frame in ws:
                    if frame.type == aiohttp.WSMsgType.BINARY:
                        await self._on_message(agent.ServerMessage.FromString(frame.data))
                    elif frame.type == aiohttp.WSMsgType.ERROR:
                        break
            finally:
                for task in loops:
                    task.cancel()
                self._ws = None

    async def _on_message(self, msg: agent.ServerMessage) -> None:
        kind = msg.WhichOneof("message")
        if kind == "availability":
            await self._answer_availability(msg.availability)
        elif kind == "assignment":
            self._spawn(self._assignment(msg.assignment, time.monotonic()))
        elif kind == "termination":
            if not self.runner.terminate(msg.termination.job_id):
                log.info("termination for unknown job %s", msg.termination.job_id)
        elif kind == "pong":
            pass

    async def _answer_availability(self, req: agent.AvailabilityRequest) -> None:
        job = _job_info(req.job)
        available = self.runner.accepts()
        resp = agent.AvailabilityResponse(
            job_id=req.job.id,
            available=available,
            participant_identity=job.participant_identity,
            participant_name="Agent",
            participant_attributes={"callcenter.call_id": job.call_id, "callcenter.role": "agent"},
        )
        await self._send(agent.WorkerMessage(availability=resp))

    async def _assignment(self, assignment: agent.JobAssignment, t0: float) -> None:
        job = _job_info(assignment.job)
        ticket = RoomTicket(
            url=assignment.url or self._http_url,
            token=assignment.token,
            room_name=job.room_name,
            identity=job.participant_identity,
        )
        try:
            outcome = await self.runner.start_call(job, lambda: self._connect_room(ticket), t0=t0)
        except Exception as exc:
            log.exception("call %s: could not join room %s", job.call_id, job.room_name)
            await self._update_job(job.job_id, agent.JS_FAILED, f"join failed: {exc}")
            return
        if outcome is JobOutcome.DECLINED:
            await self._update_job(job.job_id, agent.JS_FAILED, "call is running on another worker")
            return
        await self._update_job(job.job_id, agent.JS_RUNNING)
        await self._send_status()

    def _job_done(self, job: JobInfo, outcome: JobOutcome, error: str) -> None:
        self._spawn(self._update_job(job.job_id, _OUTCOME_STATUS[outcome], error or outcome))
        self._spawn(self._send_status())

    async def _update_job(self, job_id: str, status: int, error: str = "") -> None:
        upd = agent.UpdateJobStatus(job_id=job_id, status=status, error=error)  # type: ignore[arg-type]
        await self._send(agent.WorkerMessage(update_job=upd))

    async def _send_status(self) -> None:
        self.runner.admission.cpu.sample()
        full = not self.runner.accepts()
        self._status_seq += 1
        upd = agent.UpdateWorkerStatus(
            status=agent.WS_FULL if full else agent.WS_AVAILABLE,
            load=self.runner.load(),
            job_count=self.runner.active,
            draining=self.runner.draining,
            seq=self._status_seq,
        )
        await self._send(agent.WorkerMessage(update_worker=upd))

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self._status_interval)
            await self._send_status()

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self._ping_interval)
            ping = agent.WorkerPing(timestamp=int(time.time() * 1000))
            await self._send(agent.WorkerMessage(ping=ping))

    async def _send(self, msg: agent.WorkerMessage) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            # Job and worker status are re-sent on reconnect (status) or lost harmlessly.
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(msg.SerializeToString())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _job_info(job: agent.Job) -> JobInfo:
    call_id, meta = call_id_for(job.room.name, job.room.sid, job.metadata)
    return JobInfo(
        job_id=job.id,
        room_name=job.room.name,
        call_id=call_id,
        agent_name=job.agent_name,
        metadata=meta,
        room_sid=job.room.sid,
    )


def _agent_url(url: str) -> str:
    """`https://host` / `wss://host/` -> `wss://host/agent` (http -> ws)."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"LIVEKIT_URL {url!r} must start with ws://, wss://, http:// or https://")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunparse((scheme, parts.netloc, parts.path.rstrip("/") + "/agent", "", "", ""))
