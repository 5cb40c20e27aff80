"""Workers report themselves alive: one row per ``rightsdesk worker`` process.

Each round the worker writes when it was last seen (at most every :data:`EVERY`) and how far
its host's clock is from the database's; a graceful stop marks the row stopped. ``/healthz``,
the metrics and ``rightsdesk check --deploy`` read the most recent one.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update

from rightsdesk.extensions import db
from rightsdesk.models import WorkerHeartbeat

EVERY = timedelta(seconds=10)


def database_now() -> datetime:
    """The database server's clock (PostgreSQL: ``clock_timestamp()``; SQLite: this host's)."""
    if db.engine.dialect.name == "postgresql":
        value = db.session.scalar(text("SELECT clock_timestamp()"))
    else:
        raw = db.session.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        value = datetime.fromisoformat(raw)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def clock_skew(now: datetime) -> float:
    """This host's clock minus the database's, in seconds."""
    return (now - database_now()).total_seconds()


def beat(name: str, *, now: datetime, started_at: datetime) -> None:
    """Record that worker ``name`` is alive at ``now``; commits."""
    skew = clock_skew(now)
    seen = db.session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(seen_at=now, clock_skew=skew, stopped_at=None)
    ).rowcount
    if not seen:
        db.session.add(
            WorkerHeartbeat(
                name=name,
                host=socket.gethostname(),
                started_at=started_at,
                seen_at=now,
                clock_skew=skew,
            )
        )
    db.session.commit()


def stopped(name: str, *, now: datetime) -> None:
    """A worker that stopped on purpose (SIGTERM): marked, not mistaken for a live one."""
    db.session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(seen_at=now, stopped_at=now)
    )
    db.session.commit()


def last_seen() -> datetime | None:
    """When any worker was last seen alive (a stopped one counts until it stopped)."""
    return db.session.scalar(select(func.max(WorkerHeartbeat.seen_at)))


def age(now: datetime) -> float | None:
    """Seconds since any worker was last seen; ``None`` if none ever was."""
    seen = last_seen()
    return None if seen is None else max(0.0, (now - seen).total_seconds())


def running(now: datetime, within: timedelta) -> list[WorkerHeartbeat]:
    """The workers seen within ``within`` and not stopped."""
    return list(
        db.session.scalars(
            select(WorkerHeartbeat).where(
                WorkerHeartbeat.stopped_at.is_(None), WorkerHeartbeat.seen_at >= now - within
            )
        )
    )


def prune(now: datetime, older_than: timedelta = timedelta(days=7)) -> None:
    """Forget workers not seen for a week (each restart adds a row); the caller commits."""
    db.session.execute(
        WorkerHeartbeat.__table__.delete().where(WorkerHeartbeat.seen_at < now - older_than)
    )
