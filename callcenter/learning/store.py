"""The learning step's SQL: load a call, keep its lesson, upsert its suggestions (idempotent)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from callcenter.flow.nodes import MenuNode
from callcenter.flow.validate import load_flow
from callcenter.learning import cluster, wording
from callcenter.learning.analyse import CallRows, Learning, Line, analyse, needs_learning
from callcenter.learning.embed import Embedder
from callcenter.learning.suggest import Proposal, evidence_of, propose
from callcenter.learning.wording import Writer
from callcenter.models import (
    Call,
    CallEvent,
    CallLearning,
    CallTranscript,
    Escalation,
    Flow,
    FlowVersion,
    Suggestion,
    SuggestionKind,
    SuggestionStatus,
    Utterance,
    utcnow,
)

log = logging.getLogger(__name__)


def load_rows(session: Session, call_id: str) -> CallRows | None:
    """The rows learning reads for one call; None if the call does not exist."""
    call = session.get(Call, call_id)
    if call is None:
        return None
    flow, version = None, None
    if call.flow_version_id is not None:
        row = session.get(FlowVersion, call.flow_version_id)
        if row is not None:
            flow, version = load_flow(row.yaml_text, f"v{row.version}"), row.version
    events = session.exec(select(CallEvent).where(CallEvent.call_id == call_id)
                          .order_by(col(CallEvent.seq))).all()
    escalations = session.exec(select(Escalation).where(Escalation.call_id == call_id)
                               .order_by(col(Escalation.requested_at))).all()
    utterances = session.exec(select(Utterance).where(Utterance.call_id == call_id)
                              .order_by(col(Utterance.seq))).all()
    transcript = session.get(CallTranscript, call_id)
    redacted = list(transcript.redacted_data) if transcript is not None else []
    return CallRows(call_id, flow, version, list(events), list(escalations), list(utterances),
                    redacted)


def learn_from_call(engine: Engine, call_id: str, embedder: Embedder,
                    writer: Writer | None = None) -> list[int]:
    """Analyse one call and upsert its suggestions; returns their ids (re-runs: the same).

    With a `writer` (an LLM), answers and new routes' lines are then reworded by it; the
    rule-built suggestion is stored first, so a slow or failing LLM only leaves that one.
    """
    ids = _learn(engine, call_id, embedder)
    if writer is not None and ids:
        _word(engine, ids, writer)
    return ids


def _learn(engine: Engine, call_id: str, embedder: Embedder) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        rows = load_rows(session, call_id)
        if rows is None or rows.flow is None:
            return []
        if not needs_learning(rows.escalations, rows.events):
            return []
        if not rows.redacted:
            # Learning reads only the redacted copy; without it there is nothing safe to read.
            raise LookupError(f"call {call_id} has no redacted transcript yet")
        learning = analyse(rows)
        proposals = propose(learning, rows.flow, embedder)
        _keep(session, learning)
        session.flush()
        if not proposals and learning.action == "answered" and learning.need_lines and (
                isinstance(rows.flow.nodes.get(learning.node), MenuNode)):
            route = _route(session, learning, rows, embedder)
            proposals = [route] if route is not None else []
        ids = [_upsert(session, p, learning) for p in proposals]
        session.commit()
    return ids


def _word(engine: Engine, ids: list[int], writer: Writer) -> None:
    """Ask the writer for the pending texts still worded by the rules; no session is open
    while it works, and a row reviewed or re-learnt meanwhile is left as it is."""
    with Session(engine) as session:
        rows = [session.get(Suggestion, i) for i in ids]
        todo = [(row.id, wording.wording_of(row.kind, row.payload)) for row in rows
                if row is not None and row.id is not None and wording.worded(row.kind)
                and row.status == SuggestionStatus.PENDING
                and row.payload.get("written_by") == "rules"]
    if not todo:
        return
    texts = writer.write([w for _, w in todo])
    with Session(engine) as session:
        for (sid, asked), text in zip(todo, texts, strict=True):
            row = session.get(Suggestion, sid)
            if text is None or row is None or row.status != SuggestionStatus.PENDING or (
                    row.payload.get("rule_text") != asked.rules):
                continue
            row.payload = {**row.payload, asked.field: text, "written_by": "llm"}
            row.updated_at = utcnow()
            session.add(row)
        session.commit()


def _keep(session: Session, learning: Learning) -> None:
    row = session.get(CallLearning, learning.call_id) or CallLearning(call_id=learning.call_id)
    row.flow, row.flow_version, row.node = learning.flow, learning.flow_version, learning.node
    row.need, row.reason, row.action = learning.need, learning.reason, learning.action
    row.answer, row.resume_at, row.outcome = learning.answer, learning.resume_at, learning.outcome
    row.lines = [line.as_json() for line in [*learning.need_lines, *learning.answer_lines]]
    session.add(row)


def _need_of(row: CallLearning) -> cluster.Need:
    return cluster.Need(row.call_id, row.need, row.answer, row.resume_at,
                        {"call_id": row.call_id, "reason": row.reason, "action": row.action,
                         "lines": list(row.lines)})


def _route(session: Session, learning: Learning, rows: CallRows,
           embedder: Embedder) -> Proposal | None:
    """A new-route proposal when this call's need is shared by other answered escalations."""
    assert rows.flow is not None
    others = session.exec(select(CallLearning).where(
        CallLearning.flow == learning.flow, CallLearning.node == learning.node,
        CallLearning.action == "answered", CallLearning.call_id != learning.call_id)).all()
    this = cluster.Need(learning.call_id, learning.need, learning.answer,
                        learning.resume_at or learning.default_next, evidence_of(learning))
    group = cluster.cluster_of(this, [_need_of(o) for o in others if o.need], embedder)
    if len(group) < cluster.CLUSTER_SIZE:
        return None
    members = {n.call_id for n in group}
    # A route already proposed for some of these calls grows; it keeps its first call as key.
    existing = [s for s in session.exec(select(Suggestion).where(
        Suggestion.flow == learning.flow, Suggestion.kind == SuggestionKind.ROUTE,
        Suggestion.target == f"{learning.node}.route")).all()
        if members & {str(e.get("call_id")) for e in s.evidence}]
    first = existing[0].call_id if existing else group[0].call_id
    if first not in members:
        group = [*group, *[_need_of(o) for o in others if o.call_id == first]]
    proposal = cluster.route_proposal(rows.flow, learning.node, group, first)
    if proposal is not None and existing:
        proposal.text_key = existing[0].text_key
    return proposal


def _upsert(session: Session, proposal: Proposal, learning: Learning) -> int:
    proposal.payload = wording.rule_built(proposal.kind, proposal.payload)
    key = (Suggestion.call_id == proposal.call_id, Suggestion.kind == proposal.kind,
           Suggestion.target == proposal.target, Suggestion.text_key == proposal.text_key)
    row = session.exec(select(Suggestion).where(*key)).first()
    if row is None:
        row = Suggestion(call_id=proposal.call_id, flow=learning.flow,
                         flow_version=learning.flow_version, kind=proposal.kind,
                         target=proposal.target, text_key=proposal.text_key,
                         payload=proposal.payload, evidence=proposal.evidence)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except sa.exc.IntegrityError:
            # Another worker stored the same suggestion a moment ago: use theirs.
            row = session.exec(select(Suggestion).where(*key)).one()
    elif row.status == SuggestionStatus.PENDING:
        # Still under review: the newest evidence and wording (a route may have grown).
        payload = wording.kept(row.payload, proposal.payload, proposal.kind)
        row.payload, row.evidence, row.updated_at = payload, proposal.evidence, utcnow()
        session.add(row)
        session.flush()
    assert row.id is not None
    return row.id


def flows_with_learning(session: Session) -> list[str]:
    """Names of flows that have suggestions (for the review page's filter)."""
    names = session.exec(select(Suggestion.flow).distinct().order_by(col(Suggestion.flow)))
    return [str(n) for n in names.all()]


def flow_exists(session: Session, name: str) -> bool:
    return session.exec(select(Flow.id).where(Flow.name == name)).first() is not None


def lines_of(evidence: list[Any]) -> list[Line]:
    """Transcript lines of a suggestion's evidence, in order."""
    return [Line(int(item.get("seq", 0)), str(item.get("speaker", "")), str(item.get("text", "")))
            for e in evidence for item in e.get("lines", [])]
