from __future__ import annotations

from io import BytesIO

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import NoOrganisation, settings
from rightsdesk.core.uploads import UploadRejected, check_upload
from rightsdesk.domain.identity import InvalidEmail, normalise_email
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.domain.right_periods import right_periods
from rightsdesk.extensions import db, limiter
from rightsdesk.models import RepresentativeRole
from rightsdesk.organisation.setup import current_organisation
from rightsdesk.public.blueprint import bp
from rightsdesk.public.forms import SCOPED_KINDS, RequestForm
from rightsdesk.requests.deadlines import promised_periods
from rightsdesk.requests.downloads import available as available_downloads
from rightsdesk.requests.downloads import fetch as fetch_download
from rightsdesk.requests.intake import (
    CorrectionInput,
    IntakeInput,
    RepresentativeInput,
    accept_resend,
    accept_submission,
    answer_question,
    confirm_verification,
    public_timeline,
    withdraw,
)
from rightsdesk.requests.tokens import (
    TokenError,
    consume_verification,
    peek_verification,
    resolve_status,
)

UPLOAD_ERRORS = {
    "empty": lambda: _("The file is empty."),
    "too_large": lambda: _("The file is larger than 10 MB."),
    "type": lambda: _("Only PDF, JPEG or PNG files are accepted."),
}


def _organisation():
    try:
        return current_organisation()
    except (NoOrganisation, OperationalError, ProgrammingError):
        db.session.rollback()
        return None


def _email_key() -> str:
    """Rate-limit key: the address typed into the form, so one inbox cannot be flooded."""
    try:
        return "email:" + normalise_email(request.form.get("email", ""))
    except InvalidEmail:
        return "email:-"


def _limit(name: str):
    return lambda: current_app.config[name]


def _accepted(response) -> bool:
    """Only a submission the form accepted counts against SUBMIT_LIMIT: a person whose typos
    the form rejected can still file (every attempt counts against ATTEMPT_LIMIT)."""
    return response.status_code == 302


@bp.get("/")
def home() -> str:
    """The rights the operator offers, with the law's period for each and its promise."""
    profile = settings().profile()
    organisation = _organisation()  # None before setup: no promises either
    promises = promised_periods(profile.code) if organisation else {}
    rights = right_periods(profile, SUBJECT_KINDS, promises)
    return render_template(
        "public/home.html", organisation=organisation, rights=rights, profile=profile
    )


@bp.route("/requests/new", methods=["GET", "POST"])
@limiter.limit(_limit("ATTEMPT_LIMIT"), methods=["POST"])
@limiter.limit(_limit("SUBMIT_LIMIT"), methods=["POST"], deduct_when=_accepted)
@limiter.limit(_limit("SUBMIT_LIMIT"), methods=["POST"], key_func=_email_key, deduct_when=_accepted)
def new_request():
    form = RequestForm()
    if request.method == "GET" and request.args.get("kind") in {k.value for k in SUBJECT_KINDS}:
        form.kind.data = request.args["kind"]
    if request.method == "POST" and form.add_item.data:
        form.corrections.append_entry()
        return render_template("public/new.html", form=form)
    if request.method == "POST":
        valid = form.validate_on_submit()
        proof = _read_proof(form)  # after validation, which would clear its error
        if valid and proof is not False:
            accept_submission(_intake_input(form, proof or None), now=utcnow())
            return redirect(url_for("public.request_sent"))
        return render_template("public/new.html", form=form), 400
    return render_template("public/new.html", form=form)


def _read_proof(form: RequestForm) -> bytes | bool | None:
    """The uploaded proof's bytes; ``False`` (with the error beside the field) if unusable."""
    if not form.on_behalf.data:
        return None
    upload = request.files.get("proof")
    data = upload.read() if upload else b""
    try:
        check_upload(data)
    except UploadRejected as problem:
        message = UPLOAD_ERRORS[problem.code]() if data else _("Please attach the proof.")
        form.proof.errors = [message]
        return False
    return data


def _intake_input(form: RequestForm, proof: bytes | None) -> IntakeInput:
    kind = RequestKind(form.kind.data)
    return IntakeInput(
        kind=kind,
        name=form.name.data,
        email=form.email.data,
        details=(form.details.data or "").strip() or None,
        language=str(get_locale()),
        corrections=_corrections(form, kind),
        scope=_scope(form, kind),
        representative=_representative(form, proof),
    )


def _corrections(form: RequestForm, kind: RequestKind) -> tuple[CorrectionInput, ...]:
    """The correction items filled in (none unless the request is for a correction)."""
    if kind is not RequestKind.CORRECTION:
        return ()
    return tuple(
        CorrectionInput(e.form.item.data, e.form.current_value.data, e.form.correct_value.data)
        for e in form.corrections
        if (e.form.item.data or "").strip()
    )


def _scope(form: RequestForm, kind: RequestKind) -> dict | None:
    """What an objection or a withdrawal of consent covers: some purposes, or all."""
    if kind.value not in SCOPED_KINDS:
        return None
    if form.scope.data == "purposes":
        return {"purposes": sorted(form.purposes.data)}
    return {"all": True}


def _representative(form: RequestForm, proof: bytes | None) -> RepresentativeInput | None:
    if not form.on_behalf.data:
        return None
    return RepresentativeInput(
        role=RepresentativeRole(form.representative_role.data),
        name=form.representative_name.data,
        email=form.representative_email.data,
        proof=proof,
    )


@bp.get("/requests/sent")
def request_sent() -> str:
    return render_template("public/sent.html")


@bp.get("/requests/verify/<token>")
@limiter.limit(_limit("VERIFY_LIMIT"))
def verify(token: str):
    """Show a confirm button: the GET confirms nothing, so link scanners cannot."""
    try:
        pending = peek_verification(token, now=utcnow())
    except TokenError as error:
        return render_template("public/token_problem.html", problem=error.problem.value), 400
    return render_template("public/verify.html", token=token, pending=pending)


@bp.post("/requests/verify/<token>")
@limiter.limit(_limit("VERIFY_LIMIT"))
def confirm(token: str):
    now = utcnow()
    try:
        verified = consume_verification(token, now=now)
    except TokenError as error:
        return render_template("public/token_problem.html", problem=error.problem.value), 400
    link_token = confirm_verification(verified, now=now)
    return redirect(url_for("public.status", token=link_token, confirmed=1))


@bp.route("/requests/resend", methods=["GET", "POST"])
@limiter.limit(_limit("RESEND_LIMIT"), methods=["POST"])
@limiter.limit(_limit("RESEND_LIMIT"), methods=["POST"], key_func=_email_key)
def resend():
    """The same answer whether or not the address is known: nobody learns who asked."""
    if request.method == "POST":
        accept_resend(request.form.get("email", ""), now=utcnow())
        return render_template("public/resent.html")
    return render_template("public/resend.html")


def _status_request(token: str):
    found = resolve_status(token)
    if found is None or found.personal_data_purged_at is not None:
        abort(404)
    return found


@bp.get("/requests/status/<token>")
def status(token: str) -> str:
    found = _status_request(token)
    return _status_page(token, found, confirmed=request.args.get("confirmed") == "1")


def _status_page(token: str, found, *, confirmed: bool, **extra) -> str:
    """The request's status page: its timeline, open questions and files to download."""
    return render_template(
        "public/status.html",
        token=token,
        item=found,
        timeline=public_timeline(found),
        open_questions=[q for q in found.questions if q.answered_at is None],
        can_withdraw=found.status in OPEN,
        confirmed=confirmed,
        downloads=available_downloads(found, utcnow()),
        **extra,
    )


@bp.get("/requests/status/<token>/downloads/<int:download_id>")
def download(token: str, download_id: int):
    found = _status_request(token)
    fetched = fetch_download(found, download_id, now=utcnow())
    if fetched is None:
        abort(404)
    item, data = fetched
    return send_file(
        BytesIO(data), mimetype=item.content_type, as_attachment=True, download_name=item.filename
    )


@bp.post("/requests/status/<token>/withdraw")
def withdraw_request(token: str):
    found = _status_request(token)
    if found.status in OPEN:
        withdraw(found, now=utcnow())
    return redirect(url_for("public.status", token=token))


@bp.post("/requests/status/<token>/questions/<int:question_id>")
def answer(token: str, question_id: int):
    found = _status_request(token)
    if found.status not in OPEN:
        abort(409)
    text = (request.form.get("answer") or "").strip()
    upload = request.files.get("file")
    data = upload.read() if upload and upload.filename else None
    error = _answer_problem(text, data)
    if error:
        return _status_page(
            token, found, confirmed=False, answer_error=(question_id, error), answer_text=text
        ), 400
    try:
        answer_question(found, question_id, text=text, file=data, now=utcnow())
    except LookupError:
        abort(404)
    return redirect(url_for("public.status", token=token))


def _answer_problem(text: str, data: bytes | None) -> str | None:
    """What is wrong with an answer, in the subject's words; ``None`` when nothing is."""
    if not text and not data:
        return _("Please write an answer or attach a file.")
    if len(text) > 5000:
        return _("This is too long.")
    if data is not None:
        try:
            check_upload(data)
        except UploadRejected as problem:
            return UPLOAD_ERRORS[problem.code]()
    return None


