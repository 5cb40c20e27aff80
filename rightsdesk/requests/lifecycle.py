"""Submitting requests, moving them through the lifecycle, and listing them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.delivery.connectors import forget_answers
from rightsdesk.delivery.webhooks import enqueue_status_event
from rightsdesk.domain.deadlines import check_extension, paused_days_between, to_local
from rightsdesk.domain.identity import normalise_email
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import TERMINAL, Status, check_transition
from rightsdesk.domain.profiles import ClockStart
from rightsdesk.extensions import db
from rightsdesk.models import (
    Channel,
    ReferenceCounter,
    Representative,
    RepresentativeRole,
    Request,
    Subject,
)
from rightsdesk.requests.deadlines import apply_deadline
from rightsdesk.requests.host_apps import subject_hash
from rightsdesk.requests.tokens import new_status_secret

REFERENCE_PREFIX = "RD"
# A deferral until its ground ends (법 §35③ 후문) entered without a review date gets this one.
DEFAULT_REVIEW = timedelta(days=14)
# UK GDPR Art. 12A: what, once received, starts the period again.
RESTARTING_PURPOSES = ("identity", "fee", "clarification")


def next_reference(year: int) -> str:
    """``RD-<year>-<six digits>``, numbered per year, never reused, safe under concurrency.

    The UPDATE takes the counter row's lock, so two transactions never get the same number.
    """
    session = db.session
    bump = (
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    number = session.execute(bump).scalar()
    if number is None:
        try:
            with session.begin_nested():
                session.execute(insert(ReferenceCounter).values(year=year, last=1))
            number = 1
        except IntegrityError:  # another writer created the year's row first
            number = session.execute(bump).scalar_one()
    return f"{REFERENCE_PREFIX}-{year}-{number:06d}"


def find_or_create_subject(email: str, name: str | None, now: datetime) -> Subject:
    address = normalise_email(email, strict=False)  # intake checked it; old rows are found
    subject = db.session.scalar(select(Subject).where(Subject.email == address))
    if subject is None:
        subject = Subject(
            email=address, name=name, created_at=now, lookup_hash=subject_hash(address)
        )
        db.session.add(subject)
        db.session.flush()
    elif name and not subject.name:
        subject.name = name
    return subject


def submit_request(
    *,
    kind: RequestKind,
    email: str | None,
    name: str | None,
    channel: Channel,
    now: datetime,
    actor: Actor,
    details: str | None = None,
    jurisdiction: str | None = None,
    language: str = "ko",
    received_at: datetime | None = None,
    representative: tuple[RepresentativeRole, str, str | None] | None = None,
    status: Status = Status.RECEIVED_UNVERIFIED,
    scope: dict | None = None,
    api_key_id: int | None = None,
    subject: Subject | None = None,
    commit: bool = True,
) -> Request:
    """Store a new request with its statutory due dates, audited, in one commit.

    ``commit=False`` leaves the commit to a caller that adds more to the same transaction
    (the verification mail, say), so the request and its mail exist together or not at all.
    ``subject`` is given for a person known without an e-mail address (by post or phone).
    """
    request = _new_request(kind, status, jurisdiction, channel, language, received_at or now, now)
    request.subject = subject or find_or_create_subject(email or "", name, now)
    request.details, request.scope, request.api_key_id = details, scope, api_key_id
    _store_received(request, representative, actor=actor, now=now)
    if commit:
        db.session.commit()
    return request


def _new_request(
    kind: RequestKind,
    status: Status,
    jurisdiction: str | None,
    channel: Channel,
    language: str,
    received: datetime,
    now: datetime,
) -> Request:
    """A fresh request under the next reference of its local year, its clock not yet set."""
    profile = settings().profile(jurisdiction)
    return Request(
        reference=next_reference(received.astimezone(settings().tz).year),
        kind=kind,
        status=status,
        jurisdiction=profile.code,
        channel=channel,
        language=language,
        status_secret=new_status_secret(),
        received_at=received,
        verified_at=now if status is not Status.RECEIVED_UNVERIFIED else None,
        extension_count=0,
        paused_days=0,
        created_at=now,
        updated_at=now,
    )


def _store_received(
    request: Request,
    representative: tuple[RepresentativeRole, str, str] | None,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Attach the representative, set the due date, write the row, audit it, tell the host app."""
    if representative:
        role, rep_name, rep_email = representative
        request.representative = Representative(
            role=role, name=rep_name, email=normalise_email(rep_email) if rep_email else None
        )
    else:
        request.representative = None  # known: no SELECT when the mail asks for the address
    with db.session.no_autoflush:  # the due date must be set before the row is written
        db.session.add(request)
        apply_deadline(request)
    db.session.flush()
    _audit_received(request, representative, actor=actor, now=now)
    enqueue_status_event(request, previous=None, now=now)


def _audit_received(
    request: Request,
    representative: tuple[RepresentativeRole, str, str] | None,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    audit.record(
        "request.received",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "kind": request.kind.value,
            "channel": request.channel.value,
            "jurisdiction": request.jurisdiction,
            "status": request.status.value,
            "due": request.due_date.isoformat(),
            "representative": representative[0].value if representative else None,
        },
    )


def change_status(
    request: Request,
    target: Status,
    *,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    commit: bool = True,
) -> Request:
    """Move ``request`` to ``target`` if the lifecycle allows it; extend its clock if asked."""
    current = request.status
    check_transition(current, target, reason)
    _adjust_clock(request, current, target, reason=reason, now=now)
    if target in TERMINAL:
        request.closed_at = now
        forget_answers(request)
    request.status = target
    request.status_reason = reason
    request.updated_at = now
    _audit_status(request, current, actor=actor, now=now)
    enqueue_status_event(request, previous=current, now=now)
    if commit:
        db.session.commit()
    return request


def _audit_status(request: Request, previous: Status, *, actor: Actor, now: datetime) -> None:
    audit.record(
        "request.status",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "from": previous.value,
            "to": request.status.value,
            "due": request.due_date.isoformat(),
        },
    )


def _adjust_clock(
    request: Request, current: Status, target: Status, *, reason: str | None, now: datetime
) -> None:
    """Count an extension, stamp verification, start or end a pause; then recompute the due date.

    The pause ends when the request leaves AWAITING_SUBJECT; its days count only where the
    jurisdiction stops the clock while the subject is asked for something.
    """
    context = settings()
    profile = context.profile(request.jurisdiction)
    if target is Status.EXTENDED:
        rule = check_extension(profile, request.kind, request.extension_count + 1)
        request.extension_count += 1
        request.extension_reason = reason
        if rule.until_ground_ends and request.deferral_review_on is None:
            # Staff set the review date in the console; other paths (the demo) get two weeks.
            request.deferral_review_on = to_local(now, context.tz).date() + DEFAULT_REVIEW
    if target is Status.VERIFIED:
        request.verified_at = now
    if target is Status.AWAITING_SUBJECT:
        request.awaiting_since = now
    elif current is Status.AWAITING_SUBJECT:
        if profile.pauses_while_awaiting_subject and request.awaiting_since:
            request.paused_days += paused_days_between(request.awaiting_since, now, context.tz)
        restarts = request.awaiting_purpose in RESTARTING_PURPOSES
        if profile.clock_starts is ClockStart.LAST_ANSWER and request.awaiting_since and restarts:
            request.clock_restarted_at = now  # UK GDPR Art. 12A: the period begins again
        request.awaiting_since = None
        request.awaiting_purpose = None
    apply_deadline(request)


def list_requests(
    *, statuses: Sequence[Status] = (), kinds: Sequence[RequestKind] = ()
) -> list[Request]:
    """Requests ordered by their statutory due date, soonest first."""
    query = select(Request).join(Request.subject)
    if statuses:
        query = query.where(Request.status.in_(statuses))
    if kinds:
        query = query.where(Request.kind.in_(kinds))
    query = query.order_by(Request.due_date, Request.id)
    return list(db.session.scalars(query))
