"""Requests that arrive by e-mail: each message is recorded once and never dropped.

A message becomes a request (its kind classified from its wording, or "unclassified" for staff
to triage) whose verification mail replies in the same thread. Auto-replies and bounces are
recorded but never answered, so two robots cannot keep mailing each other. A message without a
usable sender is kept whole for staff.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rightsdesk.core.actors import INBOUND_MAIL
from rightsdesk.core.jobqueue import crash_reason
from rightsdesk.domain.classify import classify
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.models import Channel, InboundMessage, InboundOutcome
from rightsdesk.requests.intake import IntakeInput, file_request
from rightsdesk.requests.mail_parsing import InboundMessage as ParsedMessage
from rightsdesk.requests.mail_parsing import parse_message

MAX_DETAILS = 20_000
MAX_NAME = 200  # the subject's name column
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # "created", "automated", "unusable" or "duplicate"
    reference: str | None = None
    detail: str | None = None


def fingerprint(message_id: str | None, raw: bytes) -> str:
    if message_id and len(message_id) <= 240:
        return f"mid:{message_id}"
    digest = hashlib.sha256((message_id or "").encode() if message_id else raw).hexdigest()
    return f"sha256:{digest}"


def ingest(raw: bytes, *, now: datetime) -> IngestResult:
    parsed = parse_message(raw)
    key = fingerprint(parsed.message_id, raw)
    existing = db.session.scalar(select(InboundMessage).where(InboundMessage.fingerprint == key))
    if existing is not None:
        return IngestResult("duplicate", existing.request_ref, existing.outcome.value)
    record = InboundMessage(
        fingerprint=key,
        message_id=parsed.message_id,
        received_at=now,
        from_address=parsed.from_address,
        subject=parsed.subject[:500] or None,
    )
    try:
        return _handle(record, parsed, raw, now)
    except IntegrityError:  # the same message, taken in by another worker at the same moment
        db.session.rollback()
        if db.session.scalar(select(InboundMessage.id).where(InboundMessage.fingerprint == key)):
            return IngestResult("duplicate")
        return set_aside(raw, parsed, now, "IntegrityError")
    except Exception as error:  # never block the messages after this one
        db.session.rollback()
        return set_aside(raw, parsed, now, crash_reason(error))


def set_aside(raw: bytes, parsed: ParsedMessage, now: datetime, reason: str) -> IngestResult:
    """Keep a message that could not be taken whole, with why, for staff (outcome
    ``unusable``, detail ``set aside: …``), known by its content's hash; ingestion goes on."""
    key = fingerprint(None, raw)
    if db.session.scalar(select(InboundMessage.id).where(InboundMessage.fingerprint == key)):
        return IngestResult("duplicate")
    record = InboundMessage(
        fingerprint=key,
        received_at=now,
        outcome=InboundOutcome.UNUSABLE,
        detail=f"set aside: {reason}"[:200],
        raw=raw,
    )
    db.session.add(record)
    db.session.commit()
    return IngestResult("unusable", detail=record.detail)


def _handle(
    record: InboundMessage, parsed: ParsedMessage, raw: bytes, now: datetime
) -> IngestResult:
    if parsed.is_automated:
        record.outcome = InboundOutcome.AUTOMATED
        record.detail = (parsed.automated_reason or "automated")[:200]
        return _record_only(record, "automated")
    if not parsed.from_address:
        record.outcome = InboundOutcome.UNUSABLE
        record.detail = "no usable sender address"
        record.raw = raw  # kept whole: staff read it and reply by hand
        return _record_only(record, "unusable")
    return _file(record, parsed, now)


def _record_only(record: InboundMessage, outcome: str) -> IngestResult:
    """Record a message that is not answered (committed)."""
    db.session.add(record)
    db.session.commit()
    return IngestResult(outcome, detail=record.detail)


def _file(record: InboundMessage, parsed: ParsedMessage, now: datetime) -> IngestResult:
    """File the message as a request in its language; its record goes in the same commit."""
    kind = classify(parsed.subject, parsed.body) or RequestKind.UNCLASSIFIED
    text = f"{parsed.subject}\n\n{parsed.body}".strip()
    language = "ko" if _HANGUL.search(text) else "en"
    record.outcome = InboundOutcome.CREATED
    record.detail = "; ".join((kind.value, *parsed.problems))[:200]
    db.session.add(record)
    request = file_request(
        IntakeInput(
            kind=kind,
            name=(parsed.from_name or "")[:MAX_NAME] or None,  # a header, not a name
            email=parsed.from_address,
            details=text[:MAX_DETAILS],
            language=language,
            channel=Channel.EMAIL,
            reply_to_message_id=parsed.message_id,
            reply_references=tuple(parsed.references),
        ),
        now=now,
        actor=INBOUND_MAIL,
    )
    record.request_ref = request.reference
    db.session.commit()
    return IngestResult("created", request.reference, kind.value)
