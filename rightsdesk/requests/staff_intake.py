"""Requests staff take by phone, letter or at the counter: the same request the web form makes.

The person may give any of an e-mail address, a postal address or a phone number. Notices go
by e-mail when there is one and the person did not ask for paper, else as letters
(:mod:`rightsdesk.delivery.letters`) to the postal address; with a phone number alone, each
notice is still made as a letter (its text is the record) and staff read it to the person by
phone and record the day, until the person gives an address. Identity is confirmed by staff,
who record how (영 §46: e.g. "주민등록증 대조 (창구)", "가입 시 등록한 휴대전화로 회신 전화"); until
then the request waits unverified, and only a request with an e-mail address gets the web
form's verification link.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.uploads import StoredFile
from rightsdesk.domain.identity import InvalidEmail, normalise_email, strip_control_characters
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import Channel, CorrectionItem, RepresentativeRole, Request, Subject
from rightsdesk.requests.intake import CorrectionInput, committed_with_proof, queue_first_notice
from rightsdesk.requests.lifecycle import find_or_create_subject, submit_request

#: How a staff-entered request reached the operator.
RECEIVED_VIA = ("phone", "letter", "in_person")


class StaffIntakeError(ValueError):
    """What is wrong with the entry, per form field: ``problems`` maps field to a problem code
    (the console words it in the staff member's language)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Contact:
    email: str | None = None
    postal_address: str | None = None
    phone: str | None = None
    reply_by_post: bool = False


@dataclass(frozen=True)
class StaffRepresentative:
    role: RepresentativeRole
    name: str
    email: str | None = None
    postal_address: str | None = None
    proof: bytes | None = None


@dataclass(frozen=True)
class StaffIntake:
    kind: RequestKind
    name: str | None
    contact: Contact
    received_via: str
    received_at: datetime
    details: str | None = None
    language: str = "ko"
    jurisdiction: str | None = None
    corrections: tuple[CorrectionInput, ...] = ()
    representative: StaffRepresentative | None = None
    identity_method: str | None = None  # set when staff confirmed who the person is
    scope: dict | None = None


def _text(value: str | None) -> str | None:
    """What staff typed, control characters dropped; blank is nothing."""
    cleaned = strip_control_characters(value or "").strip()
    return cleaned or None


def cleaned(data: StaffIntake) -> StaffIntake:
    """Blank fields as None, e-mail addresses normalised; raises with every problem at once."""
    problems: dict[str, str] = {}
    contact = _cleaned_contact(data.contact, problems, "")
    rep = data.representative
    if rep is not None:
        rep = _cleaned_representative(rep, problems)
    if data.received_via not in RECEIVED_VIA:
        problems["received_via"] = "received_via"
    if data.kind is RequestKind.CORRECTION and not data.corrections:
        problems["corrections"] = "no_corrections"
    _check_reachable(contact, rep, problems)
    if problems:
        raise StaffIntakeError(problems)
    return replace(
        data,
        name=_text(data.name),
        contact=contact,
        representative=rep,
        details=_text(data.details),
        identity_method=_text(data.identity_method),
    )


def _cleaned_contact(contact: Contact, problems: dict[str, str], prefix: str) -> Contact:
    email = _text(contact.email)
    if email:
        try:
            email = normalise_email(email)
        except InvalidEmail:
            problems[f"{prefix}email"] = "invalid_email"
    postal_address = _text(contact.postal_address)
    if contact.postal_address and not postal_address:  # typed, but only spaces
        problems[f"{prefix}postal_address"] = "no_postal_address"
    return Contact(
        email=email,
        postal_address=postal_address,
        phone=_text(contact.phone),
        reply_by_post=contact.reply_by_post,
    )


def _cleaned_representative(
    rep: StaffRepresentative, problems: dict[str, str]
) -> StaffRepresentative:
    contact = _cleaned_contact(
        Contact(email=rep.email, postal_address=rep.postal_address), problems, "rep_"
    )
    name = _text(rep.name)
    if not name:
        problems["rep_name"] = "rep_name"
    if not rep.proof:
        problems["rep_proof"] = "rep_proof"
    return StaffRepresentative(
        role=rep.role,
        name=name or "",
        email=contact.email,
        postal_address=contact.postal_address,
        proof=rep.proof,
    )


def _check_reachable(
    contact: Contact, rep: StaffRepresentative | None, problems: dict[str, str]
) -> None:
    """Someone must be able to receive the notices: by e-mail, on paper at an address, or (a
    phone number alone) read out by phone."""
    if not (contact.email or contact.postal_address or contact.phone):
        problems["contact"] = "no_contact"
        return
    if rep is not None:
        if not (rep.email or rep.postal_address):
            problems["rep_contact"] = "rep_no_contact"
        elif (contact.reply_by_post or not rep.email) and not rep.postal_address:
            problems["rep_postal_address"] = "no_postal_address"
        return
    on_paper = contact.reply_by_post or not contact.email
    phone_only = not contact.reply_by_post and bool(contact.phone)
    if on_paper and not contact.postal_address and not phone_only:
        problems["postal_address"] = "no_postal_address"


def enter(data: StaffIntake, *, actor: Actor, now: datetime) -> Request:
    """Store the request from its real receipt time, with its corrections, representative
    and proof, and its first notice (acknowledgement if identity was confirmed, else the
    verification link when there is an e-mail address); one commit."""
    data = cleaned(data)
    proof = data.representative.proof if data.representative else None
    return committed_with_proof(
        proof, lambda stored: _create(data, actor=actor, now=now, proof=stored)
    )


def _create(data: StaffIntake, *, actor: Actor, now: datetime, proof: StoredFile | None) -> Request:
    rep = data.representative
    request = submit_request(
        kind=data.kind,
        email=data.contact.email,
        name=data.name,
        channel=Channel.STAFF,
        now=now,
        actor=actor,
        details=data.details,
        language=data.language,
        jurisdiction=data.jurisdiction,
        received_at=data.received_at,
        representative=(rep.role, rep.name, rep.email) if rep else None,
        status=Status.VERIFIED if data.identity_method else Status.RECEIVED_UNVERIFIED,
        scope=data.scope,
        subject=_subject(data, now),
        commit=False,
    )
    request.received_via = data.received_via
    request.identity_method = data.identity_method
    request.reply_by_post = data.contact.reply_by_post
    _attach_representative(request, rep, proof, now)
    for item in data.corrections:
        request.corrections.append(_correction(item))
    db.session.flush()
    _first_notice(request, data, actor=actor, now=now)
    return request


def _subject(data: StaffIntake, now: datetime) -> Subject:
    """The subject by e-mail (their earlier requests' row), or a row of their own."""
    contact = data.contact
    if contact.email:
        subject = find_or_create_subject(contact.email, data.name, now)
    else:
        subject = Subject(email=None, name=data.name, created_at=now)
        db.session.add(subject)
    subject.postal_address = contact.postal_address or subject.postal_address
    subject.phone = contact.phone or subject.phone
    return subject


def _attach_representative(
    request: Request, rep: StaffRepresentative | None, proof: StoredFile | None, now: datetime
) -> None:
    if rep is None or request.representative is None:
        return
    request.representative.postal_address = rep.postal_address
    if proof:
        request.representative.proof_file = proof.name
        request.representative.proof_content_type = proof.content_type
        request.representative.proof_size = proof.size


def _correction(item: CorrectionInput) -> CorrectionItem:
    return CorrectionItem(
        item=_text(item.item) or "",
        current_value=_text(item.current_value),
        correct_value=_text(item.correct_value) or "",
    )


def _first_notice(request: Request, data: StaffIntake, *, actor: Actor, now: datetime) -> None:
    if data.identity_method:
        if request.representative is not None:
            request.representative.proof_checked_at = now
        audit.record(
            "request.verified_by_staff",
            actor=actor,
            now=now,
            request_ref=request.reference,
            data={"method_recorded": True, "received_via": data.received_via},
        )
    queue_first_notice(request, confirmed=bool(data.identity_method), now=now)
