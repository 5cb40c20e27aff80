"""jurisdiction settings (region, supervisory authority); UK clock restart; KR deferral

Revision ID: 7c3f1a9e2b58
Revises: 5d2b7e91c4a0
Create Date: 2026-11-30 11:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7c3f1a9e2b58"
down_revision = "5d2b7e91c4a0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "jurisdiction_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=True),
        sa.Column("authority_name", sa.String(length=200), nullable=True),
        sa.Column("authority_contact", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "jurisdiction"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clock_restarted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("awaiting_purpose", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("deferral_review_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("deferral_ended_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Korean access postponed the old way ("+10 days"): the date it was given becomes the
    # internal review date of a deferral until the ground ends (법 §35③ 후문).
    op.execute(
        "UPDATE requests SET deferral_review_on = due_date "
        "WHERE jurisdiction = 'KR' AND kind = 'access' AND extension_count > 0"
    )


def downgrade():
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("deferral_ended_at")
        batch_op.drop_column("deferral_review_on")
        batch_op.drop_column("awaiting_purpose")
        batch_op.drop_column("clock_restarted_at")
    op.drop_table("jurisdiction_settings")
