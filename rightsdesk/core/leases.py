"""Named leases in rightsdesk's own database, so one worker at a time runs a given job.

A lease works on SQLite and PostgreSQL alike: a row per name with its holder and expiry. A
holder that dies (SIGKILL) loses the lease when it expires, and the next runner takes over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.extensions import db
from rightsdesk.models import JobLock


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
