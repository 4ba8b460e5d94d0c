"""The supervised half of the action interpreter: queues, take-overs, a person on the call.

`FlowInterpreter` mixes this in. Escalating (hold audio, the caller's place in line, the
queue's answer), a supervisor taking the call over, the hand-off brief, and the
suggestions the AI sends the supervisor while it listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from callcenter.callsession.channel import Channel, Journal, Spoken
from callcenter.escalation.broker import TicketStatus
from callcenter.escalation.suggestions import SUGGESTION_TOPIC, Suggester, Suggestion
from callcenter.escalation.tickets import TicketState
from callcenter.flow.actions import Escalate
from callcenter.flow.events import CallerHungUp, EscalationResult, Event, IntentResult, TakenOver
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState

if TYPE_CHECKING:
    from callcenter.callsession.interpreter import Effects

PRIORITY = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
BRIEF_TOPIC = "callcenter.brief"
# The escalation record of a call a supervisor took over from the AI (no queue was asked).
TAKE_OVER_QUEUE = "take_over"
log = logging.getLogger("callcenter.callsession.interpreter")  # one logger for the loop


def position_line(status: TicketStatus) -> str | None:
    """What a waiting caller hears about their place in line (None: nothing to tell)."""
    if status.state not in (TicketState.WAITING, TicketState.OFFERED) or not status.position:
        return None
    place = ("You're next in line." if status.position == 1
             else f"You're number {status.position} in line.")
    wait = status.expected_wait_s
    if wait is not None and wait >= 60:
        minutes = round(wait / 60)
        place += f" The expected wait is about {minutes} minute{'s' if minutes != 1 else ''}."
    return place


def take_over_record(supervisor: str | None) -> Escalate:
    """The escalation record of a take-over: no queue was asked, a person just took it."""
    reason = f"taken over by supervisor {supervisor}" if supervisor else "taken over"
    return Escalate(queue=TAKE_OVER_QUEUE, reason=reason)


class SupervisedActions:
    """Escalations and take-overs, for `FlowInterpreter` (which sets these attributes)."""

    flow: Flow
    call_id: str
    state: RunnerState
    channel: Channel
    journal: Journal
    effects: Effects
    _escalation: Escalate | None
    _suggester: Suggester | None
    _suggesting: set[asyncio.Task[None]]

    def _speak(self, text: str | AsyncIterator[str], *, interruptible: bool = True) -> Spoken:
        raise NotImplementedError  # FlowInterpreter

    async def _wait_spoken(self) -> None:
        raise NotImplementedError  # FlowInterpreter

    async def _escalate(self, action: Escalate) -> Event:
        prompt = (self._speak(action.hold_prompt, interruptible=False)
                  if action.hold_prompt else None)
        latest: list[TicketStatus] = []

        async def on_update(status: TicketStatus) -> None:
            latest[:] = [status]

        escalations = self.effects.escalations
        self._escalation = action
        priority = PRIORITY.get(str(action.priority), 1)
        await self.journal.escalation(action.queue, priority, action.reason, "waiting")
        request = asyncio.ensure_future(escalations.request(self.call_id, action, on_update))
        hold = asyncio.ensure_future(self._hold(action, latest))
        gone = asyncio.ensure_future(self.channel.caller_gone())
        try:
            await asyncio.wait({request, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (request, hold, gone):
                if not task.done():
                    task.cancel()
            await asyncio.gather(request, hold, gone, return_exceptions=True)
        if request.cancelled():
            # The caller hung up while waiting: they lose their place, the wait is recorded.
            await escalations.close(self.call_id, "caller_hangup")
            await self.journal.escalation(action.queue, priority, action.reason, "abandoned")
            return CallerHungUp()
        if (error := request.exception()) is not None:
            # The queue itself failed (e.g. Redis down): the flow's no-supervisor route is
            # better for the caller than a dead call.
            await self.journal.event("escalation_failed", {"error": f"{type(error).__name__}: "
                                                                    f"{error}"})
            result = EscalationResult(outcome="unavailable", note="the queue is unavailable")
        else:
            result = request.result()
        status = {"connected": "active", "handed_back": "handed_back", "ended": "ended"}.get(
            result.outcome, "timed_out"
        )
        await self.journal.escalation(action.queue, priority, action.reason, status,
                                      result.supervisor)
        if result.outcome == "connected":
            if prompt is not None:
                await prompt.wait()  # a quick answer must not cut "please hold" mid-word
            await self.channel.set_listen_only(True)  # also stops any hold announcement
            brief = self._brief(action, result)
            await self.journal.event("handoff_brief", brief)
            await self.channel.send_data(BRIEF_TOPIC, brief)
            self._suggester = Suggester(self.flow, self.state.node)
            for s in self._suggester.on_connect(self._scope()):
                await self._send_suggestion(s)
        else:
            await self._wait_spoken()
        return result

    async def _taken_over(self, event: TakenOver) -> None:
        """A supervisor took the call from the AI: the effects of a connected escalation
        (record, AI listen-only, brief, suggestions) without a queue."""
        action = take_over_record(event.supervisor)
        self._escalation = action
        if event.supervisor:
            try:
                # The taker is busy with this call: no offers beyond their capacity.
                await self.effects.escalations.attach(self.call_id, action, event.supervisor)
            except Exception:  # the broker down must not stop the take-over itself
                log.warning("call %s: the take-over is not counted in %s's load", self.call_id,
                            event.supervisor, exc_info=True)
        await self.journal.escalation(action.queue, PRIORITY["normal"], action.reason,
                                      "active", event.supervisor)
        await self.channel.set_listen_only(True)  # stops the agent mid-word, if speaking
        brief = self._brief(action, EscalationResult(outcome="connected",
                                                     supervisor=event.supervisor))
        await self.journal.event("handoff_brief", brief)
        await self.channel.send_data(BRIEF_TOPIC, brief)
        self._suggester = Suggester(self.flow, self.state.node)
        for s in self._suggester.on_connect(self._scope()):
            await self._send_suggestion(s)

    async def _hold(self, action: Escalate, latest: list[TicketStatus]) -> None:
        """Hold audio, and the caller's place in line every `position_every` seconds."""
        await self._wait_spoken()
        every = action.position_every if action.position_every > 0 else 3600.0
        told: str | None = None
        while True:
            if latest and action.position_every > 0:
                line = position_line(latest[0])
                if line and line != told:
                    told = line
                    await self._speak(line, interruptible=False).wait()
            await self.channel.hold(every)

    def _brief(self, action: Escalate, result: EscalationResult) -> dict[str, Any]:
        """What the supervisor needs before saying hello: why, what we know, the words so far."""
        recent = [{"role": m.role, "text": m.content} for m in self.state.history[-8:]
                  if m.role in ("user", "assistant") and m.content]
        return {"call_id": self.call_id, "queue": action.queue, "priority": action.priority,
                "reason": action.reason, "supervisor": result.supervisor,
                "slots": dict(self.state.slots), "path": list(self.state.path),
                "agent_reason": self.state.variables.get("escalation_reason"),
                "recent": recent}

    async def _while_escalated(self) -> Event | None:
        # The supervisor's hand-back or end arrives as an injected event (see _next_event).
        # Meanwhile the AI listens to everyone and suggests (escalation.suggestions).
        try:
            await self.channel.caller_gone(self._heard_while_escalated)
        finally:
            for task in self._suggesting:  # the supervisor is gone: nobody to suggest to
                task.cancel()
        return CallerHungUp()

    # ------------------------------------------------------------------ suggestions

    def _scope(self) -> dict[str, Any]:
        return {**self.state.variables, **self.state.slots}

    def _heard_while_escalated(self, role: str, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._suggest(role, text))
        self._suggesting.add(task)
        task.add_done_callback(self._suggesting.discard)

    async def _suggest(self, role: str, text: str) -> None:
        """Suggestions on one line heard; a failure here must never touch the call."""
        try:
            if self._suggester is None:  # a resumed call: the supervisor had it already
                self._suggester = Suggester(self.flow, self.state.node)
            sugg, found = self._suggester, []
            if role == "caller":
                action = sugg.classify_action(text)
                if action is not None and self.effects.intents is not None:
                    result: IntentResult = await self.effects.run_blocking(
                        self.effects.intents.classify, action)
                    found = sugg.on_answer_match(result.intent, result.confidence,
                                                 self._scope())
            else:
                found = sugg.on_supervisor_line(text, self.state.slots)
            for s in found:
                await self._send_suggestion(s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("suggestion for the supervisor failed", exc_info=True)

    async def _send_suggestion(self, s: Suggestion) -> None:
        data = s.as_dict()
        await self.journal.event("suggestion", data)
        await self.channel.send_data(SUGGESTION_TOPIC, data)
