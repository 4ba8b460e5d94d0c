"""Flow-wide handlers as suggestion targets: callers who asked for a person in words the flow
did not take as a person request.

Two lessons, both for `handlers.human_request` (the only flow-wide handler callers trigger
with words; silence, no_match, provider_failure and max_duration fire on counts and times):
- the flow has the handler, but the caller's words missed it (the matcher's score fell just
  short, so the call went through no-match first): the words become more of its phrases;
- the flow has no such handler, so no request for a person is ever heard: the suggestion is
  the handler itself, going to the escalate node the call reached, with the caller's words
  beside the built-in phrases.

A near miss must be nearest the person examples (ahead of every option, intent, knowledge
question and ordinary answer by HUMAN_MARGIN, and at least NEAR_HUMAN) and must name a person:
meaning alone is too loose ("can I talk about my bill" scores high against "can I talk to
someone").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from callcenter.flow import meaning
from callcenter.flow.schema import Flow, HumanRequestHandler
from callcenter.learning.analyse import Learning, Line
from callcenter.learning.embed import Embedder, similarity
from callcenter.learning.privacy import scrub
from callcenter.learning.text import normalize

HANDLER = "human_request"
TARGET = f"handlers.{HANDLER}"
NEAR_HUMAN = 0.33
HUMAN_MARGIN = 0.05
_NAMES_A_PERSON = re.compile(
    r"\b(?:(?:some|any|no)(?:one|body)|person|people|human|staff|team|colleague|agent|manager"
    r"|supervisor|representative|rep|operator|boss|adviser|advisor)s?\b", re.IGNORECASE)


def built_in_phrases() -> list[str]:
    """The phrases a `human_request` handler has when its YAML lists none."""
    return list(HumanRequestHandler(goto="_").phrases)


def person_examples(flow: Flow) -> list[str]:
    """What the matcher compares with to hear a request for a person (as `flow/meaning_steps`)."""
    handler = flow.handlers.human_request
    return [*(handler.phrases if handler else built_in_phrases()), *meaning.HUMAN_EXAMPLES]


def missed_requests(flow: Flow, lines: Sequence[Line], elsewhere: Sequence[str],
                    embedder: Embedder) -> list[bool]:
    """Which lines asked for a person in words just short of the matcher's threshold.

    `elsewhere`: the phrases of everything else the caller could have meant at that node.
    """
    if not lines:
        return []
    texts = [line.text for line in lines]
    person = similarity(embedder, texts, person_examples(flow))
    other = similarity(embedder, texts, [*elsewhere, *meaning.OTHER_EXAMPLES])
    out = []
    for i, text in enumerate(texts):
        best = float(person[i].max(initial=0.0))
        rival = float(other[i].max(initial=0.0))
        out.append(best >= NEAR_HUMAN and best - rival >= HUMAN_MARGIN
                   and _NAMES_A_PERSON.search(text) is not None)
    return out


def handler_proposal(learning: Learning, flow: Flow,
                     lines: Sequence[Line]) -> tuple[str, str, dict[str, object]] | None:
    """(target, text_key, payload) for the human_request handler, or None if nothing new."""
    handler = flow.handlers.human_request
    known = {normalize(p) for p in (handler.phrases if handler else built_in_phrases())}
    phrases: list[str] = []
    for line in lines:
        text = scrub(line.text)
        if normalize(text) and normalize(text) not in known | {normalize(p) for p in phrases}:
            phrases.append(text)
    if not phrases:
        return None
    payload: dict[str, object] = {"handler": HANDLER, "node": learning.node, "phrases": phrases}
    if handler is None:
        if not learning.escalated_to:
            return None  # nowhere to send the caller: a person request needs an escalate node
        payload["goto"] = learning.escalated_to
        payload["create"] = True
    return TARGET, normalize(" | ".join(phrases)), payload
