"""calls: indexes for the admin's node traffic (by flow version and time) and the
disposition filter of the calls list

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_calls_flow_version_started", "calls",
                    ["flow_version_id", "started_at"])
    op.create_index("ix_calls_disposition_started", "calls", ["disposition", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_disposition_started", table_name="calls")
    op.drop_index("ix_calls_flow_version_started", table_name="calls")
