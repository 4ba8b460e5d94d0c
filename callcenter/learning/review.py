"""Reviewing suggestions: accept (into a new draft version), edit then accept, reject.

Nothing here publishes: an accepted suggestion is a draft an admin still has to publish
through the flow store, like any other edit. Every decision is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from callcenter.accounts.audit import Actor, actor_label, audit
from callcenter.flowstore import FlowStore, FlowStoreError
from callcenter.learning.apply import apply_suggestion
from callcenter.learning.privacy import scrub
from callcenter.models import Suggestion, SuggestionKind, SuggestionStatus, utcnow

# What an admin may change before accepting, per kind.
EDITABLE: dict[str, tuple[str, ...]] = {
    SuggestionKind.PHRASES: ("phrases",),
    SuggestionKind.KNOWLEDGE: ("q", "a"),
    SuggestionKind.ROUTE: ("name", "phrases", "say", "next"),
    SuggestionKind.HANDLER: ("phrases", "goto"),
}
# Text a reviewer's edit makes their own rather than the LLM's or the rules'.
WORDED = ("a", "say")


class ReviewError(FlowStoreError):
    """The suggestion cannot be reviewed this way; the message says why."""


@dataclass(frozen=True, slots=True)
class FlowLearning:
    """Per flow: suggestions waiting, accepted, and the escalations accepted ones cover."""

    flow: str
    pending: int
    accepted: int
    rejected: int
    # Distinct escalated calls behind accepted suggestions; handler phrases do not count (a
    # person request is still escalated, only at once instead of after a no-match).
    avoidable: int


def suggestions(session: Session, *, flow: str | None = None,
                status: str | None = None) -> list[Suggestion]:
    """Suggestions, newest first, optionally for one flow and status."""
    query = select(Suggestion).order_by(col(Suggestion.created_at).desc(),
                                        col(Suggestion.id).desc())
    if flow:
        query = query.where(Suggestion.flow == flow)
    if status:
        query = query.where(Suggestion.status == status)
    return list(session.exec(query).all())


def get(session: Session, suggestion_id: int) -> Suggestion:
    row = session.get(Suggestion, suggestion_id)
    if row is None:
        raise ReviewError(f"no suggestion {suggestion_id}")
    return row


def edited(row: Suggestion, changes: dict[str, Any]) -> dict[str, Any]:
    """The payload with an admin's changes to the editable fields (scrubbed like the rest)."""
    payload = dict(row.payload)
    for name in EDITABLE.get(row.kind, ()):
        if name not in changes:
            continue
        value = changes[name]
        if isinstance(value, list):
            payload[name] = [scrub(str(v)) for v in value if str(v).strip()]
        else:
            payload[name] = scrub(str(value)).strip() or None
        if name in WORDED and payload[name] != row.payload.get(name):
            payload["written_by"] = "reviewer"
    return payload


def preview(session: Session, row: Suggestion, payload: dict[str, Any] | None = None) -> str:
    """The newest version's text with this suggestion applied (FlowValidationError if bad)."""
    latest = FlowStore(session).latest_version(row.flow)
    if latest is None:
        raise ReviewError(f"flow {row.flow!r} no longer exists")
    return apply_suggestion(latest.yaml_text, row.kind, row.target, payload or row.payload)


def accept(session: Session, suggestion_id: int, actor: Actor,
           changes: dict[str, Any] | None = None) -> int:
    """Write the suggestion (edited by `changes`) into a new draft; returns its version."""
    row = get(session, suggestion_id)
    if row.status != SuggestionStatus.PENDING:
        raise ReviewError(f"suggestion {suggestion_id} is already {row.status}")
    payload = edited(row, changes or {})
    text = preview(session, row, payload)
    store = FlowStore(session, actor)
    draft = store.save_draft(text, note=f"learning: suggestion {row.id} ({row.kind})",
                             expect_name=row.flow)
    row.payload, row.status = payload, SuggestionStatus.ACCEPTED
    row.reviewed_by, row.reviewed_at = actor_label(actor)[1][:320], utcnow()
    row.draft_version, row.updated_at = draft.version, utcnow()
    session.add(row)
    session.flush()
    audit(session, actor, "suggestion.accept", f"suggestion:{row.id}",
          {"flow": row.flow, "kind": row.kind, "target": row.target, "draft": draft.version,
           "edited": bool(changes)})
    return draft.version


def reject(session: Session, suggestion_id: int, actor: Actor, reason: str) -> None:
    """Mark a suggestion rejected, with the reviewer's reason."""
    row = get(session, suggestion_id)
    if row.status != SuggestionStatus.PENDING:
        raise ReviewError(f"suggestion {suggestion_id} is already {row.status}")
    if not reason.strip():
        raise ReviewError("say why it is rejected, so the next reviewer knows")
    row.status, row.reject_reason = SuggestionStatus.REJECTED, scrub(reason)[:500]
    row.reviewed_by, row.reviewed_at = actor_label(actor)[1][:320], utcnow()
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit(session, actor, "suggestion.reject", f"suggestion:{row.id}",
          {"flow": row.flow, "kind": row.kind, "reason": row.reject_reason})


def per_flow(session: Session) -> list[FlowLearning]:
    """Counts per flow, with how many escalations the accepted suggestions would have avoided."""
    out: dict[str, dict[str, Any]] = {}
    for row in session.exec(select(Suggestion)).all():
        entry = out.setdefault(row.flow, {"pending": 0, "accepted": 0, "rejected": 0,
                                          "calls": set()})
        entry[row.status] = entry.get(row.status, 0) + 1
        if row.status == SuggestionStatus.ACCEPTED and row.kind != SuggestionKind.HANDLER:
            entry["calls"] |= {str(e.get("call_id")) for e in row.evidence}
    return [FlowLearning(name, e["pending"], e["accepted"], e["rejected"], len(e["calls"]))
            for name, e in sorted(out.items())]
