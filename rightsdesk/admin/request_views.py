"""One request: its details, timeline, notes, evidence of notices, and the actions on it.

Actions that send a notice go in two steps: the first POST shows the exact notice (preview),
the second sends it. Every view of a request's personal data is an audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from rightsdesk.admin.blueprint import ALL_STAFF, WORKERS, bp, roles
from rightsdesk.admin.intake_views import via_label
from rightsdesk.admin.timeline import timeline
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import settings
from rightsdesk.core.uploads import stored_path
from rightsdesk.delivery.letters import letters_of
from rightsdesk.delivery.recipient_notices import notices_of
from rightsdesk.domain.deadlines import ExtensionNotAllowed
from rightsdesk.domain.lifecycle import OPEN, IllegalTransition, Status
from rightsdesk.domain.messages import N_
from rightsdesk.domain.workflow import Situation, days_left, next_steps
from rightsdesk.extensions import db
from rightsdesk.fulfilment import erasure
from rightsdesk.fulfilment.access import AccessWaiting, FulfilmentError, prepare_access_package
from rightsdesk.fulfilment.correction import decide_correction
from rightsdesk.fulfilment.correction import targets as correction_targets
from rightsdesk.fulfilment.suspension import stop_processing
from rightsdesk.i18n import staff_message, staff_status_label
from rightsdesk.models import AuditEvent, OutboxMessage, Question, Request, StaffRole, StaffUser
from rightsdesk.requests import decisions
from rightsdesk.requests.deadlines import calendar_for, notice_deadline
from rightsdesk.requests.decisions import DecisionError
from rightsdesk.requests.downloads import DownloadRejected
from rightsdesk.requests.downloads import offer as offer_download
from rightsdesk.requests.intake import answer_question
from rightsdesk.requests.lookup import by_reference
from rightsdesk.retention.restore import RestoreError, has_separated_account, restore_account


def _actor() -> Actor:
    return Actor.staff(current_user._get_current_object(), request.remote_addr)


def load_request(reference: str) -> Request:
    found = by_reference(reference)
    if found is None:
        abort(404)
    return found


def _page(item: Request, **extra):
    profile = settings().profile(item.jurisdiction)
    notices = _notices(item)
    handlers = _handlers()
    steps = erasure.steps_of(item)
    events = _events(item)
    today = utcnow().astimezone(settings().tz).date()
    return render_template(
        "admin/request.html",
        item=item,
        typed=_typed(item.reference),
        profile=profile,
        grounds=profile.grounds_for(item.kind),
        extension=profile.extension(item.kind),
        timeline=timeline(events),
        workflow=next_steps(_situation(item, profile, steps, events)),
        left=days_left(
            today,
            item.working_due_date,
            calendar_for(profile).is_working_day,
            open_=item.status in OPEN,
        ),
        notices=notices,
        handlers=handlers,
        is_open=item.status in OPEN,
        can_act=current_user.role in WORKERS,
        targets=_targets(item),
        erasure_steps=steps,
        Status=Status,
        legal_notice_due=notice_deadline(item),
        letters=letters_of(item.reference),
        recipient_notices=notices_of(item.reference),
        today=today,
        via_label=via_label,
        **extra,
    )


def _situation(item: Request, profile, steps: Sequence, events: Sequence) -> Situation:
    """What the workflow needs to know about the request beyond its status and kind."""
    extension = profile.extension(item.kind)
    representative = item.representative
    return Situation(
        status=item.status,
        kind=item.kind,
        has_datamap=bool(current_app.config.get("DATAMAP_FILE")),
        proof_to_check=bool(representative and not representative.proof_checked_at),
        can_extend=bool(extension and item.extension_count < extension.max_count),
        deferred=bool(item.deferral_review_on and not item.deferral_ended_at),
        package_offered=bool(item.downloads),
        erasure_run=bool(steps) and all(s.state == "done" for s in steps),
        corrections_open=any(c.decision is None for c in item.corrections),
        processing_stopped=any(e.action == "fulfilment.stop" for e in events),
    )


def _events(item: Request) -> Sequence[AuditEvent]:
    """The request's audit trail, oldest first."""
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.request_ref == item.reference).order_by(AuditEvent.seq)
    ).all()


def _notices(item: Request) -> Sequence[OutboxMessage]:
    """The notices sent (or waiting to be sent) about the request, in order."""
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.request_ref == item.reference)
        .order_by(OutboxMessage.id)
    ).all()


def _handlers() -> Sequence[StaffUser]:
    """Who the request can be assigned to: active staff other than auditors."""
    return db.session.scalars(
        select(StaffUser)
        .where(StaffUser.active.is_(True), StaffUser.role != StaffRole.AUDITOR)
        .order_by(StaffUser.name)
    ).all()


def _targets(item: Request) -> list[str]:
    """The data map's fields a correction can go to (none without a data map)."""
    if not item.corrections:
        return []
    try:
        return correction_targets()
    except FulfilmentError:
        return []


@bp.get("/requests/<reference>")
@roles(*ALL_STAFF)
def request_detail(reference: str):
    item = load_request(reference)
    decisions.view(item, _actor(), utcnow())
    return _page(item)


@bp.get("/requests/<reference>/proof")
@roles(*ALL_STAFF)
def proof(reference: str):
    item = load_request(reference)
    rep = item.representative
    if rep is None or not rep.proof_file:
        abort(404)
    decisions._audit("staff.proof_downloaded", item, _actor(), utcnow())
    db.session.commit()
    return _send_upload(rep.proof_file, rep.proof_content_type, f"{item.reference}-proof")


@bp.get("/requests/<reference>/answers/<int:question_id>")
@roles(*ALL_STAFF)
def answer_file(reference: str, question_id: int):
    item = load_request(reference)
    question = db.session.get(Question, question_id)
    if question is None or question.request_id != item.id or not question.answer_file:
        abort(404)
    decisions._audit("staff.answer_downloaded", item, _actor(), utcnow(), question=question.id)
    db.session.commit()
    return _send_upload(
        question.answer_file, question.answer_content_type, f"{item.reference}-answer"
    )


def _send_upload(name: str, content_type: str | None, download_name: str):
    path = stored_path(name)
    if path is None:
        abort(404)
    extension = Path(name).suffix
    return send_file(
        path,
        mimetype=content_type or "application/octet-stream",
        as_attachment=True,
        download_name=f"{download_name}{extension}",
    )


@bp.get("/requests/<reference>/notices/<int:message_id>")
@roles(*ALL_STAFF)
def notice(reference: str, message_id: int):
    item = load_request(reference)
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.request_ref != item.reference:
        abort(404)
    return render_template("admin/notice.html", item=item, message=message)


# --- actions ---------------------------------------------------------------------------------

NOTICE_ACTIONS = {"ask", "extend", "refuse", "partial", "complete", "withdraw", "erase-finish"}


# What stops an action with "Not done: <reason>" instead of an error page.
NOT_DONE = (
    DecisionError,
    IllegalTransition,
    ExtensionNotAllowed,
    DownloadRejected,
    FulfilmentError,
)


@bp.post("/requests/<reference>/actions/<action>")
@roles(*WORKERS)
def act(reference: str, action: str):
    item = load_request(reference)
    form = request.form
    now = utcnow()
    actor = _actor()
    try:
        if action in NOTICE_ACTIONS and form.get("step") != "send":
            return _preview(item, action, form)
        if action == "erase-preview":
            if has_separated_account(item.subject.email if item.subject else None):
                flash(_("This account is dormant: running the erasure first restores it from "
                        "separated storage, so the preview below cannot show its rows yet."))
            return _page(item, erasure_preview=erasure.preview(item, now=now))
        outcome = _perform(item, action, form, actor, now)
    except NOT_DONE as error:
        db.session.rollback()  # what a waiting collection sent is committed already
        flash(*_refusal(item, error))
        _keep_typed(reference, action, form)
        return redirect(url_for("admin.request_detail", reference=reference))
    except KeyError:
        abort(404)
    flash(*(outcome or (_("Done."), "message")))
    return redirect(url_for("admin.request_detail", reference=reference))


#: The free-text fields of the actions, kept when an action is refused so nothing typed is lost.
TYPED_FIELDS = ("method", "text", "question", "reason", "review_on", "outcome", "done",
                "explanation", "note")
TYPED_LIMIT = 2000  # characters in all: the session is a cookie


def _keep_typed(reference: str, action: str, form) -> None:
    """What the staff member typed into a refused action, for the page they are sent back to
    (once: :func:`_typed` takes it)."""
    fields, room = {}, TYPED_LIMIT
    for name in TYPED_FIELDS:
        value = (form.get(name) or "")[:room]
        if value.strip():
            fields[name], room = value, room - len(value)
    if fields:
        session["typed"] = {"reference": reference, "action": action, "fields": fields}


def _typed(reference: str) -> dict:
    """The text kept from a refused action on this request (``{}`` if none), taken once."""
    kept = session.pop("typed", None)
    return kept if kept and kept.get("reference") == reference else {}


def _refusal(item: Request, error: Exception) -> Banner:
    """Why an action was not done, in the staff member's words; waiting is no failure."""
    if isinstance(error, AccessWaiting):
        return staff_message(error), "info"
    if isinstance(error, IllegalTransition):
        status = staff_status_label(item.status)
        return _("Not possible while the request is %(status)s.", status=status), "error"
    return _("Not done: %(reason)s", reason=staff_message(error)), "error"


def _preview(item: Request, action: str, form):
    """The page with the exact notice the action would send; the second POST sends it."""
    subject, text = decisions.preview(item, _notice_for(item, action, form))
    return _page(
        item,
        preview={"action": action, "subject": subject, "text": text, "form": form.to_dict()},
    )


def _notice_for(item: Request, action: str, form) -> decisions.Notice:
    if action == "ask":
        return decisions.question_notice(item, form.get("question", ""))
    if action == "extend":
        return decisions.extension_notice(item, form.get("reason", ""), form.get("review_on"))
    if action in ("refuse", "partial"):
        return decisions.refusal_notice(
            item,
            form.get("ground", ""),
            form.get("explanation", ""),
            partial=action == "partial",
            done=form.get("done"),
        )
    if action == "complete":
        return decisions.completion_notice(item, form.get("outcome", ""))
    if action == "withdraw":
        return decisions.withdrawal_notice(item)
    if action == "erase-finish":
        return erasure.finish_notice(item)
    raise KeyError(action)


def _perform(item: Request, action: str, form, actor: Actor, now: datetime) -> Banner | None:
    """Does the action; its one banner when it has more to say than "Done."."""
    perform = ACTIONS.get(action)
    if perform is None:
        raise KeyError(action)  # an unknown action: 404
    return perform(item, form, actor, now)


def _verify(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.verify_by_hand(item, actor, now, form.get("method"))


def _start(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.start(item, actor, now)


def _assign(item: Request, form, actor: Actor, now: datetime) -> None:
    assignee = None
    if form.get("assignee"):
        if not form["assignee"].isdigit():
            raise DecisionError(N_("choose a handler or an admin"))
        assignee = db.session.get(StaffUser, int(form["assignee"]))
        if assignee is None or assignee.role is StaffRole.AUDITOR:
            raise DecisionError(N_("choose a handler or an admin"))
    decisions.assign(item, assignee, actor, now)


def _note(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.add_note(item, form.get("text", ""), actor, now)


def _ask(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.ask(item, form.get("question", ""), actor, now, form.get("purpose") or "other")


def _answer(item: Request, form, actor: Actor, now: datetime) -> None:
    """An answer the person gave by phone or letter, taken down by staff."""
    text = (form.get("answer") or "").strip()
    if not text or not (form.get("question") or "").isdigit():
        raise DecisionError(N_("write down the answer the person gave"))
    try:
        answer_question(item, int(form["question"]), text=text, file=None, now=now, actor=actor)
    except LookupError as error:
        raise DecisionError(str(error)) from error


def _extend(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.extend(item, form.get("reason", ""), actor, now, form.get("review_on"))


def _end_deferral(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.end_deferral(item, actor, now)


def _refuse(item: Request, form, actor: Actor, now: datetime, *, partial: bool = False) -> None:
    decisions.refuse(
        item,
        form.get("ground", ""),
        form.get("explanation", ""),
        actor,
        now,
        partial=partial,
        done=form.get("done"),
    )


def _refuse_in_part(item: Request, form, actor: Actor, now: datetime) -> None:
    _refuse(item, form, actor, now, partial=True)


def _complete(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.complete(item, form.get("outcome", ""), actor, now)


def _withdraw(item: Request, form, actor: Actor, now: datetime) -> None:
    decisions.withdraw_for_subject(item, form.get("note", ""), actor, now)


def _correction(item: Request, form, actor: Actor, now: datetime) -> None:
    if not form.get("item", "").isdigit():
        raise DecisionError(N_("choose a correction item"))
    decide_correction(
        item,
        int(form["item"]),
        approve=form.get("decision") == "approve",
        target=form.get("target"),
        note=form.get("note"),
        actor=actor.name,
        now=now,
    )


def _stop(item: Request, form, actor: Actor, now: datetime) -> Banner:
    affected = stop_processing(item, actor=actor.name, now=now)
    total = sum(affected.values())
    return _("%(count)s row(s) changed in the operator's systems.", count=total), "message"


def _collect(item: Request, form, actor: Actor, now: datetime) -> Banner:
    prepare_access_package(item, actor=actor.name, now=now)
    return _("The package is offered on the subject's status page."), "message"


def _erase(item: Request, form, actor: Actor, now: datetime) -> Banner:
    _bring_back_dormant(item, actor, now)
    steps = erasure.run(item, actor=actor.name, now=now)
    waiting = [s for s in steps if s.state != "done"]
    if waiting:
        count = len(waiting)
        return _("%(count)s step(s) not done yet: see the erasure steps.", count=count), "info"
    return _("Every step of the erasure is done: finish to tell the subject."), "message"


def _bring_back_dormant(item: Request, actor: Actor, now: datetime) -> None:
    """Dormancy anonymised the account in the live tables and keeps it apart, so erasure would
    find nothing of the person: the account is restored first (audited), then erased like any
    other, its separated copy destroyed by the restore."""
    email = item.subject.email if item.subject else None
    if not has_separated_account(email):
        return
    try:
        restore_account(email, actor=actor, now=now)
    except RestoreError as error:
        raise FulfilmentError(error.message, **error.values) from None
    flash(_("The account was dormant: it was restored from separated storage, then erased."))


def _erase_decide(item: Request, form, actor: Actor, now: datetime) -> None:
    try:
        step_id = int(form.get("step_id", ""))
    except ValueError:
        raise DecisionError(N_("choose a step")) from None
    erasure.decide(
        item,
        step_id,
        keep=form.get("decision") == "keep",
        basis=form.get("basis", ""),
        actor=actor,
        now=now,
    )


def _erase_finish(item: Request, form, actor: Actor, now: datetime) -> None:
    erasure.finish(item, actor, now)


def _offer(item: Request, form, actor: Actor, now: datetime) -> None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise DecisionError(N_("choose a file"))
    offer_download(item, upload.read(), upload.filename, actor=actor.name, now=now)


# A banner: its text and its flash category (message, info, error).
Banner = tuple[str, str]
Action = Callable[[Request, Any, Actor, datetime], Banner | None]

# The staff actions a request's page posts, by the <action> in the URL.
ACTIONS: dict[str, Action] = {
    "verify": _verify,
    "start": _start,
    "assign": _assign,
    "note": _note,
    "ask": _ask,
    "answer": _answer,
    "extend": _extend,
    "deferral-end": _end_deferral,
    "refuse": _refuse,
    "partial": _refuse_in_part,
    "complete": _complete,
    "withdraw": _withdraw,
    "correction": _correction,
    "stop": _stop,
    "collect": _collect,
    "erase": _erase,
    "erase-decide": _erase_decide,
    "erase-finish": _erase_finish,
    "offer": _offer,
}
