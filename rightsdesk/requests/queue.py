"""The staff queue as a query: filters, search, and keyset pagination on (due date, id).

Keyset pagination keeps every page as fast as the first on a million rows: the next page starts
after the last row's (due_date, id), which an index on those columns reaches directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import joinedload

from rightsdesk.core.context import settings
from rightsdesk.domain.identity import InvalidEmail, normalise_email
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, Status
from rightsdesk.extensions import db
from rightsdesk.models import Channel, Representative, Request, Subject
from rightsdesk.requests.deadlines import calendar_for

Mark = Literal["overdue", "soon", ""]


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[Status, ...] = ()
    kind: RequestKind | None = None
    channel: Channel | None = None
    jurisdiction: str | None = None
    assignee: str | None = None  # a staff id, or "none" for unassigned
    search: str | None = None  # a reference, or an e-mail address


@dataclass(frozen=True)
class QueuePage:
    rows: list[Request]
    next_cursor: str | None


def parse_cursor(value: str | None) -> tuple[date, int] | None:
    if not value:
        return None
    try:
        day, row_id = value.split("_")
        return date.fromisoformat(day), int(row_id)
    except ValueError:
        return None


def _query(filters: QueueFilter):
    query = select(Request)
    if filters.statuses:
        query = query.where(Request.status.in_(filters.statuses))
    if filters.kind:
        query = query.where(Request.kind == filters.kind)
    if filters.channel:
        query = query.where(Request.channel == filters.channel)
    if filters.jurisdiction:
        query = query.where(Request.jurisdiction == filters.jurisdiction)
    if filters.assignee == "none":
        query = query.where(Request.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Request.assignee_id == int(filters.assignee))
    if filters.search:
        query = query.where(_search(filters.search))
    return query


def _search(text: str):
    """A reference (RD-2026-000123, case-insensitive) or an exact e-mail address."""
    if text.upper().startswith("RD-"):
        return Request.reference == text.upper()
    try:
        email = normalise_email(text)
    except InvalidEmail:
        return Request.reference == text  # matches nothing sensible, but safely
    # One id list from a UNION: an OR of two IN-subqueries makes PostgreSQL scan every request
    # (154 ms on a million rows in `rightsdesk bench queue`; 2 ms this way).
    subject_ids = select(Subject.id).where(Subject.email == email)
    by_subject = select(Request.id).where(Request.subject_id.in_(subject_ids))
    represented = select(Representative.request_id).where(Representative.email == email)
    return Request.id.in_(by_subject.union(represented))


def load_queue_page(
    filters: QueueFilter, *, after: tuple[date, int] | None, size: int
) -> QueuePage:
    query = _query(filters)
    if after is not None:
        due, row_id = after
        # A row-value comparison lets the index seek straight to the cursor (both databases).
        query = query.where(tuple_(Request.due_date, Request.id) > tuple_(due, row_id))
    query = (
        query.options(joinedload(Request.subject), joinedload(Request.assignee))
        .order_by(Request.due_date, Request.id)
        .limit(size + 1)
    )
    rows = list(db.session.scalars(query).unique())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = f"{last.due_date.isoformat()}_{last.id}"
    return QueuePage(rows=rows, next_cursor=next_cursor)


def due_marks(rows: list[Request], today: date) -> dict[int, Mark]:
    """'overdue' past the working date (the earlier of the promise and the law); 'soon' when
    the working date is two business days off or less."""
    marks: dict[int, Mark] = {}
    calendars = {}
    for row in rows:
        profile = settings().profile(row.jurisdiction)
        if profile.code not in calendars:
            calendars[profile.code] = calendar_for(profile)
        soon_limit = calendars[profile.code].add_working_days(today, 2)
        if row.status not in OPEN:
            marks[row.id] = ""
        elif row.working_due_date < today:
            marks[row.id] = "overdue"
        elif row.working_due_date <= soon_limit:
            marks[row.id] = "soon"
        else:
            marks[row.id] = ""
    return marks
