"""phone, letter and in-person intake without e-mail; notices on paper (letters);
separated rows findable by account (lookup_hash); correction notices to webhook recipients

Revision ID: 7c3e1a5f9b20
Revises: 8c3f1a6e2d57
Create Date: 2026-11-30 10:40:00.000000

"""

from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = "7c3e1a5f9b20"
down_revision = "8c3f1a6e2d57"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=50), nullable=True))
    with op.batch_alter_table("representatives", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.add_column(sa.Column("postal_address", sa.Text(), nullable=True))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_via", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("identity_method", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column("reply_by_post", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("retained_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_retained_records_lookup_hash"), ["lookup_hash"], unique=False
        )
    op.create_table(
        "recipient_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(length=20), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recipient_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recipient_notices_due", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recipient_notices_request_ref"), ["request_ref"], unique=False
        )
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(length=20), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("addressee", sa.String(length=200), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letters_request_ref"), ["request_ref"], unique=False)


def downgrade():
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letters_request_ref"))
    op.drop_table("letters")
    with op.batch_alter_table("recipient_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_notices_request_ref"))
        batch_op.drop_index("ix_recipient_notices_due")
    op.drop_table("recipient_notices")
    with op.batch_alter_table("retained_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retained_records_lookup_hash"))
        batch_op.drop_column("lookup_hash")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("reply_by_post")
        batch_op.drop_column("identity_method")
        batch_op.drop_column("received_via")
    with op.batch_alter_table("representatives", schema=None) as batch_op:
        batch_op.drop_column("postal_address")
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("postal_address")
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
