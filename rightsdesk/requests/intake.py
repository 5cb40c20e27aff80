"""Intake: a data subject files a request, proves their e-mail, and follows it.

Every use-case here stores first and answers after: the request, its verification nonce and the
mail that carries the link are committed together, and the outbox sends the mail later, so an
SMTP outage delays a message but never loses one. The web form goes one step further: it answers
once the submission's single row is committed (``accept_submission``), and the worker files it
as the request, dated from that moment (``process_submissions``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core import audit, jobqueue, stopping
from rightsdesk.core.actors import SUBJECT, Actor
from rightsdesk.core.context import current_organisation
from rightsdesk.core.uploads import StoredFile, delete_upload, store_upload
from rightsdesk.core.urls import external_url
from rightsdesk.delivery.letters import send_to_subject
from rightsdesk.delivery.outbox import queue
from rightsdesk.domain.identity import (
    MAX_EMAIL_LENGTH,
    InvalidEmail,
    normalise_email,
    strip_control_characters,
)
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    Channel,
    CorrectionItem,
    InboundMessage,
    IntakeSubmission,
    Letter,
    OutboxMessage,
    Question,
    RecipientNotice,
    Representative,
    RepresentativeRole,
    Request,
    Subject,
    VerificationNonce,
)
from rightsdesk.requests.deadlines import answer_without_delay
from rightsdesk.requests.host_apps import remember_response, stored_response
from rightsdesk.requests.lifecycle import change_status, submit_request
from rightsdesk.requests.lookup import by_reference
from rightsdesk.requests.tokens import issue_verification, new_status_secret, status_token

RESEND_AT_MOST = 3  # requests whose link is re-sent by one resend
SUBMISSION_FIRST_RETRY = timedelta(seconds=30)
SUBMISSION_LONGEST_WAIT = timedelta(hours=1)
#: Submissions are taken (deleted with the request's transaction), oldest due first.
SUBMISSIONS = jobqueue.Queue(
    model=IntakeSubmission,
    due=IntakeSubmission.next_attempt_at,
    order_by=(IntakeSubmission.next_attempt_at, IntakeSubmission.id),
    error=IntakeSubmission.last_error,
)


@dataclass(frozen=True)
class CorrectionInput:
    item: str
    current_value: str | None
    correct_value: str


@dataclass(frozen=True)
class RepresentativeInput:
    role: RepresentativeRole
    name: str
    email: str
    proof: bytes | None = None


@dataclass(frozen=True)
class IntakeInput:
    """What a person asked for, already validated by the form or the mail parser."""

    kind: RequestKind
    name: str | None
    email: str
    details: str | None = None
    language: str = "ko"
    corrections: tuple[CorrectionInput, ...] = ()
    scope: dict | None = None
    representative: RepresentativeInput | None = None
    channel: Channel = Channel.WEB
    jurisdiction: str | None = None
    # Threading for a request that arrived by e-mail: the verification mail replies to it.
    reply_to_message_id: str | None = None
    reply_references: tuple[str, ...] = field(default_factory=tuple)


def _clean(text: str | None) -> str | None:
    return strip_control_characters(text) if text is not None else None


def file_request(data: IntakeInput, *, now: datetime, actor: Actor = SUBJECT) -> Request:
    """Store the request (received, unverified) and queue its verification mail; one commit.

    Control characters (NUL above all, which PostgreSQL refuses) are dropped from what people
    typed; nothing else is changed.
    """
    proof = data.representative.proof if data.representative else None
    return committed_with_proof(
        proof, lambda stored: _create_request(data, now=now, actor=actor, proof=stored)
    )


def committed_with_proof(
    proof: bytes | None, create: Callable[[StoredFile | None], Request]
) -> Request:
    """Store the representative's proof file, create the request with it and commit; on any
    failure roll back and delete the file again, so nothing half-stored is left."""
    stored = store_upload(proof) if proof else None
    try:
        request = create(stored)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if stored:
            delete_upload(stored.name)
        raise
    return request


def _create_request(
    data: IntakeInput,
    *,
    now: datetime,
    actor: Actor,
    proof: StoredFile | None,
    received_at: datetime | None = None,
) -> Request:
    """The request with its corrections, representative proof and verification mail, added to
    the session (the caller commits)."""
    request = _submit_cleaned(data, now=now, actor=actor, received_at=received_at)
    if proof and request.representative:
        request.representative.proof_file = proof.name
        request.representative.proof_content_type = proof.content_type
        request.representative.proof_size = proof.size
    for item in data.corrections:
        request.corrections.append(_cleaned_correction(item))
    db.session.flush()
    _queue_verification(
        request,
        now=now,
        in_reply_to=data.reply_to_message_id,
        references=data.reply_references,
    )
    return request


def _submit_cleaned(
    data: IntakeInput, *, now: datetime, actor: Actor, received_at: datetime | None
) -> Request:
    """``submit_request`` with what the person typed, control characters dropped."""
    representative = None
    if data.representative:
        rep = data.representative
        representative = (rep.role, (_clean(rep.name) or "").strip(), rep.email)
    return submit_request(
        kind=data.kind,
        email=data.email,
        name=(_clean(data.name) or "").strip() or None,
        channel=data.channel,
        now=now,
        actor=actor,
        details=_clean(data.details),
        language=data.language,
        representative=representative,
        scope=data.scope,
        jurisdiction=data.jurisdiction,
        received_at=received_at,
        commit=False,
    )


def _cleaned_correction(item: CorrectionInput) -> CorrectionItem:
    return CorrectionItem(
        item=(_clean(item.item) or "").strip(),
        current_value=(_clean(item.current_value) or "").strip() or None,
        correct_value=(_clean(item.correct_value) or "").strip(),
    )


# --- the web form's queue: acknowledge with one row, make the request in the worker -----------


def accept_submission(data: IntakeInput, *, now: datetime) -> None:
    """Take a web-form submission in: its proof file and one row, committed. From here on the
    submission is acknowledged and cannot be lost; ``process_submissions`` (the worker) makes
    it into the request, dated from ``now``, the moment it was received.

    A burst of submissions (after a breach notice, say) costs the web server one INSERT each;
    the request's own work (reference, deadline, audit chain, verification mail) waits its
    turn in the worker instead of holding every web worker on the audit chain's lock.
    """
    stored: StoredFile | None = None
    if data.representative and data.representative.proof:
        stored = store_upload(data.representative.proof)
    try:
        _insert_submission(_submission_payload(data, stored), now)
    except BaseException:
        if stored:
            delete_upload(stored.name)
        raise


def accept_resend(email: str, *, now: datetime) -> None:
    """Take a request for fresh verification links in: one row, whatever the address (known,
    unknown or not an address at all), so the form does the same work and answers in the same
    time for each; the worker looks the address up and mails its owner, or drops the row."""
    _insert_submission(json.dumps({"resend": email[:MAX_EMAIL_LENGTH + 1]}), now)


def _insert_submission(payload: str, now: datetime) -> None:
    """One INSERT, durable when it returns: a single statement needs no BEGIN and COMMIT of
    its own (autocommit), nor the session's unit of work."""
    statement = insert(IntakeSubmission.__table__).values(
        received_at=now, payload=payload, attempts=0, next_attempt_at=now
    )
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(statement)


def _submission_payload(data: IntakeInput, proof: StoredFile | None) -> str:
    rep = data.representative
    return json.dumps(
        {
            "kind": data.kind.value,
            "name": data.name,
            "email": data.email,
            "details": data.details,
            "language": data.language,
            "corrections": [[c.item, c.current_value, c.correct_value] for c in data.corrections],
            "scope": data.scope,
            "representative": rep
            and {"role": rep.role.value, "name": rep.name, "email": rep.email},
            "proof": proof
            and {"name": proof.name, "content_type": proof.content_type, "size": proof.size},
            "channel": data.channel.value,
            "jurisdiction": data.jurisdiction,
        },
        ensure_ascii=False,
    )


def _from_payload(payload: str) -> tuple[IntakeInput, StoredFile | None]:
    fields = json.loads(payload)
    rep = fields["representative"]
    proof = fields["proof"]
    data = IntakeInput(
        kind=RequestKind(fields["kind"]),
        name=fields["name"],
        email=fields["email"],
        details=fields["details"],
        language=fields["language"],
        corrections=tuple(CorrectionInput(*item) for item in fields["corrections"]),
        scope=fields["scope"],
        representative=rep
        and RepresentativeInput(RepresentativeRole(rep["role"]), rep["name"], rep["email"]),
        channel=Channel(fields["channel"]),
        jurisdiction=fields["jurisdiction"],
    )
    return data, proof and StoredFile(proof["name"], proof["content_type"], proof["size"])


@dataclass
class IntakeReport:
    filed: list[str] = field(default_factory=list)  # references of the requests made
    failed: list[str] = field(default_factory=list)  # "submission N: reason", to retry later

    @property
    def attempted(self) -> int:
        return len(self.filed) + len(self.failed)


def process_submissions(
    *, now: datetime, limit: int = 10_000, seconds: float | None = None
) -> IntakeReport:
    """Make the waiting web-form submissions into requests, oldest first, one transaction each.

    Each transaction deletes its submission row (``DELETE … RETURNING``; on PostgreSQL the
    row is chosen with ``FOR UPDATE SKIP LOCKED``) and creates the request, so a crash undoes
    both and a second worker never takes the same row. A submission that fails is put back
    with a back-off and its reason (never its content), and the others go on. ``seconds``
    bounds one call, so the worker's other duties are not starved by a long backlog.
    """
    report = IntakeReport()
    started = time.monotonic()
    while len(report.filed) + len(report.failed) < limit:
        if seconds is not None and time.monotonic() - started > seconds:
            break
        if stopping.requested():  # the worker was asked to stop (SIGTERM): the rest wait
            break
        claimed = _claim_submission(now)
        if claimed is None:
            break
        _file_submission(claimed, now, report)
    return report


def _file_submission(
    claimed: tuple[int, datetime, str, int], now: datetime, report: IntakeReport
) -> None:
    """Make one taken submission into its request and commit both; or roll back (which puts
    the submission back) and postpone it with its reason."""
    submission_id, received_at, payload, attempts = claimed
    try:
        if payload.startswith('{"resend"'):
            _resend_submission(payload, now)
            return
        data, proof = _from_payload(payload)
        request = _create_request(
            data, now=now, actor=SUBJECT, proof=proof, received_at=received_at
        )
        db.session.commit()
    except Exception as error:  # any failure waits for a retry; the others go on
        db.session.rollback()
        reason = _reason(error)
        _postpone(submission_id, attempts, reason, now)
        report.failed.append(f"submission {submission_id}: {reason}")
        return
    report.filed.append(request.reference)


def _resend_submission(payload: str, now: datetime) -> None:
    """A taken resend row: mail fresh links to the address's owner (if it has unconfirmed
    requests) and commit the row's removal with them. The address is not kept anywhere."""
    resend_verification(json.loads(payload)["resend"], now=now)
    db.session.commit()


def _claim_submission(now: datetime) -> tuple[int, datetime, str, int] | None:
    """Delete the oldest due submission in a new transaction and return it; the caller's
    commit (with the request) or rollback (which restores it) ends that transaction."""
    s = IntakeSubmission
    row = jobqueue.take(SUBMISSIONS, now=now, columns=(s.id, s.received_at, s.payload, s.attempts))
    if row is None:
        db.session.rollback()
        return None
    return row.id, _utc(row.received_at), row.payload, row.attempts


def _postpone(submission_id: int, attempts: int, reason: str, now: datetime) -> None:
    """Back-off: 30 s after the first failure, doubling, at most an hour."""
    wait = jobqueue.backoff(
        attempts + 1, first=SUBMISSION_FIRST_RETRY, longest=SUBMISSION_LONGEST_WAIT
    )
    jobqueue.give_back(
        SUBMISSIONS, submission_id, now=now, wait=wait, error=reason[:300], attempts=attempts + 1
    )
    db.session.commit()


def _reason(error: Exception) -> str:
    """What went wrong, without the statement's parameters (they hold what the person typed)."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line}"[:300]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def waiting_submissions() -> tuple[int, datetime | None]:
    """How many submissions wait for the worker, and since when the oldest has."""
    count, oldest = db.session.execute(
        select(func.count(IntakeSubmission.id), func.min(IntakeSubmission.received_at))
    ).one()
    return count, _utc(oldest) if oldest else None


def file_api_request(
    data: IntakeInput,
    *,
    api_key,
    vouched: bool,
    now: datetime,
    idempotency: tuple[str, str] | None,
    response,
) -> tuple[Request, dict]:
    """A request from a host application, in one transaction with its idempotency record;
    returns the request and the answer (the one stored for replays, so both are the same).

    ``vouched``: the host app signed an assertion that this is its signed-in user's e-mail, so
    the identity is confirmed at once (acknowledgement); otherwise the usual verification mail.
    A concurrent retry with the same Idempotency-Key loses on the unique constraint and gets the
    first request back.
    """
    try:
        request = _submit_api(data, api_key=api_key, vouched=vouched, now=now)
        answer = response(request)
        if idempotency:
            remember_response(api_key, *idempotency, 201, answer, now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        replayed = _replayed(api_key, idempotency)
        if replayed is None:
            raise
        return replayed
    return request, answer


def _submit_api(data: IntakeInput, *, api_key, vouched: bool, now: datetime) -> Request:
    """The host app's request with its corrections and first mail; not committed."""
    corrections = [
        CorrectionItem(
            item=item.item.strip(),
            current_value=item.current_value,
            correct_value=item.correct_value.strip(),
        )
        for item in data.corrections
    ]
    name = (data.name or "").strip() or None
    return _submit_with_first_mail(
        replace(data, name=name, channel=Channel.API),
        confirmed=vouched,
        actor=Actor.api(api_key.name),
        now=now,
        corrections=corrections,
        api_key_id=api_key.id,
    )


def _replayed(api_key, idempotency: tuple[str, str] | None) -> tuple[Request, dict] | None:
    """The request and answer a concurrent first attempt with the same key stored, if any."""
    earlier = stored_response(api_key, idempotency[0]) if idempotency else None
    if earlier is None:
        return None
    answer = json.loads(earlier.body)
    found = by_reference(answer["reference"])
    return found, answer


def _submit_with_first_mail(
    data: IntakeInput,
    *,
    confirmed: bool,
    actor: Actor,
    now: datetime,
    corrections: Sequence[CorrectionItem] = (),
    **more: Any,
) -> Request:
    """The request, verified at once if ``confirmed``, its corrections, its first mail."""
    request = submit_request(
        kind=data.kind,
        email=data.email,
        name=data.name,
        channel=data.channel,
        now=now,
        actor=actor,
        details=data.details,
        language=data.language,
        scope=data.scope,
        jurisdiction=data.jurisdiction,
        status=Status.VERIFIED if confirmed else Status.RECEIVED_UNVERIFIED,
        commit=False,
        **more,
    )
    request.corrections.extend(corrections)
    db.session.flush()
    queue_first_notice(request, confirmed=confirmed, now=now)
    return request


def queue_first_notice(request: Request, *, confirmed: bool, now: datetime) -> None:
    """The acknowledgement if the identity is confirmed already, else the verification link."""
    if confirmed:
        _queue_acknowledgement(request, now=now)
    else:
        _queue_verification(request, now=now)


def _queue_acknowledgement(request: Request, *, now: datetime) -> None:
    """Reference, legal due date and the private status link (after identity is confirmed)."""
    notify_subject(request, "acknowledge", now=now, without_delay=answer_without_delay(request))


def notify_subject(request: Request, template: str, *, now: datetime, **context: object) -> None:
    """Queue ``template`` to whoever speaks for the request (representative, else subject), in
    their language, with the request, the operator and a fresh status link in its context: a
    mail, or a letter when they answer by post."""
    send_to_subject(
        request,
        template,
        context={
            "item": request,
            "organisation": _organisation(),
            "status_url": external_url(
                "public.status", token=status_token(request), lang=request.language
            ),
            **context,
        },
        now=now,
    )


def _queue_verification(
    request: Request,
    *,
    now: datetime,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> None:
    """The verification link by mail. Without an e-mail address there is none to prove:
    staff confirm the identity by hand (영 §46) and the acknowledgement follows by post."""
    if not request.contact_email:
        return
    token = issue_verification(request, now=now)
    queue(
        "verify",
        recipient=request.contact_email or "",
        language=request.language,
        context={
            "item": request,
            "organisation": _organisation(),
            "verify_url": external_url("public.verify", token=token, lang=request.language),
            "resend_url": external_url("public.resend", lang=request.language),
            "hours": current_app.config["VERIFY_TTL_HOURS"],
        },
        now=now,
        request_ref=request.reference,
        in_reply_to=in_reply_to,
        references=(*references, in_reply_to) if in_reply_to else references,
    )


def _organisation():
    try:
        return current_organisation()
    except LookupError:
        return None


def confirm_verification(request: Request, *, now: datetime) -> str:
    """After the token was consumed: verify, acknowledge by mail, return the status link."""
    if request.status is Status.RECEIVED_UNVERIFIED:
        change_status(request, Status.VERIFIED, actor=SUBJECT, now=now, commit=False)
        _queue_acknowledgement(request, now=now)
    db.session.commit()
    return status_token(request)


def resend_verification(email: str, *, now: datetime) -> int:
    """Send fresh links for the address's unverified, unexpired requests; the caller shows the
    same page whatever this returns, so nobody learns which addresses are known."""

    try:
        address = normalise_email(email)
    except InvalidEmail:
        return 0
    cutoff = now - timedelta(days=int(current_app.config["UNVERIFIED_EXPIRY_DAYS"]))
    query = (
        select(Request)
        .outerjoin(Request.subject)
        .outerjoin(Request.representative)
        .where(
            Request.status == Status.RECEIVED_UNVERIFIED,
            Request.received_at > cutoff,
            or_(
                (Representative.email == address),
                (Representative.id.is_(None) & (Subject.email == address)),
            ),
        )
        .order_by(Request.received_at.desc())
        .limit(RESEND_AT_MOST)
    )
    requests = list(db.session.scalars(query))
    for request in requests:
        _queue_verification(request, now=now)
        audit.record("request.link_resent", actor=SUBJECT, now=now, request_ref=request.reference)
    db.session.commit()
    return len(requests)


def withdraw(request: Request, *, now: datetime) -> None:
    change_status(request, Status.WITHDRAWN, actor=SUBJECT, now=now, commit=False)
    notify_subject(request, "withdrawn", now=now)
    db.session.commit()


def revoke_status_links(reference: str, *, send_new: bool, actor: Actor, now: datetime) -> Request:
    """Rotate the request's status secret, so every link sent so far stops working."""
    request = by_reference(reference)
    if request is None or request.personal_data_purged_at is not None:
        raise LookupError(f"no request {reference!r}")
    request.status_secret = new_status_secret()
    audit.record("request.link_revoked", actor=actor, now=now, request_ref=request.reference)
    if send_new:
        notify_subject(request, "status_link", now=now)
    db.session.commit()
    return request


def ask_subject(request: Request, text: str, *, actor: Actor, now: datetime) -> Question:
    """Staff ask the subject something; the status page takes the answer."""
    question = Question(request=request, asked_at=now, asked_by=actor, text=text.strip())
    db.session.add(question)
    if request.status is not Status.AWAITING_SUBJECT:
        change_status(request, Status.AWAITING_SUBJECT, actor=actor, now=now, commit=False)
    db.session.flush()
    notify_subject(request, "question", now=now, question=question)
    audit.record(
        "request.question",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={"question": question.id},
    )
    db.session.commit()
    return question


def answer_question(
    request: Request,
    question_id: int,
    *,
    text: str | None,
    file: bytes | None,
    now: datetime,
    actor: Actor = SUBJECT,
) -> None:
    """The subject's answer (from the status page), or one staff took down from a phone
    call or a letter (``actor`` is then the member of staff)."""
    question = db.session.get(Question, question_id)
    if question is None or question.request_id != request.id or question.answered_at:
        raise LookupError("no open question with that number on this request")
    stored = store_upload(file) if file else None
    try:
        question.answer_text = (text or "").strip() or None
        question.answered_at = now
        if stored:
            question.answer_file = stored.name
            question.answer_content_type = stored.content_type
        audit.record(
            "request.answered",
            actor=actor,
            now=now,
            request_ref=request.reference,
            data={"question": question.id, "file": bool(stored)},
        )
        still_open = [q for q in request.questions if q.answered_at is None]
        if request.status is Status.AWAITING_SUBJECT and not still_open:
            change_status(request, Status.IN_PROGRESS, actor=actor, now=now, commit=False)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if stored:
            delete_upload(stored.name)
        raise


PUBLIC_ACTIONS = ("request.received", "request.status", "request.answered", "request.question")


def public_timeline(request: Request) -> list[tuple[datetime, str, dict]]:
    """What the subject may see of the history: receipt, status changes, questions, answers."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.request_ref == request.reference, AuditEvent.action.in_(PUBLIC_ACTIONS))
        .order_by(AuditEvent.seq)
    )
    return [(event.at, event.action, json.loads(event.data)) for event in events]


@dataclass
class ExpiryReport:
    expired: list[str] = field(default_factory=list)


def expire_unverified(*, now: datetime, dry_run: bool = False) -> ExpiryReport:
    """Requests never verified within the expiry period: mark expired, purge personal data.
    Requests without an e-mail address (taken by phone or letter) never expire this way.

    Kept: the reference, kind, channel, dates and the audit chain (which holds no personal
    data), so statistics and the proof of what happened survive.
    """
    cutoff = now - timedelta(days=int(current_app.config["UNVERIFIED_EXPIRY_DAYS"]))
    found = db.session.scalars(
        select(Request)
        .where(Request.status == Status.RECEIVED_UNVERIFIED, Request.received_at <= cutoff)
        .order_by(Request.id)
    ).all()
    # Without an e-mail address no link was sent to expire: staff confirm the identity (or
    # refuse) by hand, however long a letter takes.
    stale = [r for r in found if r.contact_email]
    report = ExpiryReport(expired=[r.reference for r in stale])
    if dry_run:
        return report
    for request in stale:
        change_status(request, Status.EXPIRED, actor=Actor.system("expiry"), now=now, commit=False)
        files = purge_personal_data(request, now=now)
        db.session.commit()
        for name in files:  # only once the database no longer points at them
            delete_upload(name)
    return report


def purge_personal_data(request: Request, *, now: datetime) -> list[str | None]:
    """Destroy what identifies the person on this request; return the upload files to delete
    once the caller has committed."""
    files = _drop_uploads(request)
    request.corrections.clear()
    request.details = None
    request.scope = None
    db.session.execute(delete(VerificationNonce).where(VerificationNonce.request_id == request.id))
    _blank_mail(request.reference)
    _forget_subject(request, now=now)
    audit.record(
        "request.purged",
        actor=Actor.system("expiry"),
        now=now,
        request_ref=request.reference,
    )
    return files


def _drop_uploads(request: Request) -> list[str | None]:
    """Delete the representative (and their proof) and clear the answers to questions;
    return the upload files they pointed at."""
    files: list[str | None] = []
    if request.representative:
        files.append(request.representative.proof_file)
        db.session.delete(request.representative)
    for question in request.questions:
        files.append(question.answer_file)
        question.answer_text = None
        question.answer_file = None
    return files


def _blank_mail(reference: str) -> None:
    """Addresses and bodies of the request's mail, sent and received, its letters (and their
    PDFs) and its notices to recipients are purged; when and whether they went out stays."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.request_ref == reference)
        .values(recipient="purged", body_text="", body_html=None)
    )
    db.session.execute(
        update(InboundMessage)
        .where(InboundMessage.request_ref == reference)
        .values(from_address=None, subject=None, raw=None)
    )
    db.session.execute(
        update(Letter)
        .where(Letter.request_ref == reference)
        .values(addressee="purged", postal_address="purged", phone=None, body_text="", pdf=None)
    )
    db.session.execute(
        update(RecipientNotice).where(RecipientNotice.request_ref == reference).values(body="{}")
    )


def _forget_subject(request: Request, *, now: datetime) -> None:
    """Detach the subject (deleted if no other request is theirs) and void status links."""
    subject = request.subject
    request.subject = None
    request.personal_data_purged_at = now
    request.status_secret = "purged"
    db.session.flush()
    if subject is not None and not subject.requests:
        db.session.delete(subject)
