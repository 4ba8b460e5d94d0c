"""Create or update the LiveKit SIP inbound trunk and dispatch rule for our numbers.

Idempotent: objects are found by name and only changed when they differ from what we want,
and every run reports what it created, updated or left alone. All calls go through the real
`livekit-api` SDK (Twirp).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from livekit import api

TRUNK_NAME = "callcenter inbound"
RULE_NAME = "callcenter calls"
ROOM_PREFIX = "call-"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the setup report."""

    action: str  # created | updated | unchanged
    kind: str  # inbound trunk | dispatch rule
    id: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.action} {self.kind} {self.id}{tail}"


def check_numbers(numbers: Sequence[str]) -> list[str]:
    """Numbers must be E.164 (`+` and digits); the error lists the bad ones."""
    bad = [n for n in numbers if not _E164.match(n)]
    if bad:
        raise ValueError(f"not E.164 phone numbers: {', '.join(bad)}; write them like +14155550100")
    if not numbers:
        raise ValueError(
            "no phone numbers: pass --number +1... or map numbers to flows in the admin first"
        )
    return sorted(set(numbers))


async def ensure_sip_setup(
    lkapi: api.LiveKitAPI,
    numbers: Sequence[str],
    *,
    agent_name: str,
    allowed_addresses: Sequence[str] = (),
    trunk_name: str = TRUNK_NAME,
    rule_name: str = RULE_NAME,
    room_prefix: str = ROOM_PREFIX,
) -> list[Change]:
    """Make the trunk and rule match; returns what changed."""
    wanted_numbers = check_numbers(numbers)
    trunk, trunk_change = await _ensure_trunk(
        lkapi, trunk_name, wanted_numbers, sorted(set(allowed_addresses))
    )
    rule_change = await _ensure_rule(lkapi, rule_name, trunk.sip_trunk_id, agent_name, room_prefix)
    return [trunk_change, rule_change]


async def _ensure_trunk(
    lkapi: api.LiveKitAPI, name: str, numbers: list[str], allowed: list[str]
) -> tuple[api.SIPInboundTrunkInfo, Change]:
    existing = [
        t
        for t in (await lkapi.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
        if t.name == name
    ]
    if not existing:
        info = api.SIPInboundTrunkInfo(name=name, numbers=numbers, allowed_addresses=allowed)
        created = await lkapi.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=info))
        return created, Change(
            "created", "inbound trunk", created.sip_trunk_id, f"numbers {', '.join(numbers)}"
        )
    current = existing[0]
    have_numbers = sorted(current.numbers)
    have_allowed = sorted(current.allowed_addresses)
    if have_numbers == numbers and have_allowed == allowed:
        return current, Change("unchanged", "inbound trunk", current.sip_trunk_id)
    info = api.SIPInboundTrunkInfo()
    info.CopyFrom(current)
    del info.numbers[:]
    info.numbers.extend(numbers)
    del info.allowed_addresses[:]
    info.allowed_addresses.extend(allowed)
    updated = await lkapi.sip.update_inbound_trunk(current.sip_trunk_id, info)
    return updated, Change(
        "updated",
        "inbound trunk",
        current.sip_trunk_id,
        _diff("numbers", have_numbers, numbers) + _diff("allowed addresses", have_allowed, allowed),
    )


async def _ensure_rule(
    lkapi: api.LiveKitAPI, name: str, trunk_id: str, agent_name: str, prefix: str
) -> Change:
    wanted = api.SIPDispatchRuleInfo(
        name=name,
        trunk_ids=[trunk_id],
        rule=api.SIPDispatchRule(
            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix=prefix)
        ),
        room_config=api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)]),
    )
    rules = (await lkapi.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items
    existing = [r for r in rules if r.name == name]
    if not existing:
        created = await lkapi.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(dispatch_rule=wanted)
        )
        return Change(
            "created",
            "dispatch rule",
            created.sip_dispatch_rule_id,
            f"rooms {prefix}*, agent {agent_name}",
        )
    current = existing[0]
    differences = _rule_differences(current, wanted)
    if not differences:
        return Change("unchanged", "dispatch rule", current.sip_dispatch_rule_id)
    merged = api.SIPDispatchRuleInfo()
    merged.CopyFrom(current)
    merged.trunk_ids[:] = list(wanted.trunk_ids)
    merged.rule.CopyFrom(wanted.rule)
    merged.room_config.CopyFrom(wanted.room_config)
    await lkapi.sip.update_dispatch_rule(current.sip_dispatch_rule_id, merged)
    return Change("updated", "dispatch rule", current.sip_dispatch_rule_id, "; ".join(differences))


def _rule_differences(have: api.SIPDispatchRuleInfo, want: api.SIPDispatchRuleInfo) -> list[str]:
    out = []
    if sorted(have.trunk_ids) != sorted(want.trunk_ids):
        out.append(f"trunks {list(have.trunk_ids)} -> {list(want.trunk_ids)}")
    if have.rule != want.rule:
        out.append(
            "rule -> individual rooms " + want.rule.dispatch_rule_individual.room_prefix + "*"
        )
    have_agents = [a.agent_name for a in have.room_config.agents]
    want_agents = [a.agent_name for a in want.room_config.agents]
    if have_agents != want_agents:
        out.append(f"agents {have_agents} -> {want_agents}")
    return out


def _diff(what: str, before: list[str], after: list[str]) -> str:
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    if not added and not removed:
        return ""
    parts = [f"+{x}" for x in added] + [f"-{x}" for x in removed]
    return f"{what} {' '.join(parts)} "


async def check_outbound_trunk(lkapi: api.LiveKitAPI, trunk_id: str) -> Change:
    """Report the outbound trunk the phone desk dials through (SIP_OUTBOUND_TRUNK_ID).

    It is found, never created: an outbound trunk holds the carrier's address and its
    credentials, which are the carrier's secrets and have no place in our settings. A
    missing or unknown id is a ValueError saying what to create and what to set."""
    if not trunk_id:
        raise ValueError(
            "SIP_OUTBOUND_TRUNK_ID is not set: create an outbound trunk for your carrier "
            "(`lk sip outbound create` or the LiveKit dashboard: address, numbers, auth) and "
            "set SIP_OUTBOUND_TRUNK_ID to its ST_... id so supervisors can be rung by phone")
    request = api.ListSIPOutboundTrunkRequest(trunk_ids=[trunk_id])
    found = [t for t in (await lkapi.sip.list_outbound_trunk(request)).items
             if t.sip_trunk_id == trunk_id]
    if not found:
        raise ValueError(
            f"SIP_OUTBOUND_TRUNK_ID {trunk_id} is not an outbound trunk on this LiveKit: "
            "check the id (`lk sip outbound list`) or create the trunk for your carrier")
    trunk = found[0]
    numbers = ", ".join(trunk.numbers) or "no caller-id numbers"
    # The address only: auth_username / auth_password are never reported.
    return Change("found", "outbound trunk", trunk_id,
                  f"{trunk.name or 'unnamed'} via {trunk.address or '?'}, {numbers}")
