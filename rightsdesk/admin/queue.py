"""The queue: open requests by legal due date, marked when overdue or due within two business
days; filters, search and keyset pagination; and requests that staff enter by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..domain.identity import InvalidEmail
from ..domain.kinds import SUBJECT_KINDS, RequestKind
from ..domain.lifecycle import OPEN, Status
from ..extensions import db
from ..models import Channel, StaffUser
from ..services.context import settings
from ..services.intake import enter_by_staff, waiting_submissions
from ..services.queue import QueueFilter, QueuePage, due_marks, load_queue_page, parse_cursor
from ..services.staff import staff_actor
from .blueprint import ALL_STAFF, WORKERS, bp, roles

PAGE_SIZE = 50
STALE_SUBMISSIONS = timedelta(minutes=2)  # the worker files them within seconds when it runs


def _filter_from_args() -> QueueFilter:
    args = request.args
    status = args.get("status", "open")
    statuses: tuple[Status, ...]
    if status == "open":
        statuses = tuple(sorted(OPEN))
    elif status == "all":
        statuses = ()
    else:
        try:
            statuses = (Status(status),)
        except ValueError:
            abort(400)
    try:
        kind = RequestKind(args["kind"]) if args.get("kind") else None
        channel = Channel(args["channel"]) if args.get("channel") else None
    except ValueError:
        abort(400)
    assignee = args.get("assignee") or None
    if assignee == "me":
        assignee = str(current_user.id)
    if assignee not in (None, "none") and not assignee.isdigit():
        abort(400)
    return QueueFilter(
        statuses=statuses,
        kind=kind,
        channel=channel,
        jurisdiction=(args.get("jurisdiction") or "").upper() or None,
        assignee=assignee,
        search=(args.get("q") or "").strip() or None,
    )


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


@bp.route("/requests/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_request():
    """A request taken by phone, letter or at the counter."""
    if request.method == "GET":
        return render_template("admin/new_request.html", kinds=SUBJECT_KINDS, form={})
    form = request.form
    errors: dict[str, str] = {}
    try:
        kind = RequestKind(form.get("kind", ""))
    except ValueError:
        errors["kind"] = _("Choose the kind of request.")
    received = _received_at(form.get("received_at", ""), errors)
    if not form.get("email", "").strip():
        errors["email"] = _("Please fill in this field.")
    if errors:
        return render_template(
            "admin/new_request.html", kinds=SUBJECT_KINDS, form=form, errors=errors
        ), 400
    try:
        created = enter_by_staff(
            kind=kind,
            email=form["email"],
            name=form.get("name") or None,
            details=(form.get("details") or "").strip() or None,
            language=form.get("language") if form.get("language") in ("ko", "en") else "ko",
            jurisdiction=form.get("jurisdiction") or None,
            received_at=received,
            identity_checked=form.get("identity_checked") == "y",
            actor=staff_actor(current_user),
            now=datetime.now(UTC),
        )
    except InvalidEmail:
        db.session.rollback()
        errors["email"] = _("Please enter a valid e-mail address.")
        return render_template(
            "admin/new_request.html", kinds=SUBJECT_KINDS, form=form, errors=errors
        ), 400
    flash(_("Request %(reference)s entered.", reference=created.reference))
    return redirect(url_for("admin.request_detail", reference=created.reference))


def _received_at(value: str, errors: dict[str, str]) -> datetime | None:
    """The receipt time as the operator's local time (the form's datetime-local field)."""
    if not value.strip():
        errors["received_at"] = _("When did the request reach you?")
        return None
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        errors["received_at"] = _("Use the form YYYY-MM-DD HH:MM.")
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=settings().tz)
    if local > datetime.now(UTC):
        errors["received_at"] = _("The receipt cannot be in the future.")
        return None
    return local.astimezone(UTC)
