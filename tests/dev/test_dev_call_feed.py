"""The dev call feed reads the room's own text tap: the brief and the suggestions reach
the console's feed even when they are addressed to nobody yet, and never the caller."""

from __future__ import annotations

import json

from callcenter.callsession.interpreter import BRIEF_TOPIC
from callcenter.dev.calls import DevCall
from callcenter.escalation.suggestions import SUGGESTION_TOPIC
from callcenter.rooms.base import ParticipantKind
from callcenter.rooms.clock import VirtualClock
from callcenter.rooms.local import LocalRoom


async def test_the_feed_gets_brief_and_suggestions_the_caller_never_sees(
    clock: VirtualClock,
) -> None:
    room = LocalRoom("dev-feed", clock=clock)
    call = DevCall("dev-feed", "+15550001000", room, "browser")
    heard: list[str] = []
    room.join("caller-1", ParticipantKind.CALLER, on_text=lambda _s, topic, _t: heard.append(topic))
    brief = {"queue": "support", "reason": "asked for a person"}
    await room.send_text(json.dumps(brief), topic=BRIEF_TOPIC, to=[])  # nobody in the room yet
    await room.send_text(json.dumps({"kind": "fact", "text": "4821"}), topic=SUGGESTION_TOPIC,
                         to=["sup-1"])
    await room.publish_transcript("agent", "Please hold.", final=True)
    assert call.brief() == brief
    assert [(e.kind, e.data.get("text")) for e in call.feed.events
            if e.kind == "suggestion"] == [("suggestion", "4821")]
    assert heard == ["lk.transcription"], "the caller gets its transcript, nothing private"
    room.close()
