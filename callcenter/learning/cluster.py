"""New routes: escalations at one menu whose needs are alike (MiniLM), answered by a person.

One caller with an odd request is not a route; CLUSTER_SIZE callers whose words are at least
CLUSTER_MIN alike (single link) are. The proposal is a new menu option with their words as
phrases, going to a new `say` node with the person's (redacted) answer, then on to where
those calls went after the hand-back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.flow.nodes import MenuNode
from callcenter.flow.schema import Flow
from callcenter.learning.embed import Embedder, similarity
from callcenter.learning.privacy import scrub
from callcenter.learning.suggest import Proposal
from callcenter.learning.text import normalize, sentence, slug
from callcenter.models import SuggestionKind

CLUSTER_MIN = 0.40
CLUSTER_SIZE = 2
_STOP = {"i", "a", "an", "the", "my", "to", "want", "would", "like", "can", "you", "me", "do",
         "how", "is", "it", "of", "for", "please", "need", "i'd", "these", "this", "some",
         "that", "get", "with", "what", "and", "on", "in", "im", "i'm", "just", "about"}


@dataclass(slots=True, frozen=True)
class Need:
    """One answered escalation at a menu, as clustering sees it."""

    call_id: str
    need: str
    answer: str
    goes_on_to: str | None  # where the call went after the hand-back
    evidence: dict[str, Any]


def cluster_of(this: Need, others: Sequence[Need], embedder: Embedder) -> list[Need]:
    """The needs linked to `this` through chains of similar needs (itself included)."""
    pool = [this, *[n for n in others if n.call_id != this.call_id]]
    sims = similarity(embedder, [n.need for n in pool], [n.need for n in pool])
    members, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in range(len(pool)):
            if j not in members and float(sims[i, j]) >= CLUSTER_MIN:
                members.add(j)
                frontier.append(j)
    return sorted((pool[i] for i in members), key=lambda n: n.call_id)


def route_proposal(flow: Flow, menu: str, group: list[Need], first_call: str) -> Proposal | None:
    """A new option on `menu` and its node, from a cluster; None if too small."""
    node = flow.nodes.get(menu)
    if len(group) < CLUSTER_SIZE or not isinstance(node, MenuNode):
        return None
    phrases: list[str] = []
    for need in group:
        text = scrub(need.need)
        if normalize(text) not in {normalize(p) for p in phrases}:
            phrases.append(text)
    words = [w for p in phrases for w in normalize(p).split() if w not in _STOP]
    common = sorted(set(words), key=lambda w: (-words.count(w), words.index(w)))
    name = slug(common, set(flow.nodes))
    anchor = next(n for n in group if n.call_id == first_call)
    goes_on = anchor.goes_on_to or next((n.goes_on_to for n in group if n.goes_on_to), None)
    payload = {"node": menu, "name": name, "phrases": phrases,
               "say": sentence(scrub(anchor.answer)), "next": goes_on,
               "answers": [sentence(scrub(n.answer)) for n in group]}
    return Proposal(first_call, SuggestionKind.ROUTE, f"{menu}.route",
                    normalize(anchor.need), payload, [n.evidence for n in group])
