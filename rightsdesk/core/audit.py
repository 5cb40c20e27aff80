"""The append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so editing or deleting any
event breaks every later link; the one-row head records the newest link, so dropping the tail
shows too. Appending first updates the head row, which takes its lock: two writers at once
append one after the other instead of forking the chain (and ``prev_hash`` is unique besides).

The hash is an HMAC under the audit key (:func:`rightsdesk.core.keys.audit_key`), which the
database does not hold: someone who can write the database alone cannot recompute the links
after an edit. Events written before the chain was keyed (``mac_version`` 0, plain SHA-256)
are sealed by a keyed ``audit.keyed`` event appended right after them, so they cannot be
rewritten either (that would change the seal's ``prev_hash``) nor the whole chain be passed
off as unkeyed (an unkeyed event without a seal after it is a problem). Against someone who
also holds the key, :func:`anchor` prints the head for storage elsewhere, and
``verify_chain(anchor=…)`` checks the chain still holds that link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core.actors import Actor
from rightsdesk.core.direct import Direct
from rightsdesk.core.driver import Answer
from rightsdesk.core.keys import audit_key
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, AuditHead

GENESIS = "0" * 64
UNKEYED, KEYED = 0, 1
SEAL_ACTION = "audit.keyed"
AUDIT_ACTOR = Actor.system("audit")


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
    version: int = KEYED,
) -> str:
    """The link of one event: HMAC-SHA256 under the audit key (``version`` 1), or the plain
    SHA-256 that events written before keying carry (``version`` 0)."""
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
    if version == UNKEYED:
        return hashlib.sha256(body.encode("utf-8")).hexdigest()
    return hmac.new(audit_key(), body.encode("utf-8"), hashlib.sha256).hexdigest()


def record(
    action: str,
    *,
    actor: Actor,
    now: datetime,
    request_ref: str | None = None,
    data: dict[str, Any] | None = None,
    head: Answer | None = None,
) -> AuditEvent:
    """Append an event to the session's transaction; the caller commits.

    ``data`` says what happened, never to whom: no names, e-mails or free text of the subject.
    ``head``: the chain's head already advanced by :func:`advance_later` (sent with the
    caller's statements, in one round trip), else it is advanced here.
    """
    data = dict(data or {})
    if actor.startswith("staff:"):
        data.setdefault("ip", _client_address())  # staff actions say where they came from
    head, newest = _lock_head(head)
    if _needs_seal(head, newest):
        head = _seal(head, now)
    event = _linked_event(head, action, actor, now, request_ref, canonical(data))
    # One INSERT, without the unit of work's bookkeeping for an object nobody changes again.
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
    if db.session.get_bind().dialect.name == "postgresql":  # one statement for both
        _INSERT_EVENT_MOVING_HEAD.execute(values | {"new_hash": event.hash})
    else:
        _INSERT_EVENT.execute(values)
        _MOVE_HEAD.execute({"new_hash": event.hash})
    return event


def _seal(head: AuditHead, now: datetime) -> AuditHead:
    """Append the keyed seal after the unkeyed events (its sequence number is the one
    :func:`_lock_head` reserved) and reserve the next one; the head after it."""
    payload = canonical({"unkeyed_events": head.seq})
    seal = _linked_event(head, SEAL_ACTION, AUDIT_ACTOR, now, None, payload)
    db.session.add(seal)
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    return AuditHead(id=1, seq=seal.seq, hash=seal.hash)


def _needs_seal(head: AuditHead, newest: int | None) -> bool:
    """Whether the newest event was written before the chain was keyed. ``newest`` is its
    ``mac_version`` as the head's update saw it; ``None`` when that statement's snapshot did
    not show it (PostgreSQL: the writer we waited for committed it after our statement began),
    then it is read again."""
    if head.seq == 0:
        return False
    if newest is None:
        newest = db.session.scalar(
            select(AuditEvent.mac_version).where(AuditEvent.seq == head.seq)
        )
    return newest == UNKEYED


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
        mac_version=KEYED,
    )


# The tables themselves: plain statements, without the ORM's bookkeeping for bulk DML.
_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__


def _client_address() -> str | None:

    return request.remote_addr if has_request_context() else None


def advance_later() -> Answer:
    """The statement that advances the chain's head (holding its row lock until the caller
    commits), sent now: in a pipeline (:func:`rightsdesk.core.driver.pipelined`) it goes with
    the caller's statements. Pass it to :func:`record`, after the pipeline."""
    return _BUMP.send()


def _lock_head(sent: Answer | None = None) -> tuple[AuditHead, int | None]:
    """Advance the head's sequence number, holding its row lock until the caller commits; the
    head before, and the ``mac_version`` of the newest event read in the same statement (one
    round trip less per event than asking after it). ``sent``: that statement sent before."""
    session = db.session
    row = (sent or _BUMP.send()).first()
    if row is None:
        try:  # the first event ever: create the head
            with session.begin_nested():
                session.execute(insert(AuditHead).values(id=1, seq=1, hash=GENESIS))
            return AuditHead(id=1, seq=0, hash=GENESIS), None
        except IntegrityError:  # another writer created it first
            row = _BUMP.first()
    seq, digest, newest = row
    return AuditHead(id=1, seq=seq - 1, hash=digest), newest


# Built once and run on the driver's cursor (core.direct): every event pays for these.
_EVENT_COLUMNS = [c.key for c in _EVENTS.columns if c.key != "id"]
_INSERT_EVENT = Direct(insert(_EVENTS).values({name: bindparam(name) for name in _EVENT_COLUMNS}))
_MOVE_HEAD = Direct(update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash")))
# PostgreSQL runs a data-modifying WITH once whether or not it is referenced. Written out: a
# compiled UPDATE would also SET any of its columns named in the parameters (seq, hash).
_INSERT_EVENT_MOVING_HEAD = Direct(
    text(
        "WITH moved_head AS (UPDATE audit_head SET hash = :new_hash WHERE id = 1)"
        f" INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)})"
        f" VALUES ({', '.join(':' + name for name in _EVENT_COLUMNS)})"
    ).bindparams(*(bindparam(c.key, type_=c.type) for c in _EVENTS.columns if c.key != "id"))
)

# RETURNING gives the row as updated: the newest event's number is the new seq minus one.
_BUMP = Direct(
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + 1)
    .returning(
        _HEAD.c.seq,
        _HEAD.c.hash,
        select(_EVENTS.c.mac_version)
        .where(_EVENTS.c.seq == _HEAD.c.seq - 1)
        .scalar_subquery()
        .label("newest"),
    )
)


@dataclass(frozen=True)
class Anchor:
    """A link of the chain kept elsewhere (off-site), to check the chain against later."""

    seq: int
    hash: str

    def line(self) -> str:
        return f"rightsdesk-audit-anchor seq={self.seq} hash={self.hash}"


_ANCHOR = re.compile(r"seq=(\d{1,18}) hash=([0-9a-f]{64})")


def parse_anchor(text: str) -> Anchor:
    """The anchor in ``text`` (a line :meth:`Anchor.line` printed); ValueError if none."""
    found = _ANCHOR.search(text)
    if found is None:
        raise ValueError("no anchor found: expected 'rightsdesk-audit-anchor seq=N hash=<64 hex>'")
    return Anchor(seq=int(found.group(1)), hash=found.group(2))


def anchor(*, actor: Actor, now: datetime) -> Anchor:
    """Record that the head is being anchored (which seals unkeyed events, if any) and return
    the head: that event's link. Commits."""
    event = record("audit.anchored", actor=actor, now=now)
    db.session.commit()
    return Anchor(seq=event.seq, hash=event.hash)


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_hash: str
    problems: list[str]
    unkeyed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Walk:
    """Where the walk along the chain is."""

    prev: str = GENESIS
    seq: int = 1
    count: int = 0
    unkeyed: int = 0
    keyed_seen: bool = False
    unsealed: bool = False  # the event before was unkeyed: the next must be the seal
    anchor_hash: str | None = None


def verify_chain(batch_size: int = 1000, anchor: Anchor | None = None) -> ChainReport:
    """Recompute every link and report every broken event (edited, missing or out of order),
    without stopping at the first; with ``anchor``, also that the chain still holds it."""
    problems: list[str] = []
    walk = _Walk()
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    for event in db.session.scalars(query):
        problems += _link_problems(event, walk.seq, walk.prev)
        problems += _keying_problems(event, walk)
        if anchor is not None and event.seq == anchor.seq:
            walk.anchor_hash = event.hash
        walk.prev, walk.seq, walk.count = event.hash, event.seq + 1, walk.count + 1
    if walk.unsealed:
        problems.append(
            f"events 1 to {walk.seq - 1} were written before the chain was keyed and are not "
            "sealed yet: run rightsdesk audit anchor (it seals them)"
        )
    problems += _head_problems(walk.seq - 1, walk.prev)
    if anchor is not None and walk.anchor_hash != anchor.hash:
        problems.append(
            f"the anchor's event {anchor.seq} is "
            + ("missing" if walk.anchor_hash is None else "not the one anchored: rewritten")
        )
    head = db.session.get(AuditHead, 1)
    return ChainReport(walk.count, head.hash if head else GENESIS, problems, walk.unkeyed)


def _keying_problems(event: AuditEvent, walk: _Walk) -> list[str]:
    """An unkeyed event is only allowed before the seal; the seal must follow them."""
    problems = []
    if event.mac_version == UNKEYED:
        walk.unkeyed += 1
        if walk.keyed_seen:
            problems.append(f"event {event.seq}: unkeyed, after the chain was keyed")
        walk.unsealed = True
        return problems
    if walk.unsealed and event.action != SEAL_ACTION:
        problems.append(f"event {event.seq}: the unkeyed events before it were never sealed")
    walk.keyed_seen, walk.unsealed = True, False
    return problems


def _head_problems(last_seq: int, last_hash: str) -> list[str]:
    head = db.session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last_seq or head_hash != last_hash:
        return [
            f"the newest event is {last_seq}, but the chain head records {head_seq}: "
            "events at the end were deleted or the head was altered"
        ]
    return []


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
        event.mac_version,
    )
    if not hmac.compare_digest(recomputed, event.hash):
        problems.append(f"event {event.seq}: content was changed after it was written")
    return problems
