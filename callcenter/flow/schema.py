"""A whole call flow: metadata, variables, tools, flow-wide handlers and the nodes.

`Flow` is the validated in-memory form the runner walks. Load YAML through
`callcenter.flow.validate.load_flow` (which reports friendly problems with line numbers);
`flow_json_schema()` is what editors use for completion and inline checks.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from callcenter.flow.nodes import NAME_PATTERN, Node, Seconds, SlotName, Strict, Target, Text

# Names every template and expression may use without declaring them.
BUILTIN_NAMES = frozenset(
    {"caller_id", "dialed_number", "call_id", "flow_name", "today", "now_time", "weekday",
     # Set by agent nodes: the last intent recognised, the reason the LLM gave to escalate.
     "last_intent", "escalation_reason"}
)
# Tools every agent node may list without defining them in `tools:`.
BUILTIN_TOOLS = frozenset({"escalate", "end_conversation"})


class Handler(Strict):
    """What to do when a flow-wide condition fires: optionally say something, then go."""

    say: str | None = None
    goto: Target


class HumanRequestHandler(Handler):
    """The caller asks for a person, anywhere in the flow."""

    phrases: list[Text] = Field(
        default_factory=lambda: [
            "human", "real person", "representative", "operator", "agent please",
            "talk to someone", "speak to someone", "a person",
        ],
        min_length=1,
    )


class CountHandler(Handler):
    """Fires after `after` consecutive events of its kind across the whole call."""

    after: int = Field(3, ge=1, le=20)


class DurationHandler(Handler):
    """Fires once the call has lasted `seconds`."""

    seconds: float = Field(gt=0, le=86400)


class Handlers(Strict):
    human_request: HumanRequestHandler | None = None
    silence: CountHandler | None = None
    no_match: CountHandler | None = None
    provider_failure: Handler | None = None
    max_duration: DurationHandler | None = None


class WebhookTool(Strict):
    """A tool the LLM of an agent node may call; the runner turns it into a webhook call."""

    description: str
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments.",
    )
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, Text] = Field(default_factory=dict)
    timeout: Seconds = 5.0
    retries: int = Field(1, ge=0, le=5)


def _has_words(phrase: str) -> str:
    # A watched phrase matches on word boundaries: it needs a word to match.
    if not re.search(r"\w", phrase):
        raise ValueError(f"watched phrase {phrase!r} has no words: give words the caller "
                         "might say, e.g. 'cancel my account'")
    return phrase


class Flow(Strict):
    """A validated call flow."""

    name: SlotName = Field(description="Unique name; versions are kept per name.")
    description: str = ""
    start: Target
    language: str = "en"
    voice: str | None = None
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Initial values of variables usable in templates."
    )
    tools: dict[str, WebhookTool] = Field(default_factory=dict)
    handlers: Handlers = Field(default_factory=Handlers)
    watch_phrases: list[Annotated[Text, AfterValidator(_has_words)]] = Field(
        default_factory=list,
        description="Phrases that flag a live call on the supervisor console when the "
                    "caller says one (with the WATCH_PHRASES setting's).",
    )
    nodes: dict[str, Node] = Field(min_length=1)

    def node(self, name: str) -> Node:
        """The node called `name` (KeyError if absent; validated flows never miss)."""
        return self.nodes[name]


def flow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a flow file, for editors and the admin UI."""
    schema = Flow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "callcenter call flow"
    schema.setdefault("properties", {}).setdefault("nodes", {})["propertyNames"] = {
        "pattern": NAME_PATTERN
    }
    return schema


def flow_json_schema_text() -> str:
    """The schema as indented JSON text."""
    return json.dumps(flow_json_schema(), indent=2, sort_keys=True)


__all__ = ["BUILTIN_NAMES", "BUILTIN_TOOLS", "Flow", "Handler", "Handlers", "SlotName"]
