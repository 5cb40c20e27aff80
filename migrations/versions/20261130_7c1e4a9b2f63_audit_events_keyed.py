"""audit events keyed: mac_version per event (0 = unkeyed SHA-256, 1 = HMAC-SHA256)

Revision ID: 7c1e4a9b2f63
Revises: 5d2b7e91c4a0
Create Date: 2026-11-30 11:00:00.000000

Reviewed by hand: a plain ADD COLUMN (not a batch copy, which on SQLite would drop the
append-only triggers of audit_events); every event already written is version 0, and the first
event appended after the upgrade seals them (core/audit.py).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7c1e4a9b2f63"
down_revision = "5d2b7e91c4a0"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "audit_events",
        sa.Column("mac_version", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade():
    op.drop_column("audit_events", "mac_version")  # plain DROP COLUMN: the triggers stay
