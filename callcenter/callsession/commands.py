"""Call-control commands performed on a live `CallSession` (they arrive by `control/` bus).

Each command changes the call only through the interpreter (an injected event or a pure
runner update), so the checkpoint stays true and a resumed call knows what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.control.commands import (
    Coach,
    Command,
    CommandResult,
    HandBack,
    Hangup,
    JoinSupervisor,
    Monitor,
    PhoneRing,
    Ping,
    SetListenOnly,
    TakeOver,
    Transfer,
)
from callcenter.control.errors import CommandRejected, CommandUnsupported
from callcenter.escalation.modes import join_answer, monitor_answer
from callcenter.flow.actions import Transfer as TransferAction
from callcenter.flow.events import EscalationResult, TakenOver

if TYPE_CHECKING:
    from callcenter.callsession.session import CallSession


class CallCommands:
    """The command handler a call serves on the control bus while it holds its lease."""

    def __init__(self, call: CallSession) -> None:
        self.call = call

    async def __call__(self, command: Command) -> CommandResult:
        call, flow = self.call, self.call.flow
        call_id = call.s.info.call_id
        match command:
            case Ping():
                return CommandResult(data={"node": flow.state.node, "status": flow.state.status})
            case SetListenOnly():
                await call.voice.set_listen_only(command.on)
                await call.record_command(command, {"on": command.on})
            case Coach():
                if not command.text.strip():
                    raise CommandRejected(call_id, "coaching text is empty")
                flow.state = flow.runner.coach(flow.state, command.text.strip(), command.by)
                await call.record_command(command, {"text": command.text, "by": command.by})
            case HandBack():
                if flow.state.status != "escalated":
                    raise CommandRejected(call_id, "the call is not with a supervisor")
                if command.node is not None and not flow.runner.has_node(command.node):
                    raise CommandRejected(
                        call_id, f"hand back to unknown node {command.node!r}: the flow "
                        f"{flow.flow.name!r} has no such node")
                await call.record_command(command, {"node": command.node, "note": command.note})
                flow.inject(EscalationResult(outcome="handed_back", resume_at=command.node,
                                             note=command.note or None))
            case Transfer():
                await call.record_command(command, {"target": command.target})
                await flow.transfer_now(TransferAction(target=command.target))
            case Hangup():
                await call.record_command(command, {"reason": command.reason})
                if flow.state.status == "escalated":
                    flow.inject(EscalationResult(outcome="ended", note=command.reason))
                else:
                    await call.s.room.hangup()
            case Monitor():
                # A silent observer changes nothing in the call: the AI stays in charge.
                # The audit event is the call's record that someone listened, and who.
                if not command.identity.strip():
                    raise CommandRejected(call_id, "monitor needs the observer's identity")
                await call.record_command(command, {"identity": command.identity})
                return monitor_answer(call_id, call.s.room.name, flow.state)
            case PhoneRing():  # the phone desk's report: on the timeline, nothing else
                await call.record_command(command, {"supervisor": command.supervisor,
                                                    "outcome": command.outcome,
                                                    "sip_status": command.sip_status})
            case JoinSupervisor():
                answer = join_answer(call_id, call.s.room.name, flow.state, command)
                if answer.data["mode"] == "take_over":
                    await self.take_over(TakeOver(identity=command.identity,
                                                  issued_by=command.issued_by))
                else:
                    await call.record_command(command, {"identity": command.identity,
                                                        "via": command.via})
                return answer
            case TakeOver():
                answer = join_answer(call_id, call.s.room.name, flow.state, JoinSupervisor(
                    identity=command.identity, issued_by=command.issued_by))
                if answer.data["mode"] != "take_over":
                    raise CommandRejected(call_id, "a supervisor has this call already: join "
                                          "it instead")
                await self.take_over(command)
                return answer
            case _:
                raise CommandUnsupported(call_id, command.kind)
        return CommandResult(data={"node": flow.state.node, "status": flow.state.status})

    async def take_over(self, command: TakeOver) -> None:
        """Barge into a call the AI has alone: audited (`control_take_over`), then the flow
        is supervised from wherever it is (the interpreter applies it as its next event:
        AI listen-only, the escalation record, the brief)."""
        flow = self.call.flow
        if any(isinstance(e, TakenOver) for e in flow.injected()):
            # Two supervisors barging at once: the first one has it (its event is queued).
            raise CommandRejected(self.call.s.info.call_id,
                                  "another supervisor is taking this call over")
        await self.call.record_command(command, {"identity": command.identity,
                                                 "node": flow.state.node})
        flow.inject(TakenOver(supervisor=command.identity))
