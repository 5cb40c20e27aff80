"""privacy officer's title (직위) and department (소속 부서)

Revision ID: 5b7e2c9d41a8
Revises: 5b0e7a1c9d42
Create Date: 2026-11-30 09:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5b7e2c9d41a8"
down_revision = "5b0e7a1c9d42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("privacy_officer_title", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("privacy_officer_department", sa.String(length=200), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("privacy_officer_department")
        batch_op.drop_column("privacy_officer_title")
