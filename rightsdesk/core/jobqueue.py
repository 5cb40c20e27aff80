"""One queue primitive for every table of work that workers take turns on.

A *queue* is a table whose rows wait for a worker: the mail outbox, the status webhooks, the
connector jobs, a campaign's recipients, the web form's submissions. A :class:`Queue` says
which columns play which part; the functions below do the rest, on PostgreSQL and SQLite alike.

*Due*: a row is due when it waits (its state column, if any, holds ``waiting``) and its due
column (``next_attempt_at``) is not after ``now`` — or when it was claimed and its lease has
run out (a worker that died). Due rows are taken in the queue's order.

*Claim* (:func:`claim`): mark up to ``batch`` due rows as held, with a lease, and return the
ids this claimer won. Candidates are chosen with ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL (a second claimer skips rows the first one is taking instead of waiting for them),
then held by one ``UPDATE … WHERE id IN (…) AND <due> RETURNING id``. The ``UPDATE`` checks
again that each row is still due, so of two claimers that chose the same row only one wins:
on SQLite, whose single writer serialises the two ``UPDATE`` statements, the second finds the
row held; on PostgreSQL it waits for the first one's row lock and then re-reads the row.

*Lease*: a held row is the claimer's until its lease runs out; after that it is due again and
the next claimer takes it over. Delivery is therefore at least once: a worker killed after
its side effect (an SMTP "250", an HTTP 200) but before its commit leaves a claim that is
taken over, and the effect happens again. A lease is kept either as when it began
(``claimed_at``, which stays as a record of the last claim) or as when it ends
(``lease_until``, cleared on release); a claim may also write a token naming its claimer.

*Release* (:func:`release`, :func:`give_back`): end the claim, with the row's outcome as its
new state, or back to waiting with a back-off (:func:`backoff`) and the reason recorded.

*Take* (:func:`take`): for a queue whose work is done in one transaction with removing the
row (the web form's submissions), delete the oldest due row with ``DELETE … RETURNING`` in the
caller's transaction; its commit makes the work and the removal durable together, its
rollback puts the row back. No lease: the open transaction holds the row (PostgreSQL's row
lock, SQLite's write lock).

*Isolate* (:func:`isolated`): run one claimed item's work so that any exception it raises
is that item's alone: the transaction is rolled back, the item is given back with a back-off
and the reason (the exception's type and first line), and after ``give_up_after`` attempts it
is parked in the queue's ``failed`` state, where staff see it with that reason. The other
items of the batch, and the worker, go on. A poison message (one that always raises) therefore
costs one attempt per back-off, never the queue.

*Work* (:func:`worked`): go through the ids won one at a time, renewing the lease on the rest
as it runs (so a short lease is safe for a long batch, and a worker killed with kill -9 delays
its items at most one lease), and hand the rest back at once when the worker is asked to stop.

Nothing here commits (each caller ends the transaction; a claim is made by the commit that
follows it, PostgreSQL's row locks are held until then) — except :func:`worked`, which commits
its renewals and hand-backs between the caller's items, and :func:`isolated`, which commits
each item's work or its setting aside.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, and_, delete, or_, select, true, update
from sqlalchemy.sql import ColumnElement

from rightsdesk.extensions import db


@dataclass(frozen=True)
class Lease:
    """How a claimed row is held.

    ``column`` is when the lease began (``ends=False``: held while ``column >= now - length``)
    or when it ends (``ends=True``: set to ``now + length``, held while ``column >= now``).
    ``holder``, if given, gets a token naming the claimer (``worker:random``).
    """

    column: Any
    length: timedelta
    ends: bool
    holder: Any = None

    def expired(self, now: datetime, length: timedelta) -> ColumnElement[bool]:
        if self.ends:
            return self.column < now
        return self.column < now - length


@dataclass(frozen=True)
class Queue:
    """Which columns of ``model`` make it a queue.

    ``due``: when a row is next due. ``order_by``: which due rows go first. ``state``: the
    state column, with ``waiting`` for a row that waits its turn and ``held`` for a claimed
    one (``held=None``: a claim leaves the state alone, the lease alone marks it). ``error``:
    where the reason of the last failure is kept. ``lease``: none for a queue that is only
    ever taken (:func:`take`).
    """

    model: Any
    due: Any
    order_by: Sequence[Any]
    state: Any = None
    waiting: Any = None
    held: Any = None
    lease: Lease | None = None
    error: Any = None
    attempts: Any = None
    failed: Any = None
    give_up_after: int = 5

    def __post_init__(self) -> None:
        if self.lease is not None and not self.lease.ends and self.held is None:
            raise ValueError("a lease kept as when it began needs a state for held rows")


def _waiting(queue: Queue) -> ColumnElement[bool]:
    return true() if queue.state is None else queue.state == queue.waiting


def due(queue: Queue, now: datetime, length: timedelta | None = None) -> ColumnElement[bool]:
    """The condition a row meets when a claimer may take it at ``now``."""
    ready = and_(_waiting(queue), queue.due <= now)
    lease = queue.lease
    if lease is None:
        return ready
    expired = lease.expired(now, length or lease.length)
    if queue.held is None:  # held = a lease that has not run out
        return and_(ready, or_(lease.column.is_(None), expired))
    return or_(ready, and_(queue.state == queue.held, expired))


def _first(queue: Queue, condition: ColumnElement[bool], limit: int) -> Select:
    """The ids of the first ``limit`` rows meeting ``condition``, in the queue's order; on
    PostgreSQL locked ``FOR UPDATE``, skipping rows another transaction has locked."""
    chosen = select(queue.model.id).where(condition).order_by(*queue.order_by).limit(limit)
    if db.engine.dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    return chosen


def _held_values(queue: Queue, now: datetime, length: timedelta, worker: str | None) -> dict:
    lease = queue.lease
    values = {lease.column.key: now + length if lease.ends else now}
    if queue.held is not None:
        values[queue.state.key] = queue.held
    if lease.holder is not None:
        values[lease.holder.key] = f"{worker}:{uuid.uuid4().hex[:12]}"
    return values


def claim(
    queue: Queue,
    *,
    now: datetime,
    batch: int,
    worker: str | None = None,
    lease: timedelta | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[int]:
    """Hold up to ``batch`` due rows (and ``where``, if given) for ``lease`` (default: the
    queue's); return the ids won, in id order. Not committed: the caller's commit makes it."""
    length = lease or queue.lease.length
    claimable = and_(due(queue, now, length), true() if where is None else where)
    ids = list(db.session.scalars(_first(queue, claimable, batch)))
    if not ids:
        return []
    won = db.session.execute(
        update(queue.model)
        .where(queue.model.id.in_(ids), claimable)
        .values(_held_values(queue, now, length, worker))
        .returning(queue.model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(won.scalars())


def take(queue: Queue, *, now: datetime, columns: Iterable[Any]) -> Row | None:
    """Delete the first due row in the caller's transaction and return its ``columns``, or
    ``None`` if none is due. The caller's commit removes it for good; a rollback restores it."""
    first = _first(queue, due(queue, now), 1).scalar_subquery()
    return db.session.execute(
        delete(queue.model)
        .where(queue.model.id.in_(first))
        .returning(*columns)
        .execution_options(synchronize_session=False)
    ).first()


def _released(queue: Queue, state: Any) -> dict[str, Any]:
    values = {}
    if queue.state is not None:
        values[queue.state.key] = queue.waiting if state is None else state
    lease = queue.lease
    if lease is not None and lease.holder is not None:
        values[lease.holder.key] = None
    if lease is not None and lease.ends:
        values[lease.column.key] = None
    return values


def release(queue: Queue, row: Any, state: Any = None) -> None:
    """End the claim on ``row`` (a loaded instance): its state becomes ``state`` (default:
    waiting again, as it was), the holder and an ending lease are cleared."""
    for name, value in _released(queue, state).items():
        setattr(row, name, value)


def give_back(
    queue: Queue, row: Any, *, now: datetime, wait: timedelta, error: str, **values: Any
) -> None:
    """Put a failed row back to wait until ``now + wait``, recording ``error`` (and setting
    ``values``, e.g. ``attempts``). ``row`` is a loaded instance, or the id of a row not
    loaded: then one ``UPDATE``, which does nothing if the row is gone."""
    values = {
        **_released(queue, None),
        queue.due.key: now + wait,
        queue.error.key: error,
        **values,
    }
    if isinstance(row, int):
        db.session.execute(
            update(queue.model)
            .where(queue.model.id == row)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return
    for name, value in values.items():
        setattr(row, name, value)


def backoff(attempts: int, *, first: timedelta, longest: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``first``, then doubling each time,
    never longer than ``longest`` (0 or 1 attempts: ``first``). It stops doubling at
    ``longest``: ``first * 2 ** (attempts - 1)`` overflows ``timedelta`` after ~50 attempts."""
    wait = first
    for _ in range(attempts - 1):
        if wait >= longest:
            break
        wait *= 2
    return min(wait, longest)


def retry_now(queue: Queue, *, now: datetime) -> int:
    """Make every waiting row due at ``now`` (after an outage is fixed), and every row parked
    after crashing (after its cause is fixed: it keeps its attempts, so a row that still
    crashes is parked again after one try); how many were."""
    waiting = db.session.execute(
        update(queue.model)
        .where(_waiting(queue), queue.due > now)
        .values({queue.due.key: now})
        .execution_options(synchronize_session=False)
    ).rowcount
    if queue.failed is None:
        return waiting
    return waiting + db.session.execute(
        update(queue.model)
        .where(queue.state == queue.failed, queue.error.like("crashed:%"))
        .values({queue.state.key: queue.waiting, queue.due.key: now})
        .execution_options(synchronize_session=False)
    ).rowcount


def _still_ours(queue: Queue, ids: Sequence[int], worker: str | None, now: datetime):
    """The rows of ``ids`` still held, by ``worker`` where the queue names holders."""
    lease = queue.lease
    held = queue.state == queue.held if queue.held is not None else lease.column >= now
    mine = true() if lease.holder is None or worker is None else lease.holder.like(f"{worker}:%")
    return and_(queue.model.id.in_(list(ids)), held, mine)


def renew(
    queue: Queue, ids: Sequence[int], *, now: datetime, length: timedelta, worker: str | None
) -> None:
    """Extend the lease on the rows of ``ids`` still held (by ``worker``) from ``now``."""
    lease = queue.lease
    db.session.execute(
        update(queue.model)
        .where(_still_ours(queue, ids, worker, now))
        .values({lease.column.key: now + length if lease.ends else now})
        .execution_options(synchronize_session=False)
    )


def hand_back(queue: Queue, ids: Sequence[int], *, now: datetime, worker: str | None) -> int:
    """Release the rows of ``ids`` still held (by ``worker``) without an attempt: due again at
    once, as they were. How many were handed back."""
    return db.session.execute(
        update(queue.model)
        .where(_still_ours(queue, ids, worker, now))
        .values(_released(queue, None))
        .execution_options(synchronize_session=False)
    ).rowcount


CRASH_FIRST_WAIT = timedelta(minutes=1)
CRASH_LONGEST_WAIT = timedelta(hours=1)


def crash_reason(error: BaseException) -> str:
    """What went wrong, for staff: the type and first line, never a statement's parameters
    (they may hold what a subject typed), at most 300 characters."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [""])[0]
    return " ".join(f"crashed: {type(original).__name__}: {first_line}".split())[:300]


def isolated(queue: Queue, item_id: int, work: Callable[[], Any], *, now: datetime) -> str | None:
    """Run ``work`` for the claimed row ``item_id`` and commit; if it raises anything, roll
    back, set the row aside (:func:`set_aside`) and return the reason; ``None`` if it went
    through. The caller goes on with its next row whatever happened here."""
    try:
        work()
        db.session.commit()
    except Exception as error:  # any failure is this row's alone
        db.session.rollback()
        reason = crash_reason(error)
        set_aside(queue, item_id, reason, now=now)
        return reason
    return None


def parked(queue: Queue, *, limit: int = 5) -> list[tuple[int, str]]:
    """The newest rows parked after crashing (id, reason): what staff must look at."""
    rows = db.session.execute(
        select(queue.model.id, queue.error)
        .where(queue.state == queue.failed, queue.error.like("crashed:%"))
        .order_by(queue.model.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def set_aside(queue: Queue, item_id: int, reason: str, *, now: datetime) -> None:
    """Count a crashed attempt on ``item_id`` and commit: back to wait (1 min doubling to 1 h)
    or, from the ``give_up_after``-th attempt on, parked in the ``failed`` state."""
    attempts = db.session.scalar(select(queue.attempts).where(queue.model.id == item_id))
    if attempts is None:  # the row is gone
        db.session.rollback()
        return
    attempts += 1
    if queue.failed is not None and attempts >= queue.give_up_after:
        values = {**_released(queue, queue.failed), queue.error.key: reason}
        values[queue.attempts.key] = attempts
        db.session.execute(
            update(queue.model)
            .where(queue.model.id == item_id)
            .values(values)
            .execution_options(synchronize_session=False)
        )
    else:
        wait = backoff(attempts, first=CRASH_FIRST_WAIT, longest=CRASH_LONGEST_WAIT)
        counted = {queue.attempts.key: attempts}
        give_back(queue, item_id, now=now, wait=wait, error=reason, **counted)
    db.session.commit()


def worked(
    queue: Queue,
    ids: Sequence[int],
    *,
    length: timedelta,
    worker: str | None,
    stop: Callable[[], bool],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[int]:
    """Yield the claimed ``ids`` one by one. Before each, once half the lease has passed, the
    lease on the rest is renewed; once ``stop()`` is true, the rest is handed back and the
    iteration ends. Both are committed, so the caller must have committed its item first."""
    renewed = clock()
    for position, row_id in enumerate(ids):
        rest = ids[position:]
        if stop():
            hand_back(queue, rest, now=clock(), worker=worker)
            db.session.commit()
            return
        if clock() - renewed >= length / 2:
            renewed = clock()
            renew(queue, rest, now=renewed, length=length, worker=worker)
            db.session.commit()
        yield row_id
