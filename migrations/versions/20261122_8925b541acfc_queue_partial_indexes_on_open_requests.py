"""queue: partial indexes on open requests, in the queue's order (due_date, id)

Revision ID: 8925b541acfc
Revises: 165769c9f44e
Create Date: 2026-11-22 00:32:35.582978

Written by hand after `rightsdesk bench queue` on 1,000,000 requests (~50,000 open): the first
queue page read every open row through ix_requests_status_due and sorted them all to return 50.
ix_requests_open_due holds only the open rows, already in (due_date, id) order, so a page is the
next 51 index entries; ix_requests_open_assignee_due does the same for one assignee's queue
("Me", or any staff filter). The WHERE must stay the open statuses of domain.lifecycle.OPEN,
and match the Index declarations in models.py (the migration test compares them).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8925b541acfc'
down_revision = '165769c9f44e'
branch_labels = None
depends_on = None

OPEN = (
    "status IN ('awaiting_subject', 'extended', 'in_progress', 'received_unverified', "
    "'verified')"
)


def upgrade():
    op.create_index(
        'ix_requests_open_due',
        'requests',
        ['due_date', 'id'],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        'ix_requests_open_assignee_due',
        'requests',
        ['assignee_id', 'due_date', 'id'],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade():
    op.drop_index('ix_requests_open_assignee_due', table_name='requests')
    op.drop_index('ix_requests_open_due', table_name='requests')
