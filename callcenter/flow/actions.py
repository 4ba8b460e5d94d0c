"""Actions the flow runner asks the call session to perform, in order.

The runner never does IO: it says "say this", "listen for that", "call this webhook",
and the session does it and reports back with an event. All JSON-serializable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.flow.nodes import INPUT_MODES, InputMode, Priority
from callcenter.speech import ChatMessage, ToolCall, ToolSpec


class ActionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Say(ActionBase):
    """Speak `text`; `interruptible` says whether caller speech may cut it off."""

    kind: Literal["say"] = "say"
    text: str
    interruptible: bool = True
    # The written form when it differs from what is spoken ("order 482913" vs "order four
    # eight two ..."): text channels (chat, try-it) show this one.
    display: str | None = None


class Listen(ActionBase):
    """Wait for the caller: report UserSaid, DtmfReceived or NoInput after `timeout`."""

    kind: Literal["listen"] = "listen"
    slot: str | None = None
    modes: list[InputMode] = Field(default_factory=lambda: [*INPUT_MODES])
    timeout: float = 6.0
    dtmf_terminator: str | None = "#"
    dtmf_max_digits: int = 16
    dtmf_inter_digit_timeout: float = 3.0
    dtmf_keys: list[str] = Field(default_factory=list, description="Single keys that finish.")
    hints: list[str] = Field(default_factory=list, description="Words to favour in STT.")
    expect_digits: int | None = Field(
        None, description="Digits a complete answer has: the turn is held open until then.")
    expect_yes_no: bool = Field(False, description="A plain yes/no ends the turn at once.")
    expect: str | None = Field(
        None, description="The ask's answer type (date, time, ...): the recognizer is told.")


class CallWebhook(ActionBase):
    """Make one HTTP request and report WebhookResult(request_id=...)."""

    kind: Literal["call_webhook"] = "call_webhook"
    request_id: str
    url: str
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout: float = 5.0
    attempt: int = 1


class Escalate(ActionBase):
    """Queue the call for a supervisor; report EscalationResult."""

    kind: Literal["escalate"] = "escalate"
    queue: str
    priority: Priority = "normal"
    reason: str = ""
    hold_prompt: str = ""
    timeout: float = 180.0
    position_every: float = 30.0
    summary: dict[str, Any] = Field(default_factory=dict, description="Slots so far.")


class Transfer(ActionBase):
    """Cold-transfer the caller (SIP REFER) to a number or SIP URI."""

    kind: Literal["transfer"] = "transfer"
    target: str


class Hangup(ActionBase):
    """End the call."""

    kind: Literal["hangup"] = "hangup"
    reason: str = "completed"


class AgentMessage(BaseModel):
    """One message of an agent node's conversation (kept in the checkpoint)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    # An assistant message the caller cut off: `content` is what they heard (see
    # FlowRunner.heard); the full planned text is kept on the call's transcript.
    interrupted: bool = False


class AgentTurn(ActionBase):
    """Run the LLM once over `history` with `tools`; report AgentReply (or ProviderFailure)."""

    kind: Literal["agent_turn"] = "agent_turn"
    instructions: str
    history: list[AgentMessage]
    tools: list[dict[str, Any]] = Field(default_factory=list, description="name/description/"
                                        "parameters of each allowed tool")

    def chat_messages(self) -> list[ChatMessage]:
        """The conversation as `speech.base` messages, system instructions first."""
        out = [ChatMessage(role="system", content=self.instructions)]
        for m in self.history:
            calls = [ToolCall(id=str(c["id"]), name=str(c["name"]),
                              arguments=str(c.get("arguments", "{}"))) for c in m.tool_calls]
            out.append(ChatMessage(role=m.role, content=m.content, tool_calls=calls,
                                   tool_call_id=m.tool_call_id, name=m.name))
        return out

    def tool_specs(self) -> list[ToolSpec]:
        """The allowed tools as `speech.base.ToolSpec`."""
        return [ToolSpec(name=t["name"], description=t["description"],
                         parameters=t["parameters"]) for t in self.tools]


class ClassifyIntent(ActionBase):
    """Pick the intent `text` matches (by example phrases); report IntentResult."""

    kind: Literal["classify_intent"] = "classify_intent"
    text: str
    intents: dict[str, list[str]]
    min_confidence: float = 0.4


class RecordEvent(ActionBase):
    """An entry for the call timeline (node entered, slot set, webhook result, ...)."""

    kind: Literal["record"] = "record"
    event: str
    data: dict[str, Any] = Field(default_factory=dict)


Action = Annotated[
    Say | Listen | CallWebhook | Escalate | Transfer | Hangup | AgentTurn | ClassifyIntent
    | RecordEvent,
    Field(discriminator="kind"),
]
