"""From one call's lesson to proposed flow changes: example phrases and knowledge Q/A.

- The person sent the caller on to a node an option or intent of the stuck node leads to,
  or (offline, no routing seen) the caller's words are nearest one option or intent by
  MiniLM with a clear margin over the next: those words become its example phrases.
- The person answered, at an agent node: the caller's question and the person's own
  (redacted) words become a knowledge item.
- The person answered, at a menu: a need several callers share becomes a new route
  (see `cluster.py`).
- The caller asked for a person in words the flow missed (or the flow hears no such request
  at all): those words go to the flow-wide `human_request` handler (see `handlers.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callcenter.flow import meaning
from callcenter.flow.nodes import AgentNode, MenuNode
from callcenter.flow.schema import Flow
from callcenter.learning import handlers
from callcenter.learning.analyse import Learning, Line
from callcenter.learning.embed import Embedder, similarity
from callcenter.learning.privacy import scrub
from callcenter.learning.text import normalize, sentence
from callcenter.models import SuggestionKind

# Nearest option must score at least this and beat the runner-up by MARGIN (MiniLM cosine):
# below the matcher's 0.40 is exactly where missed phrasings live, but not far below it.
NEAR_MIN = 0.30
MARGIN = 0.08
# Below this against every option the caller asked for something the node does not offer.
OUT_OF_DOMAIN = 0.25


@dataclass(slots=True)
class Candidate:
    """An existing menu option or agent intent the caller's words could have meant."""

    target: str  # "main_menu.options.0" or "billing.intents.done"
    label: str
    goto: str | None
    phrases: list[str]


@dataclass(slots=True)
class Proposal:
    """A suggestion before it is stored: unique by (call_id, kind, target, text_key)."""

    call_id: str
    kind: str
    target: str
    text_key: str
    payload: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)


def evidence_of(learning: Learning) -> dict[str, Any]:
    """The call and the transcript lines a suggestion rests on."""
    return {"call_id": learning.call_id, "reason": learning.reason, "action": learning.action,
            "lines": [line.as_json() for line in [*learning.need_lines, *learning.answer_lines]]}


def candidates(flow: Flow, node_name: str) -> list[Candidate]:
    """The options (menu) or intents (agent node) of the node where the AI stopped."""
    node = flow.nodes.get(node_name)
    if isinstance(node, MenuNode):
        return [Candidate(f"{node_name}.options.{i}",
                          f"option {o.value or o.goto}" + (f" (key {o.key})" if o.key else ""),
                          o.goto, [*o.phrases, *([o.value] if o.value else [])])
                for i, o in enumerate(node.options)]
    if isinstance(node, AgentNode):
        return [Candidate(f"{node_name}.intents.{i.name}", f"intent {i.name}", i.goto,
                          list(i.examples)) for i in node.intents]
    return []


def asks_for_person(flow: Flow, lines: list[Line], embedder: Embedder) -> list[bool]:
    """Which caller lines only ask for a person (no need to learn from those)."""
    phrases = handlers.person_examples(flow)
    sims = similarity(embedder, [line.text for line in lines], phrases)
    out = []
    for i, line in enumerate(lines):
        said = f" {normalize(line.text)} "
        word_for_word = any(f" {normalize(p)} " in said for p in phrases)
        out.append(word_for_word or float(sims[i].max(initial=0.0)) >= meaning.HUMAN_THRESHOLD)
    return out


def _nearest(embedder: Embedder, text: str, cands: list[Candidate]) -> tuple[int, float, float]:
    """(index, best score, margin over the next candidate) by each candidate's best phrase."""
    scores = []
    for cand in cands:
        sims = similarity(embedder, [text], cand.phrases)
        scores.append(float(sims.max(initial=0.0)))
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = order[0]
    second = scores[order[1]] if len(order) > 1 else 0.0
    return best, scores[best], scores[best] - second


def propose(learning: Learning, flow: Flow, embedder: Embedder) -> list[Proposal]:
    """Handler, phrase and knowledge proposals from one call; refines `learning` in place
    (`reason`, and `need_lines` lose the lines that only ask for a person)."""
    cands = candidates(flow, learning.node)
    found = _person_requests(learning, flow, cands, embedder)
    if not learning.need_lines or learning.action == "transferred":
        return found
    return [*found, *_need_proposals(learning, flow, cands, embedder)]


def _person_requests(learning: Learning, flow: Flow, cands: list[Candidate],
                     embedder: Embedder) -> list[Proposal]:
    """Drop the lines that ask for a person; those the flow missed teach its handler."""
    if not learning.need_lines:
        return []
    lines = learning.need_lines
    person = asks_for_person(flow, lines, embedder)
    node = flow.nodes.get(learning.node)
    elsewhere = [p for c in cands for p in c.phrases]
    if isinstance(node, AgentNode):
        elsewhere += [k.q for k in node.knowledge]
    missed = handlers.missed_requests(flow, lines, elsewhere, embedder)
    unheard = flow.handlers.human_request is None  # no handler: no request is ever heard
    # Heard already (`p`) needs nothing, unless the flow has no handler to hear it with.
    asked = [line for line, p, m in zip(lines, person, missed, strict=True)
             if (p and unheard) or (m and not p)]
    learning.need_lines = [line for line, p, m in zip(lines, person, missed, strict=True)
                           if not (p or m)]
    if not asked:
        return []
    learning.reason = "asked_for_person"
    proposal = handlers.handler_proposal(learning, flow, asked)
    if proposal is None:
        return []
    target, key, payload = proposal
    evidence = {"call_id": learning.call_id, "reason": learning.reason,
                "action": learning.action, "lines": [line.as_json() for line in asked]}
    return [Proposal(learning.call_id, SuggestionKind.HANDLER, target, key, payload, [evidence])]


def _need_proposals(learning: Learning, flow: Flow, cands: list[Candidate],
                    embedder: Embedder) -> list[Proposal]:
    need = learning.need_lines[0].text
    picked: Candidate | None = None
    if cands:
        index, best, margin = _nearest(embedder, need, cands)
        if learning.reason == "no_match" and best < OUT_OF_DOMAIN:
            learning.reason = "out_of_domain"
        routed = [c for c in cands if learning.action == "routed" and c.goto == learning.resume_at]
        if routed:
            picked = routed[0]
        elif learning.action != "answered" and best >= NEAR_MIN and margin >= MARGIN:
            picked = cands[index]
    if picked is not None:
        phrases = [line.text for line in learning.need_lines
                   if normalize(line.text) not in {normalize(p) for p in picked.phrases}]
        if not phrases:
            return []
        return [Proposal(learning.call_id, SuggestionKind.PHRASES, picked.target,
                         normalize(" | ".join(phrases)),
                         {"node": learning.node, "target_label": picked.label,
                          "phrases": [scrub(p) for p in phrases]},
                         [evidence_of(learning)])]
    node = flow.nodes.get(learning.node)
    answer = scrub(learning.answer)
    if isinstance(node, AgentNode) and learning.action == "answered" and answer:
        if normalize(need) in {normalize(k.q) for k in node.knowledge}:
            return []
        return [Proposal(learning.call_id, SuggestionKind.KNOWLEDGE,
                         f"{learning.node}.knowledge", normalize(need),
                         {"node": learning.node, "q": scrub(need), "a": sentence(answer)},
                         [evidence_of(learning)])]
    return []
