"""The retention schedule in force and the recent destruction records: what is kept how long
under which statute, and what was destroyed, when, how and by whom; and restoring a dormant
account that comes back."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from rightsdesk.admin.blueprint import ALL_STAFF, WORKERS, bp, roles
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import settings
from rightsdesk.extensions import db
from rightsdesk.i18n import staff_message
from rightsdesk.retention.jobs import RetentionError, current_schedule
from rightsdesk.retention.restore import FulfilmentError, RestoreError, restore_account
from rightsdesk.retention.runner import recent_records


@bp.get("/retention")
@roles(*ALL_STAFF)
def retention():
    try:
        schedule, problem = current_schedule(), None
    except RetentionError as error:  # shown, not a 500: the jobs refuse to run on it too
        schedule, problem = None, str(error)
    return render_template(
        "admin/retention.html",
        schedule=schedule,
        problem=problem,
        records=recent_records(50),
        language=str(get_locale() or "ko"),
        tz=settings().tz,
    )


@bp.post("/retention/restore")
@roles(*WORKERS)
def dormancy_restore():
    """A dormant account comes back: its separated row returns to the live table."""
    email = (request.form.get("email") or "").strip()
    actor = Actor.staff(current_user._get_current_object(), request.remote_addr)
    try:
        done = restore_account(email, actor=actor, now=utcnow())
    except (RestoreError, FulfilmentError, RetentionError) as error:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=staff_message(error)), "error")
    else:
        place = done.system + "." + done.table
        flash(_("Restored %(count)s row(s) into %(place)s.", count=done.rows, place=place))
    return redirect(url_for("admin.retention"))
