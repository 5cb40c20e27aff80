"""hardening: audit events keyed (mac_version), single-use TOTP steps, sign-in throttles,
purge progress

Revision ID: 7c1e4a9b2f63
Revises: 9a4d2c7e1b36
Create Date: 2026-11-30 11:00:00.000000

Reviewed by hand: a plain ADD COLUMN (not a batch copy, which on SQLite would drop the
append-only triggers of audit_events); every event already written is version 0, and the first
event appended after the upgrade seals them (core/audit.py).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7c1e4a9b2f63"
down_revision = "9a4d2c7e1b36"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "audit_events",
        sa.Column("mac_version", sa.Integer(), server_default="0", nullable=False),
    )
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttles_last_failure_at"), ["last_failure_at"], unique=False
        )
    op.create_table(
        "purge_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("inflight", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_progress")),
        sa.UniqueConstraint(
            "run_id", "system", "table_name",
            name=op.f("uq_purge_progress_run_id"),
        ),
    )


def downgrade():
    op.drop_table("purge_progress")
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttles_last_failure_at"))
    op.drop_table("login_throttles")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
    op.drop_column("audit_events", "mac_version")  # plain DROP COLUMN: the triggers stay
