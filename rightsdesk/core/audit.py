"""The append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so editing or deleting any
event breaks every later link; the one-row head records the newest link, so dropping the tail
shows too. Appending first updates the head row, which takes its lock: two writers at once
append one after the other instead of forking the chain (and ``prev_hash`` is unique besides).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core.actors import Actor
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(
    seq: int,
    at: datetime,
    actor: Actor,
    action: str,
    request_ref: str | None,
    data: str,
    prev_hash: str,
) -> str:
    body = canonical(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "request_ref": request_ref,
            "data": data,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    action: str,
    *,
    actor: Actor,
    now: datetime,
    request_ref: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the session's transaction; the caller commits.

    ``data`` says what happened, never to whom: no names, e-mails or free text of the subject.
    """
    data = dict(data or {})
    if actor.startswith("staff:"):
        data.setdefault("ip", _client_address())  # staff actions say where they came from
    head = _lock_head()
    event = _linked_event(head, action, actor, now, request_ref, canonical(data))
    # One INSERT, without the unit of work's bookkeeping for an object nobody changes again.
    db.session.execute(insert(_EVENTS).values(_columns(event)))
    db.session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=event.hash))
    return event


def _linked_event(
    head: AuditHead,
    action: str,
    actor: Actor,
    now: datetime,
    request_ref: str | None,
    payload: str,
) -> AuditEvent:
    """The event after ``head``, its hash covering its content and the head's hash."""
    seq = head.seq + 1
    digest = event_hash(seq, now, actor, action, request_ref, payload, head.hash)
    return AuditEvent(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        request_ref=request_ref,
        data=payload,
        prev_hash=head.hash,
        hash=digest,
    )


# The tables themselves: plain statements, without the ORM's bookkeeping for bulk DML.
_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__


def _columns(event: AuditEvent) -> dict[str, Any]:
    return {c.key: getattr(event, c.key) for c in _EVENTS.columns}


def _client_address() -> str | None:

    return request.remote_addr if has_request_context() else None


def _lock_head() -> AuditHead:
    """Advance the head's sequence number, holding its row lock until the caller commits."""
    session = db.session
    bump = (
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    )
    row = session.execute(bump).first()
    if row is None:
        try:  # the first event ever: create the head
            with session.begin_nested():
                session.execute(insert(AuditHead).values(id=1, seq=1, hash=GENESIS))
            return AuditHead(id=1, seq=0, hash=GENESIS)
        except IntegrityError:  # another writer created it first
            row = session.execute(bump).one()
    return AuditHead(id=1, seq=row.seq - 1, hash=row.hash)


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_hash: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(batch_size: int = 1000) -> ChainReport:
    """Recompute every link and report every broken event (edited, missing or out of order),
    without stopping at the first."""
    problems: list[str] = []
    expected_prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    for event in db.session.scalars(query):
        count += 1
        problems += _link_problems(event, expected_seq, expected_prev)
        expected_prev, expected_seq, last_seq = event.hash, event.seq + 1, event.seq
    head = db.session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last_seq or head_hash != expected_prev:
        problems.append(
            f"the newest event is {last_seq}, but the chain head records {head_seq}: "
            "events at the end were deleted or the head was altered"
        )
    return ChainReport(events=count, head_hash=head_hash, problems=problems)


def _link_problems(event: AuditEvent, expected_seq: int, expected_prev: str) -> list[str]:
    """What is wrong with one event: a gap before it, a broken link, or changed content."""
    problems = []
    if event.seq != expected_seq:
        problems.append(f"event {expected_seq} is missing (next found: {event.seq})")
    if event.prev_hash != expected_prev:
        problems.append(f"event {event.seq}: does not follow the event before it")
    recomputed = event_hash(
        event.seq,
        event.at,
        event.actor,
        event.action,
        event.request_ref,
        event.data,
        event.prev_hash,
    )
    if recomputed != event.hash:
        problems.append(f"event {event.seq}: content was changed after it was written")
    return problems
