"""calls: indexes for the admin's node traffic (by flow version and time, and the
no-match / no-input events of those calls) and the calls list filters (disposition; number
prefixes on PostgreSQL, whose default collation cannot use a plain index for LIKE 'x%')

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

PROBLEM_EVENTS = sa.text("type IN ('no_match', 'no_input')")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_calls_flow_version_started", "calls",
                    ["flow_version_id", "started_at"])
    op.create_index("ix_calls_disposition_started", "calls", ["disposition", "started_at"])
    op.create_index("ix_calls_caller_prefix", "calls", ["caller_number"],
                    postgresql_ops={"caller_number": "varchar_pattern_ops"})
    op.create_index("ix_calls_dialed_prefix", "calls", ["dialed_number"],
                    postgresql_ops={"dialed_number": "varchar_pattern_ops"})
    op.create_index("ix_call_events_node_problems", "call_events", ["call_id"],
                    sqlite_where=PROBLEM_EVENTS, postgresql_where=PROBLEM_EVENTS)


def downgrade() -> None:
    op.drop_index("ix_call_events_node_problems", table_name="call_events")
    op.drop_index("ix_calls_dialed_prefix", table_name="calls")
    op.drop_index("ix_calls_caller_prefix", table_name="calls")
    op.drop_index("ix_calls_disposition_started", table_name="calls")
    op.drop_index("ix_calls_flow_version_started", table_name="calls")
