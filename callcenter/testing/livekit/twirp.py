"""A fake LiveKit Twirp API built from the protobuf service descriptors in `livekit.protocol`.

Every method of the room, SIP, agent-dispatch, egress and ingress services gets a route
(`POST /twirp/livekit.<Service>/<Method>`), its request is decoded with the real message type
and the bearer JWT is checked with `api.TokenVerifier`, so code under test goes through the
real `livekit-api` SDK. SIP trunks, dispatch rules and agent dispatches keep state; other
methods answer an empty response and are recorded in `calls` for assertions.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import agent_dispatch, egress, ingress, models, room, sip

_MODULES = (room, sip, agent_dispatch, egress, ingress)

MethodHandler = Callable[[Message], Awaitable[Message] | Message]


class TwirpFault(Exception):
    """Raised by a method handler to answer a Twirp error (`code`, HTTP `status`).

    `meta` is the error's metadata, e.g. `{"sip_status_code": "486", "sip_status": "Busy
    Here"}`, which the SDK turns into a `SipCallError` for SIP dialing and transfers.
    """

    def __init__(
        self, code: str, msg: str, status: int, meta: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status
        self.meta = dict(meta or {})


@dataclass(slots=True)
class _Method:
    request_type: type[Message]
    response_type: type[Message]


@dataclass(slots=True)
class RecordedCall:
    """One Twirp request the fake answered."""

    service: str
    method: str
    request: Message
    identity: str


@dataclass
class TwirpState:
    """Server-side objects the stateful methods read and write."""

    inbound_trunks: dict[str, sip.SIPInboundTrunkInfo] = field(default_factory=dict)
    dispatch_rules: dict[str, sip.SIPDispatchRuleInfo] = field(default_factory=dict)
    dispatches: dict[str, agent_dispatch.AgentDispatch] = field(default_factory=dict)
    rooms: dict[str, models.Room] = field(default_factory=dict)


def _method_table() -> dict[str, _Method]:
    table: dict[str, _Method] = {}
    for module in _MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                table[f"{service.full_name}/{method.name}"] = _Method(
                    message_factory.GetMessageClass(method.input_type),
                    message_factory.GetMessageClass(method.output_type),
                )
    return table


class FakeTwirpApi:
    """Route table and state for the Twirp half of the fake LiveKit server."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._verifier = api.TokenVerifier(api_key, api_secret)
        self.methods = _method_table()
        self.state = TwirpState()
        self.calls: list[RecordedCall] = []
        self._ids = itertools.count(1)
        self._handlers: dict[str, MethodHandler] = {}
        # Called with each new agent dispatch so the /agent half can offer the job.
        self.on_dispatch: Callable[[agent_dispatch.AgentDispatch], None] | None = None
        self._register_stateful()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/twirp/{service}/{method}", self._handle)

    def set_handler(self, path: str, handler: MethodHandler) -> None:
        """Override one method, e.g. to make `livekit.SIP/CreateSIPParticipant` fail."""
        if path not in self.methods:
            raise KeyError(f"no Twirp method {path!r}; known: {sorted(self.methods)[:5]}...")
        self._handlers[path] = handler

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    async def _handle(self, request: web.Request) -> web.Response:
        path = f"{request.match_info['service']}/{request.match_info['method']}"
        spec = self.methods.get(path)
        if spec is None:
            return _error("bad_route", f"no such method {path}", 404)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error("unauthenticated", "missing bearer token", 401)
        try:
            claims = self._verifier.verify(auth.removeprefix("Bearer "))
        except Exception as exc:  # any JWT failure is an authentication failure
            return _error("unauthenticated", f"invalid token: {exc}", 401)
        if not _authorized(path, claims):
            return _error("permission_denied", f"token lacks the grant for {path}", 403)
        try:
            req = spec.request_type.FromString(await request.read())
        except DecodeError as exc:
            return _error("malformed", f"cannot decode {spec.request_type.__name__}: {exc}", 400)
        service, method = path.split("/")
        self.calls.append(RecordedCall(service, method, req, claims.identity))
        handler = self._handlers.get(path)
        try:
            if handler is None:
                resp: Message = spec.response_type()
            else:
                result = handler(req)
                resp = await result if isinstance(result, Awaitable) else result
        except TwirpFault as fault:
            return _error(fault.code, fault.msg, fault.status, fault.meta)
        return web.Response(body=resp.SerializeToString(), content_type="application/protobuf")

    def _register_stateful(self) -> None:
        s = self.state
        h = self._handlers

        def create_trunk(req: Any) -> sip.SIPInboundTrunkInfo:
            info = sip.SIPInboundTrunkInfo()
            info.CopyFrom(req.trunk)
            info.sip_trunk_id = self._new_id("ST")
            s.inbound_trunks[info.sip_trunk_id] = info
            return info

        def update_trunk(req: Any) -> sip.SIPInboundTrunkInfo:
            if req.sip_trunk_id not in s.inbound_trunks:
                raise TwirpFault("not_found", f"trunk {req.sip_trunk_id} not found", 404)
            info = sip.SIPInboundTrunkInfo()
            info.CopyFrom(req.replace)
            info.sip_trunk_id = req.sip_trunk_id
            s.inbound_trunks[req.sip_trunk_id] = info
            return info

        def list_trunks(_req: Any) -> sip.ListSIPInboundTrunkResponse:
            return sip.ListSIPInboundTrunkResponse(items=list(s.inbound_trunks.values()))

        def delete_trunk(req: Any) -> sip.SIPTrunkInfo:
            if s.inbound_trunks.pop(req.sip_trunk_id, None) is None:
                raise TwirpFault("not_found", f"trunk {req.sip_trunk_id} not found", 404)
            return sip.SIPTrunkInfo(sip_trunk_id=req.sip_trunk_id)

        def create_rule(req: Any) -> sip.SIPDispatchRuleInfo:
            info = sip.SIPDispatchRuleInfo()
            if req.HasField("dispatch_rule"):
                info.CopyFrom(req.dispatch_rule)
            else:  # the older flat request fields
                info.rule.CopyFrom(req.rule)
                info.trunk_ids.extend(req.trunk_ids)
                info.name = req.name
                info.room_config.CopyFrom(req.room_config)
            info.sip_dispatch_rule_id = self._new_id("SDR")
            s.dispatch_rules[info.sip_dispatch_rule_id] = info
            return info

        def update_rule(req: Any) -> sip.SIPDispatchRuleInfo:
            rule_id = req.sip_dispatch_rule_id
            if rule_id not in s.dispatch_rules:
                raise TwirpFault("not_found", f"dispatch rule {rule_id} not found", 404)
            info = sip.SIPDispatchRuleInfo()
            info.CopyFrom(req.replace)
            info.sip_dispatch_rule_id = rule_id
            s.dispatch_rules[rule_id] = info
            return info

        def list_rules(_req: Any) -> sip.ListSIPDispatchRuleResponse:
            return sip.ListSIPDispatchRuleResponse(items=list(s.dispatch_rules.values()))

        def create_dispatch(req: Any) -> agent_dispatch.AgentDispatch:
            d = agent_dispatch.AgentDispatch(
                id=self._new_id("AD"),
                agent_name=req.agent_name,
                room=req.room,
                metadata=req.metadata,
            )
            s.dispatches[d.id] = d
            if self.on_dispatch is not None:
                self.on_dispatch(d)
            return d

        def list_dispatch(req: Any) -> agent_dispatch.ListAgentDispatchResponse:
            items = [d for d in s.dispatches.values() if d.room == req.room]
            return agent_dispatch.ListAgentDispatchResponse(agent_dispatches=items)

        def create_room(req: Any) -> models.Room:
            r = s.rooms.get(req.name) or models.Room(name=req.name, sid=self._new_id("RM"))
            s.rooms[req.name] = r
            return r

        def delete_room(req: Any) -> room.DeleteRoomResponse:
            s.rooms.pop(req.room, None)
            return room.DeleteRoomResponse()

        h["livekit.SIP/CreateSIPInboundTrunk"] = create_trunk
        h["livekit.SIP/UpdateSIPInboundTrunk"] = update_trunk
        h["livekit.SIP/ListSIPInboundTrunk"] = list_trunks
        h["livekit.SIP/DeleteSIPTrunk"] = delete_trunk
        h["livekit.SIP/CreateSIPDispatchRule"] = create_rule
        h["livekit.SIP/UpdateSIPDispatchRule"] = update_rule
        h["livekit.SIP/ListSIPDispatchRule"] = list_rules
        h["livekit.AgentDispatchService/CreateDispatch"] = create_dispatch
        h["livekit.AgentDispatchService/ListDispatch"] = list_dispatch
        h["livekit.RoomService/CreateRoom"] = create_room
        h["livekit.RoomService/DeleteRoom"] = delete_room


def _authorized(path: str, claims: Claims) -> bool:
    # Mirrors the server's coarse rule: SIP needs a SIP grant, everything else a room grant.
    video = claims.video or api.VideoGrants()
    if path.startswith("livekit.SIP/"):
        sip_grants = claims.sip
        return bool(sip_grants and (sip_grants.admin or sip_grants.call))
    return bool(video.room_admin or video.room_create or video.room_list or video.room_record)


def _error(code: str, msg: str, status: int, meta: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "meta": meta or {}}, status=status)
