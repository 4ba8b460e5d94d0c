"""The audit log: who published, rolled back, mapped a number or changed a user, and when.

Written in the caller's transaction, so an action and its audit entry commit together or not
at all. `details` must be JSON and must never hold a secret (no passwords, no tokens).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, col, select

from callcenter.models import AuditEvent, User

log = logging.getLogger(__name__)

# A User for a person in the web app; a label such as "cli:alice" or "system" otherwise.
Actor = User | str | None


def actor_label(actor: Actor) -> tuple[int | None, str]:
    """(user id or None, readable label) for an actor."""
    if isinstance(actor, User):
        return actor.id, actor.email
    return None, actor or "system"


def audit(
    db: Session,
    actor: Actor,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one action (e.g. `flow.publish`, target `flow:billing v3`). Flushed, not committed."""
    actor_id, label = actor_label(actor)
    event = AuditEvent(
        actor_id=actor_id, actor=label, action=action, target=target, details=details or {}
    )
    db.add(event)
    db.flush()
    log.info("audit: %s %s by %s", action, target, label)
    return event


def recent_audit(
    db: Session,
    *,
    limit: int = 100,
    action: str | None = None,
    actor_id: int | None = None,
    target_prefix: str | None = None,
) -> list[AuditEvent]:
    """The newest entries first, optionally filtered."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_prefix:
        query = query.where(col(AuditEvent.target).startswith(target_prefix))
    query = query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    return list(db.exec(query).all())
