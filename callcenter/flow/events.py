"""Events that drive the flow runner: what happened on the call since the last step.

All JSON-serializable (a discriminated union on `kind`), so a call can be replayed from its
event log. `now` is the wall-clock time of the event: the runner never reads a clock, so
business hours and the max-duration handler are decided from these timestamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    now: dt.datetime | None = Field(None, description="Wall-clock time (timezone-aware).")


class CallStarted(EventBase):
    """The call is answered; the flow starts."""

    kind: Literal["call_started"] = "call_started"
    call_id: str = ""
    caller_id: str = ""
    dialed_number: str = ""
    variables: dict[str, Any] = Field(default_factory=dict)


class UserSaid(EventBase):
    """A final transcript of the caller's turn."""

    kind: Literal["user_said"] = "user_said"
    text: str
    confidence: float = 1.0


class DtmfReceived(EventBase):
    """Keypad digits, already collected up to the terminator / max digits / inter-digit gap."""

    kind: Literal["dtmf"] = "dtmf"
    digits: str


class NoInput(EventBase):
    """The caller said nothing within the listen timeout."""

    kind: Literal["no_input"] = "no_input"


class IntentResult(EventBase):
    """Answer to a ClassifyIntent action; `intent` is None when nothing scored high enough."""

    kind: Literal["intent_result"] = "intent_result"
    intent: str | None
    confidence: float = 0.0
    # The score of the out-of-domain class (`meaning.OTHER`) when it was asked about: a
    # person request must beat it clearly (`meaning.HUMAN_MARGIN`); 0 where the
    # classifier gives none (keywords, an LLM).
    other: float = 0.0


class ToolCallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class AgentReply(EventBase):
    """Answer to an AgentTurn action: the LLM's text and/or tool calls."""

    kind: Literal["agent_reply"] = "agent_reply"
    text: str = ""
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)


class WebhookResult(EventBase):
    """Answer to a CallWebhook action."""

    kind: Literal["webhook_result"] = "webhook_result"
    request_id: str
    ok: bool
    status: int | None = None
    data: Any = None
    error: str | None = None


class EscalationResult(EventBase):
    """Progress of an Escalate action."""

    kind: Literal["escalation_result"] = "escalation_result"
    outcome: Literal["connected", "timeout", "unavailable", "handed_back", "ended"]
    supervisor: str | None = None
    note: str | None = None
    # handed_back: the node the supervisor chose to resume at (default: the escalate node's next).
    resume_at: str | None = None


class TakenOver(EventBase):
    """A supervisor takes over (barges into) a call the AI has alone, wherever it is.

    The call becomes supervised just as a connected escalation is; a hand-back without a
    node resumes where the call was (`RunnerState.taken_over_at`).
    """

    kind: Literal["taken_over"] = "taken_over"
    supervisor: str


class ProviderFailure(EventBase):
    """A speech/LLM provider failed after its fallbacks."""

    kind: Literal["provider_failure"] = "provider_failure"
    component: Literal["stt", "tts", "llm", "intents", "other"] = "other"
    message: str = ""


class MaxDuration(EventBase):
    """The session's own call-length limit fired."""

    kind: Literal["max_duration"] = "max_duration"


class CallerHungUp(EventBase):
    """The caller left the call."""

    kind: Literal["caller_hung_up"] = "caller_hung_up"


Event = Annotated[
    CallStarted
    | UserSaid
    | DtmfReceived
    | NoInput
    | IntentResult
    | AgentReply
    | WebhookResult
    | EscalationResult
    | TakenOver
    | ProviderFailure
    | MaxDuration
    | CallerHungUp,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: Any) -> Event:
    """An event from its JSON form."""
    return EVENT_ADAPTER.validate_python(data)
