"""One live dev call as the pages see it: its room, who is in it, and its event feed.

The feed is what the browser phone and the console stream (server-sent events): transcript
lines of every speaker, the hand-off brief, supervisors coming and going, the end. Lines
come from the call's record as each utterance finishes (the agent's as the caller heard
it); the brief, the suggestions and the comings and goings from the room itself (its
text tap sees every message whoever it is addressed to, as the server hosting the room,
not as one of its participants), so a call from the SIP endpoint and one from the browser
look the same, and supervisor-only data never has to pass through the caller's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from callcenter.escalation.alerts import ALERT_EVENT
from callcenter.escalation.suggestions import SUGGESTION_TOPIC
from callcenter.rooms.base import (
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    RoomClosed,
    RoomEvent,
)
from callcenter.rooms.local import LocalRoom
from callcenter.rooms.sip.room import SipRoom
from callcenter.rooms.webrtc import BrowserPeer
from callcenter.voice.events import Utterance

BRIEF_TOPIC = "callcenter.brief"  # the interpreter's hand-off brief (callsession.interpreter)
FEED_LIMIT = 2000  # events kept per call (a dev call is minutes long, not hours)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """`kind`: transcript | keys | brief | suggestion | alert | joined | left | ended."""

    seq: int
    kind: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class CallFeed:
    """An append-only list of events with many readers, each from where it wants."""

    def __init__(self) -> None:
        self.events: list[FeedEvent] = []
        self._changed = asyncio.Event()
        self.closed = False

    def add(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append(FeedEvent(len(self.events), kind, data))
        del self.events[:-FEED_LIMIT]
        if kind == "ended":
            self.closed = True
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, since: int = 0, *, idle_s: float = 15.0
                     ) -> AsyncIterator[FeedEvent | None]:
        """Events with seq >= `since` as they come; None after `idle_s` of quiet (a
        keep-alive for the stream), ending after the `ended` event."""
        nxt = since
        while True:
            for ev in self.events:
                if ev.seq >= nxt:
                    nxt = ev.seq + 1
                    yield ev
                    if ev.kind == "ended":
                        return
            if self.closed:
                return
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), idle_s)
            except TimeoutError:
                yield None


@dataclass(eq=False)
class DevCall:
    """A call the dev server placed in a `LocalRoom` (from the browser phone or SIP)."""

    call_id: str
    number: str
    room: LocalRoom
    via: str  # "browser" | "sip"
    started: float = field(default_factory=time.time)
    feed: CallFeed = field(default_factory=CallFeed)
    caller: BrowserPeer | None = None
    sip: SipRoom | None = None  # the phone line of a call from the SIP endpoint
    supervisors: dict[str, BrowserPeer] = field(default_factory=dict)
    kinds: dict[str, ParticipantKind] = field(default_factory=dict)
    ended: bool = False
    taken_over_by: str | None = None  # who took the call from the AI (no queue ticket)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # the live list's badge

    def __post_init__(self) -> None:
        self.kinds[self.room.local_identity] = ParticipantKind.AGENT
        self.room.on_event(self._on_event)
        self.room.tap_text(self.on_text)

    def add_utterance(self, u: Utterance) -> None:
        """A finished utterance from the call's record (see dev.handler.TappedRecorder)."""
        if u.text.strip():
            self.feed.add("transcript", {"speaker": u.identity, "role": u.role, "text": u.text,
                                         "interrupted": u.interrupted})

    def add_event(self, type_: str, data: dict[str, Any]) -> None:
        """A call event from the call's record: a console alert goes on the feed."""
        if type_ == ALERT_EVENT:
            self.alerts.append(data)
            self.feed.add("alert", data)

    def on_text(self, sender: str, topic: str, text: str,
                to: tuple[str, ...] | None = None) -> None:
        """The room's text tap: every message sent in the room, whoever it is for."""
        if topic == BRIEF_TOPIC:
            try:
                brief = json.loads(text)
            except json.JSONDecodeError:
                brief = {"text": text}
            self.feed.add("brief", brief if isinstance(brief, dict) else {"brief": brief})
        elif topic == SUGGESTION_TOPIC:
            with contextlib.suppress(json.JSONDecodeError):
                data = json.loads(text)
                if isinstance(data, dict):
                    self.feed.add("suggestion", data)

    def _on_event(self, event: RoomEvent) -> None:
        match event:
            case ParticipantJoined(participant=p):
                self.kinds[p.identity] = p.kind
                self.feed.add("joined", {"identity": p.identity, "role": p.kind.value})
            case ParticipantLeft(participant=p):
                self.feed.add("left", {"identity": p.identity, "role": p.kind.value})
            case RoomClosed(reason=reason):
                self.ended = True
                self.feed.add("ended", {"reason": reason})
            case _:
                pass

    def brief(self) -> dict[str, Any] | None:
        """The latest hand-off brief (sent when a supervisor accepted, maybe before joining)."""
        for ev in reversed(self.feed.events):
            if ev.kind == "brief":
                return ev.data
        return None
