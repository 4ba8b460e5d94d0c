"""The one action interpreter: walks a flow over any `Channel`.

The loop is: runner.step(event) -> actions -> perform them -> the event they produce ->
runner.step ... Performing an action is the only place with IO. A voice call
(`CallSession`), `callcenter chat` and the admin's "try it" all run this loop; they differ
only in their channel (how words reach the caller) and journal (what is recorded).

The flow's `RunnerState.history` is the one conversation: before each step, what the caller
actually heard of the agent's interrupted speech replaces what was planned (`FlowRunner.heard`).

Outside the call (a supervisor's console, the control bus) events can be injected with
`inject()`: they replace whatever the call was waiting for (e.g. a hand-back while on hold).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from callcenter.callsession.channel import Channel, Journal, Spoken
from callcenter.callsession.effects import IntentService, call_webhook, run_agent_turn
from callcenter.callsession.second_hearing import HEARD_AGAIN_CONFIDENCE, misses
from callcenter.callsession.supervised import (
    BRIEF_TOPIC,
    PRIORITY,
    TAKE_OVER_QUEUE,
    SupervisedActions,
    position_line,
    take_over_record,
)
from callcenter.escalation.port import CallEscalation, NoSupervisors
from callcenter.escalation.suggestions import Suggester
from callcenter.flow.actions import (
    Action,
    AgentTurn,
    CallWebhook,
    ClassifyIntent,
    Escalate,
    Hangup,
    Listen,
    RecordEvent,
    Say,
    Transfer,
)
from callcenter.flow.events import (
    AgentReply,
    CallerHungUp,
    EscalationResult,
    Event,
    IntentResult,
    MaxDuration,
    ProviderFailure,
    TakenOver,
    UserSaid,
    WebhookResult,
)
from callcenter.flow.runner import FlowRunner
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.rooms.base import RoomCapabilityError, TransferFailed
from callcenter.speech import LLM

T = TypeVar("T")
log = logging.getLogger(__name__)
StepHook = Callable[[RunnerState, list[Action]], Awaitable[None]]
async def _inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


@dataclass
class Effects:
    """The side-effect services a flow needs; shared by every channel."""

    http: httpx.AsyncClient
    llm: LLM | None = None
    # None: agent nodes cannot classify (a ProviderFailure follows the flow's error route).
    intents: IntentService | None = None
    escalations: CallEscalation = field(default_factory=NoSupervisors)
    # Runs CPU work (intent embeddings) off the event loop; inline for a text chat.
    run_blocking: Callable[..., Awaitable[Any]] = _inline


class FlowInterpreter(SupervisedActions):
    """Performs a flow's actions on one channel until the call ends."""

    def __init__(
        self,
        flow: Flow,
        channel: Channel,
        effects: Effects,
        journal: Journal,
        *,
        call_id: str = "",
        now: Callable[[], dt.datetime],
        elapsed_s: Callable[[], float] | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        self.flow = flow
        self.call_id = call_id
        self.runner = FlowRunner(flow)
        self.state = self.runner.new_state()
        self.channel, self.effects, self.journal = channel, effects, journal
        self.now = now
        self.elapsed_s = elapsed_s
        self.on_step = on_step
        self.last_spoken: Spoken | None = None
        self._streamed: str | None = None  # an agent reply already spoken while it streamed
        self._unsettled: list[Spoken] = []  # speech whose heard text the history lacks yet
        self._injected: deque[Event] = deque()
        # Streamed replies: the whole text, which their handle may never have read.
        self._planned: dict[int, str] = {}
        self._performing: asyncio.Task[Any] | None = None  # the task running perform()
        self._interrupted = False  # inject() cancelled it
        self._escalation: Escalate | None = None  # the escalation in progress, for its record
        self._suggester: Suggester | None = None  # while a supervisor has the call
        self._suggesting: set[asyncio.Task[None]] = set()
        self._late: set[asyncio.Task[WebhookResult]] = set()  # webhooks a take-over interrupted
        # The last classification, kept so the trial step of `_heard_again` is not paid twice.
        self._classified: tuple[ClassifyIntent, Event] | None = None

    # ------------------------------------------------------------------ the loop

    async def start(self, first: Event) -> list[Action]:
        """Apply the call's first event (CallStarted); returns the actions to run."""
        return await self.step(first)

    def resume(self, state: RunnerState, pending: list[Action]) -> list[Action]:
        """Continue a call another worker checkpointed: only re-arm what it waited for.

        Prompts were heard before the crash, so they are not said again.
        """
        self.state = state
        if state.status == "escalated" and state.taken_over_at is not None:
            self._escalation = take_over_record(None)  # so the hand-back closes its row
        return [a for a in pending if not isinstance(a, Say | RecordEvent)]

    async def run(self, actions: list[Action]) -> RunnerState:
        """Perform actions and step the flow until the call is over."""
        while True:
            event = await self._next_event(actions)
            if event is None:
                return self.state
            if isinstance(event, UserSaid):
                event = await self._heard_again(event)
            actions = await self.step(event)

    async def step(self, event: Event) -> list[Action]:
        self._settle_heard()
        was_escalated = self.state.status == "escalated"
        self.state, actions = self.runner.step(self.state, self._stamp(event))
        if isinstance(event, TakenOver) and not was_escalated and (
                self.state.taken_over_at is not None):
            await self._taken_over(event)
        if was_escalated and self.state.status != "escalated":
            handed_back = isinstance(event, EscalationResult) and event.outcome == "handed_back"
            await self.effects.escalations.close(self.call_id,
                                                 "returned" if handed_back else "ended")
            if (esc := self._escalation) is not None:
                await self.journal.escalation(esc.queue, PRIORITY.get(str(esc.priority), 1),
                                              esc.reason,
                                              "handed_back" if handed_back else "ended")
            if not isinstance(event, CallerHungUp):
                await self.channel.set_listen_only(False)  # handed back: the agent speaks again
        if self.on_step is not None:
            await self.on_step(self.state, actions)
        return actions

    async def _heard_again(self, event: UserSaid) -> UserSaid:
        """The caller's turn, or a second recognizer's reading of it if only that one is
        understood (`second_hearing`): a missed answer is heard again before the caller is
        asked to repeat it. Channels without a second recognizer pay nothing."""
        hear = getattr(self.channel, "hear_again", None)
        if (hear is None or not getattr(self.channel, "can_hear_again", True)
                or self.state.status == "escalated" or not event.text.strip()):
            return event
        if not await misses(self.runner, self.state, self._stamp(event), self._classify):
            return event
        try:
            readings = await hear()
        except Exception as exc:  # a second opinion is never worth the call: ask again
            log.warning("call %s: hearing a turn again failed (%s: %s)", self.call_id,
                        type(exc).__name__, exc)
            return event
        for again in readings:
            if not again or again.strip() == event.text.strip():
                continue
            second = event.model_copy(update={
                "text": again, "confidence": min(event.confidence, HEARD_AGAIN_CONFIDENCE)})
            if await misses(self.runner, self.state, self._stamp(second), self._classify):
                continue
            await self.journal.event("heard_again", {"first": event.text, "second": again})
            return second
        return event

    def inject(self, event: Event) -> None:
        """Deliver an event from outside the call (a supervisor's command).

        It replaces whatever the call is waiting for: the running `perform` is cancelled
        (and told why), so the common path pays nothing for the possibility.
        """
        self._injected.append(event)
        if self._performing is not None and not self._interrupted:
            self._interrupted = True
            self._performing.cancel()

    def injected(self) -> list[Event]:
        """Events delivered by `inject` that the flow has not applied yet (oldest first)."""
        return list(self._injected)

    async def _next_event(self, actions: list[Action]) -> Event | None:
        if self._injected:
            return self._injected.popleft()
        task = asyncio.current_task()
        assert task is not None
        self._performing, self._interrupted = task, False
        try:
            return await self.perform(actions)
        except asyncio.CancelledError:
            # Ours (an injected event) only if nobody else asked to cancel the call too.
            if not self._interrupted or task.cancelling() > 1:
                raise
            task.uncancel()
            return self._injected.popleft()
        finally:
            self._performing = None
            if self._interrupted and task.cancelling():
                # perform swallowed our cancel and finished: the event waits for the next turn.
                task.uncancel()
            self._interrupted = False

    # ------------------------------------------------------------------ actions

    async def perform(self, actions: list[Action]) -> Event | None:
        """Do the actions in order; return the event the last one produced (None: call over)."""
        for i, action in enumerate(actions):
            if not isinstance(action, Say | RecordEvent):
                # This action ends the step (it waits, or ends the call): the timeline
                # entries the runner put after it (escalation_requested, call_ended) are
                # recorded now, or they would never be.
                for later in actions[i + 1 :]:
                    if isinstance(later, RecordEvent):
                        await self.journal.event(later.event, later.data)
            match action:
                case RecordEvent():
                    await self.journal.event(action.event, action.data)
                case Say():
                    if self._streamed is not None and action.text == self._streamed:
                        self._streamed = None  # already spoken while the LLM wrote it
                        continue
                    text = action.display if self.channel.written and action.display else (
                        action.text)
                    self._speak(text, interruptible=action.interruptible)
                case Listen():
                    self.channel.prepare_listen(action)
                    failure = await self._speech_failed()
                    if failure is not None:
                        return failure
                    self.last_spoken = None
                    return await self.channel.listen(action)
                case CallWebhook():
                    return await self._webhook(action)
                case ClassifyIntent():
                    return await self._classify(action)
                case AgentTurn():
                    return await self._agent_turn(action)
                case Escalate():
                    return await self._escalate(action)
                case Transfer():
                    await self._transfer(action)
                    return None
                case Hangup():
                    await self._wait_spoken()
                    await self.channel.hang_up()
                    return None
        if self.state.ended:
            return None
        if self.state.status == "escalated":
            # A person has the call: nothing to do until they hand it back or end it (an
            # injected event) or the caller hangs up.
            return await self._while_escalated()
        raise RuntimeError(
            f"flow {self.flow.name!r} stopped at node {self.state.node!r} without waiting "
            "for anything: this is a runner bug, please report it with the flow file"
        )

    def _speak(self, text: str | AsyncIterator[str], *, interruptible: bool = True) -> Spoken:
        spoken = self.channel.say(text, interruptible=interruptible)
        self.last_spoken = spoken
        self._unsettled.append(spoken)
        return spoken

    async def _wait_spoken(self) -> None:
        if self.last_spoken is not None:
            await self.last_spoken.wait()

    async def _speech_failed(self) -> Event | None:
        """If the prompt could not be spoken (every TTS failed), apologise and tell the flow.

        The caller must never wait in silence for an answer to a question never heard.
        """
        spoken = self.last_spoken
        if spoken is None:
            return None
        await spoken.wait()
        if spoken.error is None or spoken.heard_text.strip() == spoken.planned_text.strip():
            return None
        await self.journal.event("provider_failure",
                                 {"component": "tts", "error": str(spoken.error)})
        await self.channel.apologise()
        self.last_spoken = None
        return ProviderFailure(component="tts", message=str(spoken.error))

    async def _webhook(self, action: CallWebhook) -> Event:
        request = asyncio.ensure_future(call_webhook(action, self.effects.http))
        try:
            return await asyncio.shield(request)
        except asyncio.CancelledError:
            if not self._interrupted:
                request.cancel()  # the call itself is going away
                raise
            # A supervisor's event (a take-over) replaced the wait, but the request is
            # already out: its reply still reaches the flow, which keeps it for the
            # hand-back instead of sending the request again.
            self._late.add(request)
            request.add_done_callback(self._late_reply)
            raise

    def _late_reply(self, request: asyncio.Task[WebhookResult]) -> None:
        self._late.discard(request)
        if request.cancelled() or request.exception() is not None or self.state.ended:
            return
        self.inject(request.result())

    async def _classify(self, action: ClassifyIntent) -> Event:
        intents = self.effects.intents
        if intents is None:
            return ProviderFailure(component="intents", message="no intent classifier configured")
        if self._classified is not None and self._classified[0] == action:
            return self._classified[1]  # asked already by `_heard_again`'s trial step
        # Embedding is CPU work (~20 ms, more on first use): keep it off the event loop.
        result: IntentResult = await self.effects.run_blocking(intents.classify, action)
        self._classified = (action, result)
        return result

    async def _agent_turn(self, action: AgentTurn) -> Event:
        llm = self.effects.llm
        if llm is None:
            return ProviderFailure(component="llm", message="no LLM configured for agent nodes")
        deltas: asyncio.Queue[str | None] = asyncio.Queue()

        def end() -> None:
            deltas.put_nowait(None)

        async def text() -> AsyncIterator[str]:
            while (delta := await deltas.get()) is not None:
                yield delta

        # Speak while the model writes: the first clause plays before the reply is complete.
        spoken = self._speak(text())
        reply_task = asyncio.ensure_future(
            run_agent_turn(action, llm, on_text=deltas.put_nowait, on_end=end))
        dropped = asyncio.ensure_future(spoken.wait())
        try:
            await asyncio.wait({reply_task, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not reply_task.done():
                reply_task.cancel()
            dropped.cancel()
            end()
        if not reply_task.done() or reply_task.cancelled():
            # The voice dropped the reply before the model finished (the caller went on
            # talking): stop paying for it; the caller's next words get a fresh turn, and
            # the unheard reply never enters the conversation.
            await asyncio.gather(reply_task, return_exceptions=True)
            self._planned[id(spoken)] = ""
            return AgentReply(text="")
        reply = reply_task.result()
        if isinstance(reply, AgentReply):
            self._streamed = reply.text
            # The handle only knows the text it read; the interpreter knows the whole reply.
            self._planned[id(spoken)] = reply.text
        return reply

    async def transfer_now(self, action: Transfer) -> None:
        """A transfer ordered from outside the flow (a supervisor): the call ends here."""
        self.state.status, self.state.outcome = "ended", "transferred"
        self.state.end_reason = f"transferred to {action.target} by a supervisor"
        await self._transfer(action)

    async def _transfer(self, action: Transfer) -> None:
        await self._wait_spoken()
        await self.journal.event("transferred", {"to": action.target})
        try:
            await self.channel.transfer(action.target)
        except RoomCapabilityError as exc:
            await self.journal.event("transfer_unsupported", {"error": str(exc)})
        except TransferFailed as exc:
            await self.journal.event("transfer_failed",
                                     {"error": str(exc), "sip_status": exc.sip_status})
        await self.channel.hang_up()

    # ------------------------------------------------------------------ bookkeeping

    def _settle_heard(self) -> None:
        """Cut the conversation to what the caller heard of speech that has finished."""
        still: list[Spoken] = []
        for spoken in self._unsettled:
            if not spoken.done():
                still.append(spoken)
            else:
                planned = self._planned.pop(id(spoken), spoken.planned_text)
                if spoken.interrupted:
                    self.state = self.runner.heard(self.state, planned, spoken.heard_text)
        self._unsettled = still

    def _stamp(self, event: Event) -> Event:
        handler = self.flow.handlers.max_duration
        if (handler and self.elapsed_s is not None and not self.state.max_duration_fired
                and self.elapsed_s() >= handler.seconds):
            return MaxDuration(now=self.now())
        return event.model_copy(update={"now": self.now()})


# Names callers import from here (the supervised half lives in `supervised`).
__all__ = ["BRIEF_TOPIC", "TAKE_OVER_QUEUE", "Effects", "FlowInterpreter", "position_line"]
