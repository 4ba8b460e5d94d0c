"""Idempotent writes of a post-call record: one transaction, upserts keyed by call id.

Running the same call twice (a redelivered task, a sweeper re-send, the LiveKit webhook
path racing the voice side) converges on one transcript row, one webhook row, one set of
call fields. The job row flips to `done` in the same transaction, so a crash leaves either
the whole record or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col

from callcenter.models import Call, CallTranscript, PostcallJob, PostcallStatus, WebhookDelivery


@dataclass(slots=True)
class PostcallRecord:
    """Everything post-call processing stores for one call."""

    call_id: str
    raw_text: str | None
    raw_json: list[dict[str, Any]] | None
    redacted_text: str
    redacted_json: list[dict[str, Any]]
    summary: str
    disposition: str
    sentiment: float
    metrics: dict[str, Any]


def upsert(
    session: Session,
    model: type[SQLModel],
    values: dict[str, Any],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE (the `update` columns, default all others)."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:
        raise RuntimeError(f"upsert is not implemented for {dialect}: use SQLite or PostgreSQL")
    stmt = insert.values(**values)
    columns = [c for c in (update if update is not None else values) if c not in keys]
    if columns:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt)


def store_record(
    engine: Engine,
    record: PostcallRecord,
    *,
    now: datetime,
    webhook_url: str | None,
    redeliver_webhook: bool = False,
    note: str = "",
) -> None:
    """Write the record, mark the call processed and the job done, owe the CRM a webhook.

    `note` stays on the done job's `last_error` (e.g. why the LLM summary was not used)."""
    with Session(engine) as session, session.begin():
        upsert(
            session,
            CallTranscript,
            {
                "call_id": record.call_id,
                "text": record.raw_text,
                "data": record.raw_json,
                "redacted_text": record.redacted_text,
                "redacted_data": record.redacted_json,
                "created_at": now,
            },
            keys=["call_id"],
        )
        call = session.get(Call, record.call_id, with_for_update=True)
        if call is None:
            raise LookupError(f"call {record.call_id} vanished while it was being processed")
        # Keep the voice session's own keys (turns, ...) and replace only ours.
        call.metrics = {**call.metrics, "postcall": record.metrics}
        call.summary = record.summary
        call.disposition = record.disposition
        call.sentiment = record.sentiment
        call.processed_at = now
        session.add(call)
        if webhook_url:
            upsert(
                session,
                WebhookDelivery,
                {
                    "call_id": record.call_id,
                    "url": webhook_url,
                    "status": "pending",
                    "attempts": 0,
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                },
                keys=["call_id", "url"],
                # A repeat run must not re-send what the CRM already has, unless asked to.
                update=["status", "attempts", "last_error", "updated_at"]
                if redeliver_webhook
                else [],
            )
        session.execute(
            sa.update(PostcallJob)
            .where(col(PostcallJob.call_id) == record.call_id)
            .values(status=PostcallStatus.DONE, completed_at=now, last_error=note[:1000])
        )
