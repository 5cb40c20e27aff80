"""``rightsdesk notify …``: mail to staff.

``notify digest`` is the daily reminder (run it from cron on working mornings): every active
admin and handler with open requests that are overdue or due within two business days gets
one mail listing them, and admins also get the unassigned ones. The mail carries references,
kinds, due dates and links to the admin console, never a data subject's name or address: it
sits in staff mailboxes, outside the access control and the audit trail of the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select

from rightsdesk.core.context import current_organisation
from rightsdesk.core.urls import external_url
from rightsdesk.delivery.outbox import queue
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.extensions import db
from rightsdesk.models import Request, StaffRole, StaffUser
from rightsdesk.requests.queue import due_marks

DIGEST_ROLES = (StaffRole.ADMIN, StaffRole.HANDLER)


@dataclass(frozen=True)
class DigestItem:
    """What a digest says about one request: nothing that identifies its subject."""

    reference: str
    kind: RequestKind
    due_date: date
    promised_due_date: date | None
    overdue: bool
    unassigned: bool
    url: str


@dataclass(frozen=True)
class Digest:
    staff: StaffUser
    overdue: list[DigestItem]
    soon: list[DigestItem]


def _item(request: Request, overdue: bool) -> DigestItem:
    return DigestItem(
        reference=request.reference,
        kind=request.kind,
        due_date=request.due_date,
        promised_due_date=request.promised_due_date,
        overdue=overdue,
        unassigned=request.assignee_id is None,
        url=external_url("admin.request_detail", reference=request.reference),
    )


def _due_items(recipients: list[StaffUser], today: date) -> list[tuple[int | None, DigestItem]]:
    """(assignee id, item) for every open request of the recipients, or unassigned, that is
    overdue or due soon by the queue's own rule, soonest first."""
    ids = [user.id for user in recipients]
    query = (
        select(Request)
        .where(
            Request.status.in_(sorted(OPEN)),
            or_(Request.assignee_id.in_(ids), Request.assignee_id.is_(None)),
        )
        .order_by(Request.due_date, Request.id)
    )
    rows = list(db.session.scalars(query))
    marks = due_marks(rows, today)
    return [
        (row.assignee_id, _item(row, marks[row.id] == "overdue")) for row in rows if marks[row.id]
    ]


def gather_digests(today: date) -> list[Digest]:
    """One digest per active admin or handler with something due, by e-mail address."""
    recipients = list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.active.is_(True), StaffUser.role.in_(DIGEST_ROLES))
            .order_by(StaffUser.email)
        )
    )
    items = _due_items(recipients, today)
    digests = []
    for user in recipients:
        mine = [
            item
            for assignee, item in items
            if assignee == user.id or (assignee is None and user.role is StaffRole.ADMIN)
        ]
        if mine:
            digests.append(_digest(user, mine))
    return digests


def _digest(user: StaffUser, mine: list[DigestItem]) -> Digest:
    return Digest(
        staff=user,
        overdue=[item for item in mine if item.overdue],
        soon=[item for item in mine if not item.overdue],
    )


def _organisation():
    try:
        return current_organisation()
    except LookupError:
        return None


def queue_digests(digests: list[Digest], *, today: date, now: datetime) -> None:
    """Queue every digest (Korean, the staff's language) and commit once."""
    organisation = _organisation()
    for digest in digests:
        queue(
            "digest",
            recipient=digest.staff.email,
            language="ko",
            context={
                "staff": digest.staff,
                "overdue": digest.overdue,
                "soon": digest.soon,
                "today": today,
                "organisation": organisation,
                "queue_url": external_url("admin.queue", assignee="me"),
            },
            now=now,
            request_ref=None,
        )
    db.session.commit()
