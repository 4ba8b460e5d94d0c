"""Supervisor modes a live call answers on the control bus: monitor and join (barge).

- monitor: a silent observer on any live call, escalated or not. Nothing changes in the
  call (the AI stays in charge); the call records who listened. The observer's way into
  the room is minted by the API, which holds the keys: on LiveKit `monitor_token`
  (subscribe only, cannot publish audio or data, hidden from the room), in local rooms a
  muted participant. The answer names the room and where the call is.
- join: a supervisor comes into a call a person already has (barging in from monitor on
  a supervised call). A call still waiting in a queue is taken from the queue instead
  (`broker.take`: the atomic claim, so nobody else gets it too).
- take over: join on a call the AI has alone barges in, as commercial contact centers let
  a supervisor do on any call they monitor. The call becomes supervised wherever its flow
  is (the runner's `TakenOver`): the AI listens only, and a hand-back resumes there.
Pure functions over the call's state; no IO.
"""

from __future__ import annotations

from typing import Any

from callcenter.control.commands import CommandResult, JoinSupervisor
from callcenter.control.errors import CommandRejected
from callcenter.flow.state import RunnerState


def _where(call_id: str, room: str, state: RunnerState) -> dict[str, Any]:
    return {"call_id": call_id, "room": room, "node": state.node, "status": state.status}


def monitor_answer(call_id: str, room: str, state: RunnerState) -> CommandResult:
    if state.status == "ended":
        raise CommandRejected(call_id, "the call has ended")
    return CommandResult(data={**_where(call_id, room, state), "mode": "monitor",
                               "ai_in_charge": state.status != "escalated"})


def join_answer(call_id: str, room: str, state: RunnerState,
                command: JoinSupervisor) -> CommandResult:
    if not command.identity.strip():
        raise CommandRejected(call_id, "join needs the supervisor's identity")
    if command.via == "phone" and not command.phone:
        raise CommandRejected(call_id, "join by phone needs the supervisor's phone number")
    if state.status == "ended":
        raise CommandRejected(call_id, "the call has ended")
    if state.status != "escalated":
        if state.waiting_for == "escalation":
            raise CommandRejected(call_id, "the call is waiting in a supervisor queue: take "
                                  "it from the queue (the console's Take, or accept its offer)")
        if state.status == "new":
            raise CommandRejected(call_id, "the call has not started yet: take it over once "
                                  "the AI has answered")
        return CommandResult(data={**_where(call_id, room, state), "mode": "take_over",
                                   "via": command.via})
    return CommandResult(data={**_where(call_id, room, state), "mode": "join",
                               "via": command.via})
