"""Letters to post: the notices of requests answered on paper, printed and marked posted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from rightsdesk.admin.blueprint import ALL_STAFF, WORKERS, bp, roles
from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.delivery.letters import LetterError, mark_posted, unposted
from rightsdesk.extensions import db
from rightsdesk.models import Letter


def _actor() -> Actor:
    return Actor.staff(current_user._get_current_object(), request.remote_addr)


@bp.get("/letters")
@roles(*ALL_STAFF)
def letters():
    """Every letter not yet posted, oldest first, with today's date ready to record."""
    today = datetime.now(UTC).astimezone(settings().tz).date()
    return render_template("admin/letters.html", letters=unposted(), today=today)


@bp.get("/letters/<int:letter_id>.pdf")
@roles(*ALL_STAFF)
def letter_pdf(letter_id: int):
    """The letter as stored, to print; audited, it carries the person's address."""
    letter = db.session.get(Letter, letter_id)
    if letter is None or not letter.pdf:
        abort(404)
    audit.record(
        "letter.downloaded",
        actor=_actor(),
        now=datetime.now(UTC),
        request_ref=letter.request_ref,
        data={"letter": letter.id},
    )
    db.session.commit()
    return send_file(
        BytesIO(letter.pdf),
        mimetype="application/pdf",
        as_attachment=False,
        download_name=f"{letter.request_ref or 'letter'}-{letter.id}-{letter.template}.pdf",
    )


@bp.post("/letters/<int:letter_id>/posted")
@roles(*WORKERS)
def letter_posted(letter_id: int):
    """Record the day the letter went into the post: the delivery evidence."""
    letter = db.session.get(Letter, letter_id)
    if letter is None:
        abort(404)
    back = request.form.get("next") or url_for("admin.letters")
    if not back.startswith("/"):
        back = url_for("admin.letters")
    try:
        posted_on = date.fromisoformat((request.form.get("posted_on") or "").strip())
        mark_posted(letter, posted_on=posted_on, actor=_actor(), now=datetime.now(UTC))
    except ValueError as error:  # LetterError too
        db.session.rollback()
        reason = str(error) if isinstance(error, LetterError) else _("Use the form YYYY-MM-DD.")
        flash(_("Not done: %(reason)s", reason=reason), "error")
        return redirect(back)
    flash(_("Recorded: read out by phone.") if letter.by_phone else _("Letter marked posted."))
    return redirect(back)
