"""Requests staff take by phone, letter or in person: the form, checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from rightsdesk.admin.blueprint import WORKERS, bp, roles
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.core.uploads import UploadRejected
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.models import RepresentativeRole
from rightsdesk.requests.intake import CorrectionInput
from rightsdesk.requests.staff_intake import (
    RECEIVED_VIA,
    Contact,
    StaffIntake,
    StaffIntakeError,
    StaffRepresentative,
    enter,
)

CORRECTION_ROWS = 3

PROBLEMS = {
    "no_contact": _l("Give at least one way to reach the person: postal address, phone or e-mail."),
    "no_postal_address": _l(
        "Notices go on paper here: give a postal address (not only spaces), or an e-mail "
        "address without ticking 'answer by post'."
    ),
    "rep_no_contact": _l("Give the representative's postal address or e-mail address."),
    "invalid_email": _l("Please enter a valid e-mail address."),
    "received_via": _l("Choose how the request reached you."),
    "no_corrections": _l("A correction request needs at least one item and its correct value."),
    "rep_name": _l("Give the representative's name."),
    "rep_proof": _l("Attach the proof of representation (PDF, JPEG or PNG)."),
    "upload": _l("The proof must be a PDF, JPEG or PNG file of at most 10 MB."),
}


def via_label(value: str) -> str:
    return str({"phone": _l("Phone"), "letter": _l("Letter"), "in_person": _l("In person")}[value])


def _render(form, errors: dict[str, str] | None = None, status: int = 200):
    page = render_template(
        "admin/new_request.html",
        kinds=SUBJECT_KINDS,
        form=form,
        errors=errors or {},
        received_via=[(v, via_label(v)) for v in RECEIVED_VIA],
        roles=list(RepresentativeRole),
        correction_rows=range(CORRECTION_ROWS),
    )
    return page, status


@bp.route("/requests/new", methods=["GET", "POST"])
@roles(*WORKERS)
def new_request():
    """A request taken by phone, letter or at the counter."""
    if request.method == "GET":
        return _render({})
    form = request.form
    errors: dict[str, str] = {}
    kind = _kind(form.get("kind", ""), errors)
    received = _received_at(form.get("received_at", ""), errors)
    if form.get("identity_checked") and not (form.get("identity_method") or "").strip():
        errors["identity_method"] = _("Say how you confirmed the identity (영 §46).")
    if errors:
        return _render(form, errors, 400)
    try:
        created = enter(_intake(form, kind, received), actor=_actor(), now=datetime.now(UTC))
    except StaffIntakeError as problem:
        return _render(form, {k: str(PROBLEMS[v]) for k, v in problem.problems.items()}, 400)
    except UploadRejected:
        return _render(form, {"rep_proof": str(PROBLEMS["upload"])}, 400)
    flash(_("Request %(reference)s entered.", reference=created.reference))
    return redirect(url_for("admin.request_detail", reference=created.reference))


def _actor() -> Actor:
    return Actor.staff(current_user._get_current_object(), request.remote_addr)


def _intake(form, kind: RequestKind, received: datetime) -> StaffIntake:
    return StaffIntake(
        kind=kind,
        name=form.get("name"),
        contact=Contact(
            email=form.get("email"),
            postal_address=form.get("postal_address"),
            phone=form.get("phone"),
            reply_by_post=form.get("reply_by_post") == "y",
        ),
        received_via=form.get("received_via", ""),
        received_at=received,
        details=form.get("details"),
        language=form.get("language") if form.get("language") in ("ko", "en") else "ko",
        jurisdiction=form.get("jurisdiction") or None,
        corrections=_corrections(form) if kind is RequestKind.CORRECTION else (),
        representative=_representative(form),
        identity_method=form.get("identity_method") if form.get("identity_checked") else None,
    )


def _corrections(form) -> tuple[CorrectionInput, ...]:
    """The filled rows of the correction table (an item and its correct value)."""
    rows = []
    for i in range(CORRECTION_ROWS):
        item = (form.get(f"item_{i}") or "").strip()
        correct = (form.get(f"correct_{i}") or "").strip()
        if item and correct:
            rows.append(CorrectionInput(item, form.get(f"current_{i}"), correct))
    return tuple(rows)


def _representative(form) -> StaffRepresentative | None:
    try:
        role = RepresentativeRole(form.get("rep_role", ""))
    except ValueError:
        return None
    upload = request.files.get("rep_proof")
    return StaffRepresentative(
        role=role,
        name=form.get("rep_name", ""),
        email=form.get("rep_email"),
        postal_address=form.get("rep_postal_address"),
        proof=upload.read() if upload else None,
    )


def _kind(value: str, errors: dict[str, str]) -> RequestKind | None:
    try:
        return RequestKind(value)
    except ValueError:
        errors["kind"] = _("Choose the kind of request.")
        return None


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
