"""Walking nodes: entering each node type, endings, flow-wide handlers.

`StepBase` is one step of the runner (one event applied to a copy of the state); caller
input, agent turns and webhook/escalation results are added by `turns.Step`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from callcenter.flow import expr, templates, urls
from callcenter.flow.actions import (
    Action,
    CallWebhook,
    Escalate,
    Hangup,
    Listen,
    RecordEvent,
    Say,
    Transfer,
)
from callcenter.flow.events import (
    CallerHungUp,
    CallStarted,
    Event,
    MaxDuration,
    ProviderFailure,
    WebhookResult,
)
from callcenter.flow.hours import Schedule, build_schedule
from callcenter.flow.nodes import (
    AgentNode,
    AskNode,
    BranchNode,
    EscalateNode,
    HangupNode,
    HoursNode,
    MenuNode,
    NodeBase,
    SayNode,
    SetNode,
    TransferNode,
    WebhookNode,
)
from callcenter.flow.schema import Flow, Handler
from callcenter.flow.state import Outcome, RunnerState

# Nodes entered in one step without waiting for the caller; more means a loop.
MAX_STEPS_PER_EVENT = 100
# Spoken when an expression cannot be evaluated on what the caller gave us.
EXPRESSION_APOLOGY = "Sorry, something went wrong on our side."


_DIGIT_RUN = re.compile(r"\\d\{(\d+)(?:,\d*)?\}|\[0-9\]\{(\d+)(?:,\d*)?\}")


def expected_digits(node: AskNode) -> int | None:
    """How many digits a complete answer to a digits question has (None: not known).

    From `min_length`, else the pattern's repeat count (`\\d{6}`), so the voice layer can
    wait for the rest of a number said in groups instead of cutting the caller off.
    """
    if node.expect != "digits":
        return None
    if node.min_length:
        return node.min_length
    if node.pattern and (m := _DIGIT_RUN.search(node.pattern)):
        return int(m.group(1) or m.group(2))
    return None


class CompiledFlow:
    """A validated flow with its conditions, computations and schedules parsed once."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.conditions: dict[tuple[str, int], Callable[[Mapping[str, Any]], bool]] = {}
        self.computes: dict[tuple[str, str], expr.Expr] = {}
        self.schedules: dict[str, Schedule] = {}
        for name, node in flow.nodes.items():
            if isinstance(node, BranchNode):
                for i, case in enumerate(node.cases):
                    self.conditions[(name, i)] = expr.compile_condition(case.when)
            elif isinstance(node, SetNode):
                for key, source in node.compute.items():
                    self.computes[(name, key)] = expr.parse(source)
            elif isinstance(node, HoursNode):
                self.schedules[name] = build_schedule(node.timezone, node.schedule, node.holidays)


class StepBase:
    """Node entry, endings and handlers; `turns.Step` adds caller input and replies."""

    def __init__(self, runner: CompiledFlow, state: RunnerState) -> None:
        self.runner = runner
        self.flow = runner.flow
        self.st = state
        self.actions: list[Action] = []

    # ------------------------------------------------------------ helpers

    def record(self, event: str, **data: Any) -> None:
        self.actions.append(RecordEvent(event=event, data=data))

    def scope(self) -> dict[str, Any]:
        """Names visible to templates and conditions: builtins < variables < slots."""
        out: dict[str, Any] = {"flow_name": self.flow.name}
        if self.st.now is not None:
            out |= {"today": self.st.now.date().isoformat(),
                    "now_time": self.st.now.strftime("%H:%M"),
                    "weekday": self.st.now.strftime("%A").lower()}
        return out | self.st.variables | self.st.slots

    def render(self, text: str) -> str:
        return templates.render(text, self.scope())

    def say(self, text: str | None, interruptible: bool = True) -> None:
        if text:
            scope = self.scope()
            said = templates.render(text, scope, spoken=True)
            written = templates.render(text, scope)
            self.actions.append(Say(text=said, interruptible=interruptible,
                                    display=written if written != said else None))

    def wait(self, what: Any) -> None:
        self.st.status = "waiting"
        self.st.waiting_for = what

    def end(self, outcome: Outcome, reason: str) -> None:
        if self.st.was_escalated and outcome == "hangup":
            outcome = "escalated"
        self.st.status = "ended"
        self.st.waiting_for = None
        self.st.outcome = outcome
        self.st.end_reason = reason
        self.record("call_ended", outcome=outcome, reason=reason, node=self.st.node)

    def hang_up(self, outcome: Outcome, reason: str, say: str | None = None) -> None:
        self.say(say, interruptible=False)
        self.actions.append(Hangup(reason=reason))
        self.end(outcome, reason)

    def fire(self, name: str, handler: Handler) -> None:
        """Run a flow-wide handler: optional words, then its target."""
        self.record("handler", handler=name, node=self.st.node, goto=handler.goto)
        self.st.no_input_streak = self.st.no_match_streak = 0
        self.say(handler.say)
        self.goto(handler.goto)

    # ------------------------------------------------------------ walking nodes

    def goto(self, target: str) -> None:
        """Enter `target` and keep going until a node waits or the call ends."""
        next_target: str | None = target
        for _ in range(MAX_STEPS_PER_EVENT):
            if next_target is None:
                return
            node = self.flow.node(next_target)
            self.st.node = next_target
            self.st.path.append(next_target)
            self.st.attempts = 0
            self.st.waiting_for = None
            self.st.readback = None  # a confirmation left unanswered (a handler, a take-over)
            self.st.near_human_node = None
            self.record("node_entered", node=next_target, type=node.type)
            next_target = self.enter(next_target, node)
        self.record("error", message="flow loops without waiting for the caller",
                    node=self.st.node)
        self.hang_up("error", "loop", "Sorry, something went wrong. Goodbye.")

    def enter(self, name: str, node: NodeBase) -> str | None:
        """Perform a node; returns the next node, or None when waiting or ended."""
        if isinstance(node, SayNode):
            self.say(node.text, node.interruptible)
            return node.next
        if isinstance(node, SetNode):
            return self.assign(name, node)
        if isinstance(node, BranchNode):
            return self.branch(name, node)
        if isinstance(node, HoursNode):
            return self.hours(name, node)
        if isinstance(node, AgentNode):
            self.st.agent_turns = 0
            if self.st.skip_answered and self.st.history:
                # Handed back by a supervisor: the agent keeps the conversation (with what
                # the person said) and does not greet the caller a second time.
                self.st.skip_answered = False
                self.prompt(node, None)
                return None
            self.st.history = []
            self.prompt(node, node.greeting)
            return None
        if isinstance(node, AskNode | MenuNode):
            if self.st.skip_answered and node.slot in self.st.slots and isinstance(node, AskNode):
                self.record("slot_already_known", node=name, slot=node.slot)
                return node.next
            self.st.skip_answered = False
            self.prompt(node)
            return None
        if isinstance(node, WebhookNode):
            self.st.webhook_attempt = 1
            self.call_webhook(node)
            return None
        if isinstance(node, EscalateNode):
            self.escalate(node)
            return None
        if isinstance(node, TransferNode):
            self.say(node.say, interruptible=False)
            target = self.render(node.to)
            self.actions.append(Transfer(target=target))
            self.end("transferred", f"transferred to {target}")
            return None
        if isinstance(node, HangupNode):
            self.hang_up("completed", node.reason, node.say)
            return None
        raise AssertionError(f"unhandled node type {type(node).__name__}")

    def assign(self, name: str, node: SetNode) -> str | None:
        scope = self.scope()
        for key, value in node.values.items():
            self.st.variables[key] = templates.render_value(value, scope)
        for key in node.compute:
            try:
                value = expr.evaluate(self.runner.computes[(name, key)], self.scope())
            except expr.ExprError as exc:
                return self.expression_failed(name, f"compute {key}: {exc}")
            self.st.variables[key] = value
        changed = {k: self.st.variables[k] for k in [*node.values, *node.compute]}
        self.record("variables_set", node=name, values=changed)
        return node.next

    def expression_failed(self, name: str, message: str) -> str | None:
        """A caller-driven value broke an expression: apologise, take the error route.

        Going on with a guessed value (null, or a condition taken as false) would act on
        data the flow never had; the flow's `provider_failure` handler is its error route.
        Returns the handler's target for `goto`'s loop (whose step bound also stops a
        handler that leads straight back here), or None when the call ends.
        """
        self.record("error", node=name, message=message, kind="expression")
        handler = self.flow.handlers.provider_failure
        if handler is None or self.st.status == "escalated":
            self.hang_up("error", "expression_failed", EXPRESSION_APOLOGY + " Goodbye.")
            return None
        self.record("handler", handler="provider_failure", node=name, goto=handler.goto)
        self.st.no_input_streak = self.st.no_match_streak = 0
        self.say(handler.say or EXPRESSION_APOLOGY, interruptible=False)
        return handler.goto

    def branch(self, name: str, node: BranchNode) -> str | None:
        scope = self.scope()
        for i, case in enumerate(node.cases):
            try:
                taken = self.runner.conditions[(name, i)](scope)
            except expr.ExprError as exc:
                return self.expression_failed(name, f"condition {case.when!r}: {exc}")
            if taken:
                self.record("branch", node=name, when=case.when, goto=case.goto)
                return case.goto
        self.record("branch", node=name, when=None, goto=node.otherwise)
        return node.otherwise

    def hours(self, name: str, node: HoursNode) -> str:
        if self.st.now is None:
            # No clock in the events: say so on the timeline and play it safe (closed).
            self.record("error", node=name, message="no time given; treating as closed")
            return node.closed
        is_open = self.runner.schedules[name].is_open(self.st.now)
        self.record("hours", node=name, open=is_open, at=self.st.now.isoformat())
        return node.open if is_open else node.closed

    def prompt(
        self, node: AskNode | MenuNode | AgentNode, text: str | None = None, *, speak: bool = True
    ) -> None:
        """Say `text` (default: the node's prompt, if `speak`) and listen for the answer."""
        if isinstance(node, AgentNode):
            self.say(text)
            self.actions.append(Listen(timeout=node.timeout))
        elif isinstance(node, MenuNode):
            if speak:
                self.say(text or node.prompt)
            keys = [o.key for o in node.options if o.key is not None]
            hints = [p for o in node.options for p in o.phrases]
            self.actions.append(Listen(slot=node.slot, timeout=node.timeout, dtmf_keys=keys,
                                       dtmf_terminator=None, dtmf_max_digits=1, hints=hints))
        else:
            if speak:
                self.say(text or node.prompt)
            hints = list(node.hints) + [c if isinstance(c, str) else c.value
                                        for c in node.choices]
            keys = [c.key for c in node.choices if not isinstance(c, str) and c.key]
            terminator, max_digits = node.dtmf.terminator, node.dtmf.max_digits
            if "dtmf" not in node.model_fields_set and (node.expect == "yes_no" or keys):
                # One key answers these (1 = yes, 2 = no; a choice's key): no '#' needed.
                terminator, max_digits = None, 1
                keys = keys or ["1", "2"]
            self.actions.append(Listen(
                slot=node.slot, modes=list(node.input), timeout=node.timeout, hints=hints,
                dtmf_terminator=terminator, dtmf_max_digits=max_digits, dtmf_keys=keys,
                dtmf_inter_digit_timeout=node.dtmf.inter_digit_timeout,
                expect_digits=expected_digits(node), expect_yes_no=node.expect == "yes_no",
                expect=node.expect))
        self.wait("input")

    def call_webhook(self, node: WebhookNode) -> None:
        self.st.request_seq += 1
        self.st.request_id = f"{self.st.node}-{self.st.request_seq}"
        scope = self.scope()
        self.actions.append(CallWebhook(
            request_id=self.st.request_id, url=urls.render_url(node.url, scope),
            method=node.method, timeout=node.timeout, attempt=self.st.webhook_attempt,
            headers={k: templates.render(v, scope) for k, v in node.headers.items()},
            body=templates.render_value(node.body, scope)))
        self.wait("webhook")

    def escalate(self, node: EscalateNode) -> None:
        self.actions.append(Escalate(
            queue=node.queue, priority=node.priority, reason=self.render(node.reason),
            hold_prompt=self.render(node.hold_prompt), timeout=node.timeout,
            position_every=node.position_every,
            summary={"slots": dict(self.st.slots), "path": list(self.st.path),
                     "agent_reason": self.st.variables.get("escalation_reason")}))
        self.record("escalation_requested", queue=node.queue, priority=node.priority)
        self.wait("escalation")

    # ------------------------------------------------------------ events any time

    def handle(self, event: Event) -> None:
        if event.now is not None:
            self.st.now = event.now
        if self.st.ended:
            self.record("ignored", kind=event.kind, why="call already ended")
            return
        if isinstance(event, CallStarted):
            self.start(event)
            return
        if isinstance(event, CallerHungUp):
            self.end("hangup", "caller hung up")
            return
        if self.st.status == "new":
            self.record("ignored", kind=event.kind, why="call not started")
            return
        if isinstance(event, MaxDuration) or self.over_time():
            self.max_duration()
            if isinstance(event, MaxDuration) or self.st.ended:
                return
        if isinstance(event, ProviderFailure):
            self.provider_failure(event)
            return
        self.dispatch(event)

    def start(self, event: CallStarted) -> None:
        if self.st.status != "new":
            self.record("ignored", kind=event.kind, why="call already started")
            return
        self.st.started_at = event.now
        self.st.variables |= {"call_id": event.call_id, "caller_id": event.caller_id,
                              "dialed_number": event.dialed_number, **event.variables}
        self.record("call_started", flow=self.flow.name, caller_id=event.caller_id)
        self.goto(self.flow.start)

    def over_time(self) -> bool:
        handler = self.flow.handlers.max_duration
        if handler is None or self.st.max_duration_fired or self.st.started_at is None:
            return False
        if self.st.now is None:
            return False
        return (self.st.now - self.st.started_at) >= dt.timedelta(seconds=handler.seconds)

    def max_duration(self) -> None:
        handler = self.flow.handlers.max_duration
        if self.st.max_duration_fired:
            return
        self.st.max_duration_fired = True
        if self.st.status == "escalated":
            self.record("handler", handler="max_duration", node=self.st.node, skipped=True)
        elif handler is not None:
            self.fire("max_duration", handler)
        else:
            self.hang_up("completed", "max_duration",
                         "We've reached the time limit for this call. Goodbye.")

    def provider_failure(self, event: ProviderFailure) -> None:
        raise NotImplementedError  # turns.Step

    def save_webhook(self, node: WebhookNode, event: WebhookResult) -> None:
        raise NotImplementedError  # turns.Step

    def dispatch(self, event: Event) -> None:
        raise NotImplementedError  # turns.Step

    def classified_answer(self, node: AskNode, text: str) -> None:
        raise NotImplementedError  # readback.ReadbackSteps, for meaning_steps.MeaningSteps

