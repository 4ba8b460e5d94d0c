"""Database tables (SQLModel). SQLite in the embedded default, PostgreSQL in production.

Enumerated values are stored as short strings (not database enum types) so adding a value
never needs a migration; the allowed values live in the StrEnums below.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_call_id() -> str:
    return uuid.uuid4().hex


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(sa.DateTime(timezone=True), nullable=nullable, index=index),
    )


class FlowStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class CallStatus(StrEnum):
    RINGING = "ringing"
    ACTIVE = "active"
    ESCALATED = "escalated"
    ENDED = "ended"
    FAILED = "failed"


class Disposition(StrEnum):
    # Stored in a VARCHAR(32) column: new values need no migration, but must fit.
    RESOLVED = "resolved"  # resolved by the AI
    RESOLVED_BY_SUPERVISOR = "resolved_by_supervisor"  # a person took it and finished it
    RESOLVED_AFTER_HANDBACK = "resolved_after_handback"  # a person handed back, the AI finished
    CALLBACK = "callback"  # the caller's callback request was saved
    ESCALATED = "escalated"  # a person was involved; how it ended is not recorded (older rows)
    TRANSFERRED = "transferred"
    ABANDONED = "abandoned"  # the caller hung up on the AI before the flow finished
    ABANDONED_IN_QUEUE = "abandoned_in_queue"  # the caller hung up waiting for a person
    NO_SUPERVISOR = "no_supervisor"  # nobody could take it; the agent ended the call
    FAILED = "failed"


class SpeakerRole(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class EscalationStatus(StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"  # supervisor invited (console or phone), not yet in the room
    ACTIVE = "active"
    HANDED_BACK = "handed_back"
    ENDED = "ended"
    ABANDONED = "abandoned"  # caller hung up while waiting
    TIMED_OUT = "timed_out"


class UserRole(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"


class Flow(SQLModel, table=True):
    """A named call flow; its content lives in versions."""

    __tablename__ = "flows"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    description: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class FlowVersion(SQLModel, table=True):
    """One saved version of a flow's YAML. At most one version per flow is published."""

    __tablename__ = "flow_versions"
    __table_args__ = (
        sa.UniqueConstraint("flow_id", "version", name="uq_flow_versions_flow_version"),
        # Exactly-one-published is enforced by the database, not only by code.
        sa.Index(
            "uq_flow_versions_one_published",
            "flow_id",
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = Field(foreign_key="flows.id", index=True)
    version: int
    yaml_text: str = Field(sa_type=sa.Text)
    status: str = Field(default=FlowStatus.DRAFT, max_length=16)
    author: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    published_at: datetime | None = _ts()


class PhoneNumber(SQLModel, table=True):
    """A dialed number (E.164) and the flow that answers it."""

    __tablename__ = "phone_numbers"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    flow_id: int = Field(foreign_key="flows.id", index=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Call(SQLModel, table=True):
    """One phone call, from ring to post-call processing."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_started_at", "started_at"),
        sa.Index("ix_calls_dialed_started", "dialed_number", "started_at"),
        sa.Index("ix_calls_caller_started", "caller_number", "started_at"),
        sa.Index("ix_calls_status_started", "status", "started_at"),
        # The flow diagram's traffic (calls to these versions in a period); migration 0006.
        sa.Index("ix_calls_flow_version_started", "flow_version_id", "started_at"),
        sa.Index("ix_calls_disposition_started", "disposition", "started_at"),
        # Number-prefix filters: PostgreSQL's LIKE 'x%' needs pattern ops outside the C locale.
        sa.Index("ix_calls_caller_prefix", "caller_number",
                 postgresql_ops={"caller_number": "varchar_pattern_ops"}),
        sa.Index("ix_calls_dialed_prefix", "dialed_number",
                 postgresql_ops={"dialed_number": "varchar_pattern_ops"}),
    )

    id: str = Field(default_factory=new_call_id, primary_key=True, max_length=64)
    room_name: str = Field(max_length=200, unique=True)
    caller_number: str = Field(default="", max_length=64)
    dialed_number: str = Field(default="", max_length=64)
    flow_version_id: int | None = Field(default=None, foreign_key="flow_versions.id")
    worker_id: str = Field(default="", max_length=100)
    status: str = Field(default=CallStatus.RINGING, max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    answered_at: datetime | None = _ts()
    ended_at: datetime | None = _ts()
    end_reason: str = Field(default="", max_length=100)
    disposition: str | None = Field(default=None, max_length=32)
    summary: str | None = Field(default=None, sa_type=sa.Text)
    sentiment: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    usage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    processed_at: datetime | None = _ts()


class Utterance(SQLModel, table=True):
    """Something one participant said. For the agent, `heard_text` is what the caller heard."""

    __tablename__ = "utterances"
    __table_args__ = (sa.UniqueConstraint("call_id", "seq", name="uq_utterances_call_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True, max_length=64)
    seq: int
    speaker_role: str = Field(max_length=16)
    speaker_identity: str = Field(default="", max_length=200)
    text: str = Field(sa_type=sa.Text)
    start_ms: int
    end_ms: int
    interrupted: bool = False
    heard_text: str | None = Field(default=None, sa_type=sa.Text)


class CallEvent(SQLModel, table=True):
    """The call's typed timeline: node entered, slot filled, escalated, transferred, ..."""

    __tablename__ = "call_events"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),
        # Node traffic counts these per node for a period's calls (migration 0006).
        sa.Index("ix_call_events_node_problems", "call_id",
                 sqlite_where=sa.text("type IN ('no_match', 'no_input')"),
                 postgresql_where=sa.text("type IN ('no_match', 'no_input')")),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True, max_length=64)
    seq: int
    type: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    offset_ms: int = 0
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    """A person who logs in to the admin (role admin) or console (role supervisor)."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=300)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    # Bumped on password reset, role change and disable: sessions signed before it stop working.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_login_at: datetime | None = _ts()
    password_changed_at: datetime | None = _ts()


class ApiToken(SQLModel, table=True):
    """A per-user token for `/api/v1`. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # The first characters, so a person can tell tokens apart in a list.
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class AuditEvent(SQLModel, table=True):
    """Who did what to which thing, when: publish, rollback, number mapping, user changes."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    # The user id when a logged-in person acted; the label also covers the CLI and the system.
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor: str = Field(max_length=320)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=300)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per key (`user:<email>` or `ip:<address>`), shared by all processes.

    Keyed by the email typed, not the user row, so unknown emails lock exactly like real
    ones and the lockout reveals nothing about which accounts exist.
    """

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=400)
    failures: int = 0
    window_start: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    locked_until: datetime | None = _ts()


class Escalation(SQLModel, table=True):
    """A call waiting for, or handled by, a human supervisor."""

    __tablename__ = "escalations"
    __table_args__ = (
        sa.Index("ix_escalations_queue_status", "queue", "status", "priority", "requested_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True, max_length=64)
    queue: str = Field(max_length=100)
    priority: int = 0
    reason: str = Field(default="", max_length=500)
    summary: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default=EscalationStatus.WAITING, max_length=16)
    supervisor_id: int | None = Field(default=None, foreign_key="users.id")
    # Who took it, as the broker knows them (a console login or a phone supervisor's name).
    supervisor: str | None = Field(default=None, max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    answered_at: datetime | None = _ts()
    returned_at: datetime | None = _ts()
    ended_at: datetime | None = _ts()


class CallTranscript(SQLModel, table=True):
    """Post-call transcript: readable and JSON forms, plus the redacted copy."""

    __tablename__ = "call_transcripts"

    call_id: str = Field(foreign_key="calls.id", primary_key=True, max_length=64)
    # Raw transcript is kept only where settings allow; the redacted copy always is.
    text: str | None = Field(default=None, sa_type=sa.Text)
    data: list[Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    redacted_text: str = Field(default="", sa_type=sa.Text)
    redacted_data: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class WebhookDelivery(SQLModel, table=True):
    """An outbound CRM webhook attempt; failed ones stay as a visible dead letter."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "url", name="uq_webhook_deliveries_call_url"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True, max_length=64)
    url: str = Field(max_length=1000)
    status: str = Field(default="pending", max_length=16)  # pending | delivered | dead
    attempts: int = 0
    last_error: str = Field(default="", max_length=1000)
    response_status: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class PostcallStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # permanent: e.g. the call row does not exist


class PostcallJob(SQLModel, table=True):
    """Durable outbox for post-call processing, one row per call.

    Written before the Celery message is sent, so a broker that loses its queue (Redis
    restarted without persistence) loses no call: workers re-send stale pending rows.
    """

    __tablename__ = "postcall_jobs"
    __table_args__ = (sa.Index("ix_postcall_jobs_status_sent", "status", "last_sent_at"),)

    call_id: str = Field(foreign_key="calls.id", primary_key=True, max_length=64)
    status: str = Field(default=PostcallStatus.PENDING, max_length=16)
    attempts: int = 0
    requested_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    not_before: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    last_sent_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    last_error: str = Field(default="", max_length=1000)


class SuggestionKind(StrEnum):
    PHRASES = "phrases"  # more example phrases for an existing menu option or intent
    KNOWLEDGE = "knowledge"  # a question and answer for an agent node
    ROUTE = "route"  # a new menu option and node for a need several callers share
    HANDLER = "handler"  # phrases for a flow-wide handler (a person asked for), or the handler


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # written into a draft version; live only once that is published
    REJECTED = "rejected"


class CallLearning(SQLModel, table=True):
    """What one escalated or transferred call teaches, from its redacted transcript."""

    __tablename__ = "call_learnings"
    __table_args__ = (sa.Index("ix_call_learnings_flow_node", "flow", "node"),)

    call_id: str = Field(foreign_key="calls.id", primary_key=True, max_length=64)
    flow: str = Field(default="", max_length=100)
    flow_version: int | None = None
    node: str = Field(default="", max_length=100)  # where the AI could not go on
    need: str = Field(default="", sa_type=sa.Text)  # the caller's words before the escalation
    reason: str = Field(default="", max_length=32)  # no_match, out_of_domain, asked_for_person...
    action: str = Field(default="", max_length=32)  # answered, routed, transferred, ended, none
    answer: str = Field(default="", sa_type=sa.Text)  # the supervisor's words
    resume_at: str | None = Field(default=None, max_length=100)
    outcome: str = Field(default="", max_length=32)
    lines: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Suggestion(SQLModel, table=True):
    """A change to a flow that calls taken by people suggest, waiting for an admin's review.

    Keyed by (first call, kind, target, normalized text) so re-running a call adds nothing.
    """

    __tablename__ = "suggestions"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "kind", "target", "text_key",
                            name="uq_suggestions_call_kind_target_text"),
        sa.Index("ix_suggestions_flow_status", "flow", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", max_length=64)
    flow: str = Field(max_length=100)
    flow_version: int | None = None
    kind: str = Field(max_length=16)
    target: str = Field(max_length=300)  # e.g. "main_menu.options.1" or "billing.knowledge"
    text_key: str = Field(max_length=300)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # [{call_id, lines: [{seq, speaker, text}]}]: the calls and transcript lines behind it.
    evidence: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=SuggestionStatus.PENDING, max_length=16)
    reviewed_by: str = Field(default="", max_length=320)
    reviewed_at: datetime | None = _ts()
    reject_reason: str = Field(default="", max_length=500)
    draft_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
