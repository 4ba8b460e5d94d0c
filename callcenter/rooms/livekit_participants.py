"""LiveKit participants as our `Participant`s: kind from the SIP/agent kind and our role attribute.

SIP attribute names (`sip.phoneNumber` = caller id, `sip.trunkPhoneNumber` = dialed number,
...) are not constants in the SDK; they are collected here.
"""

from __future__ import annotations

from livekit import rtc

from callcenter.rooms.base import ROLE_ATTRIBUTE as ROLE_ATTRIBUTE  # set on our tokens
from callcenter.rooms.base import Participant, ParticipantKind

SIP_CALLER_NUMBER = "sip.phoneNumber"
SIP_DIALED_NUMBER = "sip.trunkPhoneNumber"
SIP_CALL_ID = "sip.callID"
SIP_TRUNK_ID = "sip.trunkID"
SIP_RULE_ID = "sip.ruleID"
SIP_CALL_STATUS = "sip.callStatus"


def kind_of(p: rtc.Participant) -> ParticipantKind:
    if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        # A supervisor reached by phone is a SIP participant too; the console marks it.
        if p.attributes.get(ROLE_ATTRIBUTE) == "supervisor":
            return ParticipantKind.SUPERVISOR
        return ParticipantKind.CALLER
    if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
        return ParticipantKind.AGENT
    if p.attributes.get(ROLE_ATTRIBUTE) == "supervisor":
        return ParticipantKind.SUPERVISOR
    return ParticipantKind.OTHER


def to_participant(p: rtc.Participant) -> Participant:
    return Participant(
        identity=p.identity, kind=kind_of(p), name=p.name, attributes=dict(p.attributes)
    )
