"""letters read out by phone: the number, when the person gave no postal address

Revision ID: 9a4d2c7e1b36
Revises: 7c3e1a5f9b20
Create Date: 2026-11-30 11:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "9a4d2c7e1b36"
down_revision = "7c3e1a5f9b20"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=50), nullable=True))


def downgrade():
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_column("phone")
