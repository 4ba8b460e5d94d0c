"""The conversational half of a runner step: caller input, agent turns, results coming back.

Input is checked against the waiting node (ask: value rules; menu: keys and phrases; agent:
intents, then the LLM). Retries, no-input/no-match prompts and the flow-wide silence,
no-match and human-request handlers are applied here; what a spoken answer means (a request
for a person, a menu option in the caller's own words) is judged by `meaning_steps`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from callcenter.flow import values
from callcenter.flow.actions import AgentMessage, AgentTurn, CallWebhook, ClassifyIntent, Listen
from callcenter.flow.events import (
    AgentReply,
    DtmfReceived,
    EscalationResult,
    Event,
    IntentResult,
    NoInput,
    ProviderFailure,
    TakenOver,
    ToolCallRequest,
    UserSaid,
    WebhookResult,
)
from callcenter.flow.meaning_steps import MeaningSteps
from callcenter.flow.nodes import (
    AgentNode,
    AskNode,
    EscalateNode,
    MenuNode,
    MenuOption,
    WebhookNode,
)
from callcenter.flow.readback import ReadbackSteps
from callcenter.flow.schema import BUILTIN_TOOLS
from callcenter.flow.supervised import SupervisedSteps

AGENT_RETRIES = 2
DEFAULT_NO_MATCH = "Sorry, I didn't get that."
# Intent names of an agent node's knowledge items for the classifier: `knowledge:<index>`.
KNOWLEDGE = "knowledge:"


# MeaningSteps first: ReadbackSteps only declares the `wants_human` and `classify` it calls,
# and those declarations must not hide MeaningSteps' own.
class Step(MeaningSteps, ReadbackSteps, SupervisedSteps):
    """One event applied to the state (see FlowRunner.step)."""

    def dispatch(self, event: Event) -> None:
        waiting = self.st.waiting_for
        node = self.flow.node(self.st.node) if self.st.node else None
        if isinstance(event, TakenOver):
            self.take_over(event)
        elif isinstance(event, EscalationResult) and self.st.taken_over_at is not None:
            self.taken_over_result(event)
        elif isinstance(event, WebhookResult) and self.st.taken_over_at is not None:
            self.taken_over_webhook(event)
        elif waiting == "input" and isinstance(event, UserSaid | DtmfReceived | NoInput):
            assert isinstance(node, AskNode | MenuNode | AgentNode)
            if not (isinstance(node, AskNode) and self.confirming(node, event)):  # `readback`
                self.caller_input(node, event)
        elif waiting == "intent" and isinstance(event, IntentResult):
            assert isinstance(node, AskNode | MenuNode | AgentNode)
            self.meaning_result(node, event)
        elif waiting == "agent" and isinstance(event, AgentReply):
            assert isinstance(node, AgentNode)
            self.agent_reply(node, event)
        elif waiting == "webhook" and isinstance(event, WebhookResult):
            self.webhook_result(event)
        elif isinstance(event, EscalationResult) and (
                waiting == "escalation" or self.st.status == "escalated"):
            assert isinstance(node, EscalateNode)
            self.escalation_result(node, event)
        else:
            self.record("ignored", kind=event.kind, waiting_for=waiting, node=self.st.node)

    # ------------------------------------------------------------ caller input

    def caller_input(self, node: AskNode | MenuNode | AgentNode,
                     event: UserSaid | DtmfReceived | NoInput) -> None:
        if isinstance(event, NoInput):
            self.no_input(node)
            return
        from_dtmf = isinstance(event, DtmfReceived)
        text = event.digits if isinstance(event, DtmfReceived) else event.text
        self.record("caller_input", node=self.st.node, text=text, dtmf=from_dtmf)
        if not from_dtmf and self.wants_human(text, node):
            return
        if isinstance(node, AskNode):
            if from_dtmf or not self.needs_meaning(node, text):
                self.answer(node, text, from_dtmf)
            else:
                self.classify(node, text, {})
        elif isinstance(node, MenuNode):
            if from_dtmf or not self.menu_by_meaning(node, text):
                self.choose(node, text, from_dtmf)
        else:
            self.agent_input(node, text)

    def answer(self, node: AskNode, text: str, from_dtmf: bool) -> None:
        mode = "dtmf" if from_dtmf else "speech"
        if from_dtmf and node.dtmf.terminator:
            text = text.split(node.dtmf.terminator)[0]
        today = (self.st.now or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).date()
        value = values.parse_answer(node, text, from_dtmf=from_dtmf, today=today)
        if mode not in node.input or value is None:
            self.no_match(node)
            return
        self.heard(node, value, from_dtmf)  # stored, or read back if heard unsurely

    def choose(self, node: MenuNode, text: str, from_dtmf: bool) -> None:
        picked = None
        digits = text.strip() if from_dtmf else values.keypad_word(text)
        for option in node.options:
            if option.key is not None and digits == option.key:
                picked = option
                break
        if picked is None and not from_dtmf:
            choice = values.match_choice(text, [p for o in node.options for p in o.phrases])
            picked = next((o for o in node.options if choice in o.phrases), None)
        if picked is None:
            self.no_match(node)
            return
        self.pick(node, picked)

    def pick(self, node: MenuNode, picked: MenuOption) -> None:
        if node.slot:
            self.set_slot(node.slot, picked.value or picked.key or picked.goto)
        self.goto(picked.goto)

    def set_slot(self, slot: str, value: Any) -> None:
        self.st.slots[slot] = value
        self.st.no_match_streak = self.st.no_input_streak = 0
        self.record("slot_set", node=self.st.node, slot=slot, value=value)

    def no_input(self, node: AskNode | MenuNode | AgentNode) -> None:
        self.st.no_input_streak += 1
        self.st.attempts += 1
        self.record("no_input", node=self.st.node, attempt=self.st.attempts)
        handler = self.flow.handlers.silence
        if handler is not None and self.st.no_input_streak >= handler.after:
            self.fire("silence", handler)
            return
        retries = AGENT_RETRIES if isinstance(node, AgentNode) else node.retries
        if self.st.attempts > retries:
            self.failed(node, "no_input")
            return
        if isinstance(node, AgentNode):
            self.prompt(node, "Are you still there?")
        else:
            self.prompt(node, node.no_input)

    def no_match(self, node: AskNode | MenuNode | AgentNode) -> None:
        self.st.no_match_streak += 1
        self.st.no_input_streak = 0
        self.st.attempts += 1
        self.record("no_match", node=self.st.node, attempt=self.st.attempts)
        handler = self.flow.handlers.no_match
        if handler is not None and self.st.no_match_streak >= handler.after:
            self.fire("no_match", handler)
            return
        if isinstance(node, AgentNode):
            if self.st.attempts > AGENT_RETRIES:
                self.failed(node, "no_match")
            else:
                self.prompt(node, node.fallback)
            return
        if self.st.attempts > node.retries:
            self.failed(node, "no_match")
            return
        self.say(node.no_match or DEFAULT_NO_MATCH)
        # Repeat the question unless the no-match text already says what to do.
        self.prompt(node, speak=not node.no_match)

    def failed(self, node: AskNode | MenuNode | AgentNode, why: str) -> None:
        """Retries ran out: the node's failure route, else the matching handler, else goodbye."""
        target = node.on_failure if not isinstance(node, AgentNode) else node.on_max_turns
        self.record("retries_exhausted", node=self.st.node, why=why)
        if target:
            self.goto(target)
            return
        handler = self.flow.handlers.silence if why == "no_input" else self.flow.handlers.no_match
        if handler is not None:
            self.fire(why, handler)
        else:
            self.hang_up("completed", f"{why}_retries_exhausted",
                         "Sorry, I wasn't able to help. Please call again. Goodbye.")

    # ------------------------------------------------------------ agent nodes

    def agent_input(self, node: AgentNode, text: str) -> None:
        if node.intents or node.knowledge:
            self.st.pending_text = text
            # Knowledge questions are retrieved like intents: the nearest `q` answers.
            known = {f"{KNOWLEDGE}{i}": [k.q] for i, k in enumerate(node.knowledge)}
            self.actions.append(ClassifyIntent(
                text=text, min_confidence=node.min_confidence,
                intents={**self.human_examples(), **known,
                         **{i.name: list(i.examples) for i in node.intents}}))
            self.wait("intent")
        elif node.use_llm:
            self.agent_turn(node, text)
        else:
            self.no_match(node)

    def intent_result(self, node: AgentNode, event: IntentResult) -> None:
        text, self.st.pending_text = self.st.pending_text or "", None
        intent = next((i for i in node.intents if i.name == event.intent), None)
        if (event.intent or "").startswith(KNOWLEDGE) and (
                event.confidence >= node.min_confidence):
            index = int((event.intent or "").removeprefix(KNOWLEDGE))
            self.known_answer(node, index, text, event.confidence)
        elif intent is not None and event.confidence >= node.min_confidence:
            self.st.variables["last_intent"] = intent.name
            self.st.no_match_streak = 0
            self.record("intent", node=self.st.node, intent=intent.name,
                        confidence=event.confidence)
            if intent.goto:
                self.goto(intent.goto)
                return
            answer = self.render(intent.say or "")
            self.st.history += [AgentMessage(role="user", content=text),
                                AgentMessage(role="assistant", content=answer)]
            self.st.attempts = 0
            self.prompt(node, intent.say)
        elif node.use_llm:
            self.agent_turn(node, text)
        else:
            self.no_match(node)

    def known_answer(self, node: AgentNode, index: int, text: str, confidence: float) -> None:
        """Answer from the node's knowledge without the LLM, and stay in the node."""
        known = node.knowledge[index]
        self.st.no_match_streak = 0
        self.record("knowledge", node=self.st.node, q=known.q, confidence=confidence)
        answer = self.render(known.a)
        self.st.history += [AgentMessage(role="user", content=text),
                            AgentMessage(role="assistant", content=answer)]
        self.st.attempts = 0
        self.prompt(node, known.a)

    def agent_instructions(self, node: AgentNode) -> str:
        """The node's instructions, with its knowledge as context the LLM may answer from."""
        text = self.render(node.instructions)
        if not node.knowledge:
            return text
        facts = "\n".join(f"Q: {k.q}\nA: {self.render(k.a)}" for k in node.knowledge)
        return (f"{text}\n\nAnswers our team has given to callers (use them when they fit, "
                f"in your own words):\n{facts}")

    def agent_turn(self, node: AgentNode, user_text: str | None) -> None:
        if user_text is not None:
            self.st.history.append(AgentMessage(role="user", content=user_text))
        self.st.agent_turns += 1
        if self.st.agent_turns > node.max_turns:
            self.record("agent_max_turns", node=self.st.node, turns=node.max_turns)
            self.failed(node, "max_turns")
            return
        self.actions.append(AgentTurn(
            instructions=self.agent_instructions(node), history=list(self.st.history),
            tools=[self.tool_spec(name) for name in node.tools]))
        self.wait("agent")

    def tool_spec(self, name: str) -> dict[str, Any]:
        if name == "escalate":
            return {"name": name, "description": "Hand the call to a human supervisor.",
                    "parameters": {"type": "object", "properties": {
                        "reason": {"type": "string"}}}}
        if name == "end_conversation":
            return {"name": name, "description": "The caller has no more questions.",
                    "parameters": {"type": "object", "properties": {}}}
        tool = self.flow.tools[name]
        return {"name": name, "description": tool.description, "parameters": tool.parameters}

    def agent_reply(self, node: AgentNode, event: AgentReply) -> None:
        calls = [{"id": c.id, "name": c.name, "arguments": json.dumps(c.arguments)}
                 for c in event.tool_calls]
        if event.text or calls:
            # An empty reply (dropped unheard because the caller went on) is no turn at all.
            self.st.history.append(AgentMessage(role="assistant", content=event.text,
                                                tool_calls=calls))
        self.st.attempts = 0
        self.say(event.text)
        self.st.pending_tools = list(event.tool_calls)
        self.next_tool(node)

    def next_tool(self, node: AgentNode, had_tools: bool = False) -> None:
        """Run queued tool calls one by one; then the LLM again (or listen if none were made)."""
        while self.st.pending_tools:
            had_tools = True
            call = self.st.pending_tools.pop(0)
            self.record("tool_call", node=self.st.node, tool=call.name, arguments=call.arguments)
            if call.name not in node.tools:
                self.tool_result(call, {"error": f"tool {call.name!r} is not allowed here"})
            elif call.name == "escalate":
                reason = call.arguments.get("reason")
                if reason:
                    self.st.variables["escalation_reason"] = str(reason)[:300]
                target = node.on_escalate or (self.flow.handlers.human_request.goto
                                              if self.flow.handlers.human_request else None)
                self.st.pending_tools = []
                if target:
                    self.goto(target)
                else:
                    self.tool_result(call, {"error": "no escalation route configured"})
                    continue
                return
            elif call.name == "end_conversation":
                self.st.pending_tools = []
                if node.on_done:
                    self.goto(node.on_done)
                else:
                    self.hang_up("completed", "conversation_done", "Thanks for calling. Goodbye.")
                return
            elif call.name not in BUILTIN_TOOLS:
                self.tool_webhook(call)
                return
        if had_tools:
            self.agent_turn(node, None)
        else:
            self.actions.append(Listen(timeout=node.timeout))
            self.wait("input")

    def tool_webhook(self, call: ToolCallRequest) -> None:
        tool = self.flow.tools[call.name]
        self.st.request_seq += 1
        self.st.request_id = f"tool:{call.id}"
        self.actions.append(CallWebhook(
            request_id=self.st.request_id, url=tool.url, method=tool.method,
            headers=dict(tool.headers), body=call.arguments, timeout=tool.timeout))
        self.wait("webhook")

    def tool_result(self, call: ToolCallRequest, content: Any) -> None:
        self.st.history.append(AgentMessage(role="tool", tool_call_id=call.id, name=call.name,
                                            content=json.dumps(content, default=str)))

    # ------------------------------------------------------------ results

    def webhook_result(self, event: WebhookResult) -> None:
        if event.request_id != self.st.request_id:
            self.record("ignored", kind=event.kind, why="stale request", id=event.request_id)
            return
        self.record("webhook_result", node=self.st.node, ok=event.ok, status=event.status,
                    error=event.error)
        node = self.flow.node(self.st.node or "")
        if isinstance(node, AgentNode):
            call_id = (event.request_id or "").removeprefix("tool:")
            call = ToolCallRequest(id=call_id, name=self.tool_name(call_id))
            self.tool_result(call, event.data if event.ok else {"error": event.error or
                                                                 f"HTTP {event.status}"})
            self.next_tool(node, had_tools=True)
            return
        assert isinstance(node, WebhookNode)
        if event.ok:
            self.save_webhook(node, event)
            self.goto(node.next)
        elif self.st.webhook_attempt <= node.retries:
            self.st.webhook_attempt += 1
            self.call_webhook(node)
        elif node.on_failure:
            self.goto(node.on_failure)
        elif self.flow.handlers.provider_failure:
            self.fire("provider_failure", self.flow.handlers.provider_failure)
        else:
            self.hang_up("error", "webhook_failed", "Sorry, something went wrong. Goodbye.")

    def save_webhook(self, node: WebhookNode, event: WebhookResult) -> None:
        """The node's `save` variables from a successful reply."""
        saved = {var: _path(event.data, path) for var, path in node.save.items()}
        self.st.variables |= saved
        self.record("variables_set", node=self.st.node, values=saved)

    def tool_name(self, call_id: str) -> str:
        for message in reversed(self.st.history):
            for c in message.tool_calls:
                if c.get("id") == call_id:
                    return str(c.get("name"))
        return "unknown"

    def provider_failure(self, event: ProviderFailure) -> None:
        self.record("provider_failure", node=self.st.node, component=event.component,
                    message=event.message)
        node = self.flow.node(self.st.node) if self.st.node else None
        if isinstance(node, AgentNode) and event.component in ("llm", "intents") and (
                self.st.waiting_for in ("agent", "intent")):
            # The LLM is down (or absent offline): keep the caller talking to intents.
            self.st.pending_text = None
            self.no_match(node)
            return
        if isinstance(node, AskNode | MenuNode) and event.component == "intents" and (
                self.st.waiting_for == "intent"):
            # No classifier (down, or none offline): the parsers alone judge the answer.
            self.meaning_result(node, IntentResult(intent=None, confidence=0.0))
            return
        handler = self.flow.handlers.provider_failure
        if handler is not None and self.st.status != "escalated":
            self.fire("provider_failure", handler)
        elif self.st.status != "escalated":
            self.hang_up("error", f"{event.component}_failed",
                         "Sorry, we're having technical trouble. Please call again later.")


def _path(data: Any, path: str) -> Any:
    value = data
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(
                part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
