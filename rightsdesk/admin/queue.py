"""The queue: open requests by legal due date, marked when overdue or due within two business
days; filters, search and keyset pagination (staff-entered requests: ``intake_views``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from rightsdesk.admin.blueprint import ALL_STAFF, bp, roles
from rightsdesk.core.context import settings
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, Status
from rightsdesk.extensions import db
from rightsdesk.models import Channel, StaffUser
from rightsdesk.requests.intake import waiting_submissions
from rightsdesk.requests.queue import (
    QueueFilter,
    QueuePage,
    due_marks,
    load_queue_page,
    parse_cursor,
)

PAGE_SIZE = 50
STALE_SUBMISSIONS = timedelta(minutes=2)  # the worker files them within seconds when it runs


def _filter_from_args() -> QueueFilter:
    args = request.args
    statuses = _statuses(args.get("status", "open"))
    try:
        kind = RequestKind(args["kind"]) if args.get("kind") else None
        channel = Channel(args["channel"]) if args.get("channel") else None
    except ValueError:
        abort(400)
    return QueueFilter(
        statuses=statuses,
        kind=kind,
        channel=channel,
        jurisdiction=(args.get("jurisdiction") or "").upper() or None,
        assignee=_assignee(args.get("assignee") or None),
        search=(args.get("q") or "").strip() or None,
    )


def _statuses(status: str) -> tuple[Status, ...]:
    """``open`` (the default), ``all`` (none: no filter), or one status; else 400."""
    if status == "open":
        return tuple(sorted(OPEN))
    if status == "all":
        return ()
    try:
        return (Status(status),)
    except ValueError:
        abort(400)


def _assignee(assignee: str | None) -> str | None:
    """A staff id, ``none`` (unassigned), ``me`` (as one's own id) or nothing; else 400."""
    if assignee == "me":
        assignee = str(current_user.id)
    if assignee not in (None, "none") and not assignee.isdigit():
        abort(400)
    return assignee


def _parked() -> list[tuple[str, int, str]]:
    """Items of every queue parked after crashing, newest first: (queue, id, reason)."""
    from rightsdesk.core import jobqueue
    from rightsdesk.delivery import connectors, outbox, webhooks
    from rightsdesk.policy import campaigns

    queues = {
        "mail": outbox.MAIL,
        "webhook": webhooks.HOOKS,
        "connector job": connectors.JOBS,
        "campaign recipient": campaigns.RECIPIENTS,
    }
    return [
        (label, item_id, reason)
        for label, queue in queues.items()
        for item_id, reason in jobqueue.parked(queue)
    ]


@bp.get("/")
@roles(*ALL_STAFF)
def queue():
    filters = _filter_from_args()
    cursor = parse_cursor(request.args.get("after"))
    page: QueuePage = load_queue_page(filters, after=cursor, size=PAGE_SIZE)
    now = datetime.now(UTC)
    today = now.astimezone(settings().tz).date()
    staff = db.session.scalars(select(StaffUser).order_by(StaffUser.name)).all()
    waiting, oldest = waiting_submissions()
    stalled = waiting if oldest and now - oldest > STALE_SUBMISSIONS else 0
    return render_template(
        "admin/queue.html",
        parked=_parked(),
        stalled=stalled,
        stalled_since=oldest.astimezone(settings().tz) if stalled else None,
        page=page,
        marks=due_marks(page.rows, today),
        filters=filters,
        args=request.args,
        staff=staff,
        kinds=list(RequestKind),
        statuses=list(Status),
        channels=list(Channel),
        jurisdictions=sorted(settings().profiles),
        today=today,
    )
