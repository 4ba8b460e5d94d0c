"""`bench voice --room sip`: each call's audio through the dev SIP media path, RTP over UDP.

Caller -> agent: what the caller says in their room goes to a "phone", an `RtpSession` of
its own (G.711 packets every 20 ms, silence when they say nothing), over UDP on 127.0.0.1
to the agent's `RtpSession` (jitter buffer, decode) in a `SipRoom`, and from there through
the dev server's `SipBridge` into the agent's `LocalRoom`: a call from `callcenter dev`'s
SIP endpoint, from the RTP socket on. Agent -> caller: the bridge sends the agent's voice
out on the call's RTP, the phone's jitter buffer plays it, the caller hears it.

No SIP signalling is benched: both sessions start as an INVITE's offer and answer would
leave them (PCMU, telephone-event 101, sendrecv), each sending to the other's port.
"""

from __future__ import annotations

import asyncio

from callcenter.bench.rooms import CallerEar
from callcenter.dev.sip_bridge import SipBridge
from callcenter.rooms.base import Participant
from callcenter.rooms.local import LocalRoom
from callcenter.rooms.sip.media import RATE, RtpSession
from callcenter.rooms.sip.room import SipRoom
from callcenter.rooms.sip.sdp import Negotiated

HOST = "127.0.0.1"


def _negotiated(port: int) -> Negotiated:
    return Negotiated("PCMU", 0, 101, (HOST, port), "sendrecv")


class SipLine:
    """Both directions of one bench call through RTP/G.711 and the dev SIP bridge."""

    def __init__(self, local: LocalRoom, caller: Participant) -> None:
        self.local = local
        self.ear = CallerEar(local)
        clock = local.clock
        # The agent's room as the dev server makes it for a SIP call (default output rate).
        self.agent_room = LocalRoom(f"{local.name}-agent", clock=clock)
        self._phone = RtpSession(clock, _negotiated(0), on_dtmf=lambda _d: None)
        self._agent_media = RtpSession(clock, _negotiated(0), on_dtmf=lambda _d: None)
        self.sip = SipRoom(f"{local.name}-sip", Participant(
            caller.identity, caller.kind, caller.name, dict(caller.attributes)),
            self._agent_media, send_bye=self._agent_hung_up)
        self._caller_identity = caller.identity
        self._bridge: SipBridge | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._phone.open(HOST, 0)
        await self._agent_media.open(HOST, 0)
        self._phone.renegotiate(_negotiated(self._agent_media.port))
        self._agent_media.renegotiate(_negotiated(self._phone.port))
        self._phone.start()
        self._agent_media.start()
        # The caller joins the agent's room now, as the dev server bridges an answered call.
        self._bridge = SipBridge(self.sip, self.agent_room)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._speak()), loop.create_task(self._hear())]

    async def _speak(self) -> None:
        """The phone's microphone: what the caller sends in their room, into its RTP."""
        out = self._phone.output
        async for frame in self.local.audio_stream(self._caller_identity, RATE):
            await out.capture_frame(frame)
        self.sip.caller_hung_up()  # the caller's room closed: their phone sends BYE

    async def _hear(self) -> None:
        async for frame in self._phone.subscribe(RATE).frames():
            await self.ear.hear(frame)

    def _agent_hung_up(self) -> None:
        # The BYE the agent's side sends: the caller's phone hangs up.
        self.local.close("hangup")

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._bridge is not None:
            await self._bridge.aclose()
        self.sip.close("bench call over")
        self._phone.close()
        self.agent_room.close()
