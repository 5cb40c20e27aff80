"""Named leases in rightsdesk's own database, so one worker at a time runs a given job.

A lease works on SQLite and PostgreSQL alike: a row per name with its holder and expiry. A
holder that dies (SIGKILL) loses the lease when it expires, and the next runner takes over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core.direct import Direct
from rightsdesk.extensions import db
from rightsdesk.models import JobLock, UTCDateTime


def acquire(
    name: str, holder: str, *, now: datetime, ttl: timedelta, reentrant: bool = True
) -> bool:
    """Take the lease ``name`` if it is free or expired — or already ours, which renews it,
    unless ``reentrant`` is false (a slot its own holder must not take again early); commits.
    Single statements, so of two takers at once exactly one wins."""
    free = JobLock.lease_until < now
    if reentrant:
        free = free | (JobLock.holder == holder)
    taken = db.session.execute(
        update(JobLock)
        .where(JobLock.name == name, free)
        .values(holder=holder, lease_until=now + ttl)
    ).rowcount
    if taken:
        db.session.commit()
        return True
    db.session.add(JobLock(name=name, holder=holder, lease_until=now + ttl))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def release(name: str, holder: str) -> None:
    db.session.execute(delete(JobLock).where(JobLock.name == name, JobLock.holder == holder))
    db.session.commit()


def take(name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
    """Like :func:`acquire` (reentrant), but one statement in the caller's transaction, which
    the caller commits with its own work: ``INSERT … ON CONFLICT DO UPDATE`` only where the
    lease is free, expired or already ours. A second taker at once waits for the first's
    commit (PostgreSQL's row lock; SQLite's write lock) and then finds the lease held."""
    return take_later(name, holder, now=now, ttl=ttl)()


def take_later(name: str, holder: str, *, now: datetime, ttl: timedelta) -> Callable[[], bool]:
    """:func:`take`, its statement sent now (in a pipeline, with others), whether it was taken
    read when the result is called."""
    statement = _TAKE.get(db.session.get_bind().dialect.name)
    if statement is None:  # pragma: no cover - rightsdesk's own database is SQLite or PostgreSQL
        taken = acquire(name, holder, now=now, ttl=ttl)
        return lambda: taken
    # RETURNING, not rowcount: drivers report an insert's rowcount differently.
    values = {"name": name, "holder": holder, "until": now + ttl, "now": now}
    answer = statement.send(values)
    return lambda: answer.first() is not None


def _take(dialect: str) -> Direct:
    """:func:`take`'s statement, built once per dialect (erasure takes a lease per run)."""
    table = JobLock.__table__
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    until = bindparam("until", type_=UTCDateTime())
    statement = insert(table).values(name=bindparam("name"), holder=bindparam("holder"),
                                     lease_until=until)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={"holder": bindparam("holder"), "lease_until": until},
        where=(table.c.lease_until < bindparam("now", type_=UTCDateTime()))
        | (table.c.holder == bindparam("holder")),
    )
    return Direct(statement.returning(table.c.name))


_TAKE = {dialect: _take(dialect) for dialect in ("postgresql", "sqlite")}
