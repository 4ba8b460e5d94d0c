"""The node types of a call flow, as admins write them in YAML.

Every model forbids unknown fields so a typo (`nxet:`) is an error with a "did you mean",
never a silently ignored line. Fields that name another node are typed `Target`; fields that
are spoken or sent text may hold `{{slot}}` templates (listed in `TEMPLATE_FIELDS`).
Semantic checks (targets exist, regexes compile, times parse) live in `validate.py`, so one
broken field does not hide the problems in the others.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _scalar_text(value: Any) -> Any:
    # YAML reads `key: 1`, `to: +15551234567` and `- 2026-12-25` as numbers and dates;
    # admins mean text, so scalars become strings (containers are left for the type error).
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]
DtmfKey = Annotated[Text, Field(pattern=r"^[0-9*#]$")]

Target = Annotated[str, Field(description="Name of the node to go to next.")]
SlotName = Annotated[
    str, Field(pattern=NAME_PATTERN, description="Letters, digits and underscores.")
]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class Strict(BaseModel):
    """Base for every flow model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeBase(Strict):
    description: str | None = Field(None, description="A note for people; never spoken.")


class SayNode(NodeBase):
    """Speak a sentence, then go on."""

    type: Literal["say"]
    text: Text = Field(description="What to say; may use {{slot}} templates.")
    interruptible: bool = Field(True, description="May the caller talk over it?")
    next: Target


class Choice(Strict):
    value: Text
    phrases: list[Text] = Field(default_factory=list, description="Other ways to say it.")
    key: DtmfKey | None = Field(None, description="DTMF key that picks it.")


class DtmfOptions(Strict):
    terminator: str | None = Field("#", pattern=r"^[*#]$")
    max_digits: int = Field(16, ge=1, le=64)
    # Seconds between key presses before the entry counts as complete.
    inter_digit_timeout: Seconds = 3.0


InputMode = Literal["speech", "dtmf"]
INPUT_MODES: tuple[InputMode, ...] = ("speech", "dtmf")
AskType = Literal["text", "digits", "number", "date", "time", "yes_no", "choice"]


class AskNode(NodeBase):
    """Ask a question and store the answer in a slot (by voice and/or keypad)."""

    type: Literal["ask"]
    slot: SlotName
    prompt: str
    expect: AskType = Field("text", description="What kind of answer is valid.")
    pattern: str | None = Field(None, description="Regular expression the answer must match.")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    choices: list[Text | Choice] = Field(default_factory=list)
    input: list[InputMode] = Field(default_factory=lambda: [*INPUT_MODES], min_length=1)
    dtmf: DtmfOptions = Field(default_factory=lambda: DtmfOptions())
    hints: list[str] = Field(default_factory=list, description="Words to favour in recognition.")
    timeout: Seconds = Field(6.0, description="Seconds of silence before no-input.")
    retries: int = Field(2, ge=0, le=10, description="Extra tries after the first.")
    no_input: str | None = Field(None, description="Said after silence; defaults to the prompt.")
    no_match: str | None = Field(None, description="Said after an invalid answer.")
    confirm: str | None = Field(None, description="Said after a valid answer.")
    # Unset: the default of the answer type (`flow.readback.confirm_below`: digits are read
    # back below a calibrated confidence, other types never); null: never read back.
    confirm_below: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Read a spoken answer back for a yes/no when the recognizer's "
        "confidence is below this (0..1; null: never). Default: a calibrated value for "
        "digits (flow.readback.DIGITS_CONFIRM_BELOW), never for other answer types.")
    readback: str | None = Field(
        None, description="The read-back question; {{value}} is the answer heard. "
        "Default: 'I heard {{value}}. Is that right?'")
    next: Target
    on_failure: Target | None = Field(None, description="Where to go when retries run out.")


class MenuOption(Strict):
    key: DtmfKey | None = None
    phrases: list[Text] = Field(default_factory=list)
    goto: Target
    value: Text | None = Field(None, description="Stored in the menu's slot when picked.")


class MenuNode(NodeBase):
    """Offer options by keypad key or phrase."""

    type: Literal["menu"]
    prompt: str
    options: list[MenuOption] = Field(min_length=1)
    slot: SlotName | None = None
    timeout: Seconds = 6.0
    retries: int = Field(2, ge=0, le=10)
    no_input: str | None = None
    no_match: str | None = None
    on_failure: Target | None = None


class Intent(Strict):
    """An exit or canned answer of an agent node, recognised from example phrases."""

    name: SlotName
    examples: list[Text] = Field(min_length=1)
    goto: Target | None = None
    say: str | None = Field(None, description="Answer without the LLM and stay in the node.")


class Knowledge(Strict):
    """A question callers ask and its answer: retrieved offline, given to the LLM as context."""

    q: Text = Field(min_length=1, description="The question, as a caller would ask it.")
    a: str = Field(min_length=1, description="The answer to speak; may use {{slot}} templates.")


class AgentNode(NodeBase):
    """Let the LLM talk with the caller inside guard rails, until an intent exits."""

    type: Literal["agent"]
    instructions: str
    greeting: str | None = None
    tools: list[str] = Field(default_factory=list, description="Tools the LLM may call.")
    intents: list[Intent] = Field(default_factory=list)
    knowledge: list[Knowledge] = Field(
        default_factory=list, description="Questions and answers (q, a) this node knows.")
    # 0.4 matches the MiniLM classifier's calibration (good matches score ~0.45-0.7).
    min_confidence: float = Field(0.4, ge=0, le=1)
    use_llm: bool = Field(True, description="False: only intents answer (fully offline).")
    fallback: str = Field(
        "Sorry, I can't help with that right now. Could you say it another way?",
        description="Said when no intent matches and the LLM is unavailable.",
    )
    max_turns: int = Field(20, ge=1, le=200)
    timeout: Seconds = 8.0
    on_escalate: Target | None = Field(None, description="Where the `escalate` tool goes.")
    on_done: Target | None = Field(None, description="Where the `end_conversation` tool goes.")
    on_max_turns: Target | None = None


class Case(Strict):
    when: str = Field(description="A condition, e.g. `order_status == 'shipped'`.")
    goto: Target


class BranchNode(NodeBase):
    """Go to the first case whose condition holds."""

    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    otherwise: Target


class SetNode(NodeBase):
    """Set variables: `values` are literal (strings are templates), `compute` expressions."""

    type: Literal["set"]
    values: dict[str, Any] = Field(default_factory=dict)
    compute: dict[str, str] = Field(default_factory=dict)
    next: Target


class WebhookNode(NodeBase):
    """Call an HTTP endpoint and map fields of its JSON reply to variables."""

    type: Literal["webhook"]
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, Text] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout: Seconds = 5.0
    retries: int = Field(1, ge=0, le=5)
    save: dict[str, str] = Field(
        default_factory=dict, description="variable: path in the JSON reply, e.g. order.status"
    )
    next: Target
    on_failure: Target | None = None


class HoursNode(NodeBase):
    """Branch on business hours in a timezone, with holidays."""

    type: Literal["hours"]
    timezone: str = Field(description="IANA name such as America/New_York.")
    schedule: dict[Text, Text] = Field(
        description="Days to opening hours, e.g. `mon-fri: 09:00-17:00`.", min_length=1
    )
    holidays: list[Text] = Field(default_factory=list, description="Closed dates, YYYY-MM-DD.")
    open: Target
    closed: Target


Priority = Literal["low", "normal", "high", "urgent"]


class EscalateNode(NodeBase):
    """Put the caller in a supervisor queue; the agent keeps listening."""

    type: Literal["escalate"]
    queue: SlotName
    priority: Priority = "normal"
    reason: str = "Caller asked for a person."
    hold_prompt: str = "Please hold while I connect you with a member of our team."
    timeout: Seconds = 180.0
    on_timeout: Target | None = None
    on_no_supervisors: Target | None = Field(
        None, description="Where to go at once when nobody is staffed (default: on_timeout).")
    # 0 is allowed here (unlike other durations): it turns the announcements off.
    position_every: Annotated[float, Field(ge=0, le=3600)] = Field(
        30.0, description="Tell a waiting caller their place in line this often (0: never).")
    next: Target | None = Field(None, description="Where to go when a supervisor hands back.")


class TransferNode(NodeBase):
    """Cold-transfer the call to a phone number or SIP URI."""

    type: Literal["transfer"]
    to: Text = Field(description="E.164 number (+15551234567) or sip:user@host.")
    say: str | None = None


class HangupNode(NodeBase):
    """Say goodbye (optionally) and end the call."""

    type: Literal["hangup"]
    say: str | None = None
    reason: str = "completed"


Node = Annotated[
    SayNode
    | AskNode
    | MenuNode
    | AgentNode
    | BranchNode
    | SetNode
    | WebhookNode
    | HoursNode
    | EscalateNode
    | TransferNode
    | HangupNode,
    Field(discriminator="type"),
]

NODE_TYPES: dict[str, type[NodeBase]] = {
    "say": SayNode,
    "ask": AskNode,
    "menu": MenuNode,
    "agent": AgentNode,
    "branch": BranchNode,
    "set": SetNode,
    "webhook": WebhookNode,
    "hours": HoursNode,
    "escalate": EscalateNode,
    "transfer": TransferNode,
    "hangup": HangupNode,
}

# Fields (at any depth inside a node) whose strings are `{{slot}}` templates.
TEMPLATE_FIELDS = frozenset(
    {"text", "prompt", "no_input", "no_match", "confirm", "say", "instructions", "greeting",
     "fallback", "url", "headers", "body", "reason", "hold_prompt", "values", "to"}
)
