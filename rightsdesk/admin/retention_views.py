"""The retention schedule in force and the recent destruction records (read-only): what is kept
how long under which statute, and what was destroyed, when, how and by whom."""

from __future__ import annotations

from flask import render_template
from flask_babel import get_locale

from rightsdesk.admin.blueprint import ALL_STAFF, bp, roles
from rightsdesk.core.context import settings
from rightsdesk.retention.jobs import RetentionError, current_schedule
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
