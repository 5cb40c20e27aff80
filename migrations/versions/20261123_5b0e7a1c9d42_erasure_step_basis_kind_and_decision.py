"""Erasure steps: the basis kind of what they keep and staff's decision on policy keeps

Revision ID: 5b0e7a1c9d42
Revises: 1c672191e2d3
Create Date: 2026-11-23 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "5b0e7a1c9d42"
down_revision = "1c672191e2d3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("erasure_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("decision", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("decision_basis", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("erasure_steps", schema=None) as batch_op:
        batch_op.drop_column("decision_basis")
        batch_op.drop_column("decision")
        batch_op.drop_column("basis_kind")
