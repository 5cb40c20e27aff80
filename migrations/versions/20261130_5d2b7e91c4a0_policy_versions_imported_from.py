"""policy versions imported from where they were already published

Revision ID: 5d2b7e91c4a0
Revises: 5b7e2c9d41a8
Create Date: 2026-11-30 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5d2b7e91c4a0"
down_revision = "5b7e2c9d41a8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imported_from", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_column("imported_from")
