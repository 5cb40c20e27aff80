"""What every retention job runs with: leases and advisory locks, the run context, items
and reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.core import leases
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.domain.retention import (
    RetentionError,
    Schedule,
)
from rightsdesk.extensions import db
from rightsdesk.models import (
    DestructionRecord,
    JobLock,
)

LEASE = timedelta(minutes=5)


RENEW_EVERY = 30.0  # seconds between lease renewals during a long job


DEFAULT_BATCH = 5000


REQUEST_BATCH = 100


OWN_SYSTEM = "rightsdesk"


PLANNED = "retention.planned"


class SkipJob(Exception):
    """The job has nothing it could work on (e.g. no data map): say so, it is no failure."""


class LostLease(RetentionError):
    """Another runner took the lease over (ours ran out): stop before doing anything twice."""


def local_today(now: datetime) -> date:
    return now.astimezone(settings().tz).date()


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the operator's zone, as a UTC instant."""
    return datetime.combine(day, clock(), tzinfo=settings().tz).astimezone(UTC)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    return int.from_bytes(
        hashlib.sha256(f"rightsdesk:{name}".encode()).digest()[:8], "big", signed=True
    )


@dataclass
class Lease:
    """A held job lock; :meth:`renew` keeps it while the job runs."""

    name: str
    holder: str
    renewed: float = field(default_factory=time.monotonic)

    def renew(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.renewed < RENEW_EVERY:
            return
        with db.engine.begin() as connection:
            done = connection.execute(
                update(JobLock)
                .where(JobLock.name == self.name, JobLock.holder == self.holder)
                .values(lease_until=datetime.now(UTC) + LEASE)
            ).rowcount
        if not done:
            raise LostLease(f"the lease on {self.name} was taken over by another runner")
        self.renewed = time.monotonic()


def _take_lease(name: str, holder: str, length: timedelta = LEASE) -> bool:
    """Insert the lease row, or take it over once it has run out (services/leases.py): of two
    runners at once exactly one wins, on SQLite and PostgreSQL alike."""
    return leases.acquire(name, holder, now=datetime.now(UTC), ttl=length, reentrant=False)


WORKER_SLOT = "retention:worker-slot"


def claim_slot(every: timedelta) -> bool:
    """For the worker: whether this process may run the jobs now. The slot is a lease that is
    never released: the first worker of each period takes it, the others see it held.

    On a new installation the first automatic run waits one period, so the operator can look
    at ``rightsdesk jobs run --dry-run`` (and the demo shows what is due) before anything goes.
    """
    if db.session.get(JobLock, WORKER_SLOT) is None:
        _take_lease(WORKER_SLOT, "first start: the first run waits one period", every)
        return False
    return _take_lease(WORKER_SLOT, holder_name(), every)


def _release_lease(name: str, holder: str) -> None:
    leases.release(name, holder)


@contextlib.contextmanager
def job_lock(name: str, holder: str) -> Iterator[Lease | None]:
    """The job's lock, or ``None`` when another runner holds it (the job is skipped)."""
    advisory: Connection | None = None
    if db.engine.dialect.name == "postgresql":
        advisory = _try_advisory_lock(name)
        if advisory is None:
            yield None
            return
    try:
        if not _take_lease(name, holder):
            yield None
            return
        try:
            yield Lease(name, holder)
        finally:
            _release_lease(name, holder)
    finally:
        if advisory is not None:
            _advisory_unlock(advisory, name)


def _try_advisory_lock(name: str) -> Connection | None:
    """An autocommit connection holding the job's session advisory lock (PostgreSQL), or
    ``None`` (closed) when another session holds it."""
    advisory = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    got = advisory.exec_driver_sql(
        "SELECT pg_try_advisory_lock(%(key)s)", {"key": advisory_key(name)}
    ).scalar()
    if not got:
        advisory.close()
        return None
    return advisory


def _advisory_unlock(advisory: Connection, name: str) -> None:
    with contextlib.suppress(SQLAlchemyError):
        advisory.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": advisory_key(name)})
    advisory.close()


@dataclass
class Item:
    """One category in one place: what is (or was) destroyed, how, under which rule."""

    job: str
    rule: str
    basis: str
    system: str
    table: str
    method: str
    count: int = 0
    cutoff: datetime | None = None


@dataclass
class JobResult:
    job: str
    items: list[Item] = field(default_factory=list)
    skipped: str | None = None  # held by another runner, nothing configured, …
    error: str | None = None

    @property
    def count(self) -> int:
        return sum(item.count for item in self.items)


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    jobs: list[JobResult] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [job for job in self.jobs if job.error]

    @property
    def count(self) -> int:
        return sum(job.count for job in self.jobs)


class Reporter:
    """Progress and log lines; the command line shows a bar or writes JSON lines."""

    def start(self, label: str, total: int) -> None:
        """A step of ``total`` rows begins."""

    def advance(self, count: int) -> None:
        """``count`` more rows of the step are done."""

    def finish(self) -> None:
        """The step ended (also after a failure)."""

    def event(self, name: str, **fields: Any) -> None:
        """Something worth a log line happened."""


@dataclass
class RunContext:
    run_id: str
    now: datetime
    schedule: Schedule
    dry_run: bool
    actor: Actor
    holder: str
    reporter: Reporter
    batch_size: int = DEFAULT_BATCH
    pause: float = 0.0
    lease: Lease | None = None

    @property
    def today(self) -> date:
        return local_today(self.now)

    def renew(self) -> None:
        if self.lease is not None:
            self.lease.renew()

    def record(self, item: Item, started: datetime) -> DestructionRecord:
        """A destruction record for ``item`` in the session (the caller commits)."""
        row = DestructionRecord(
            run_id=self.run_id,
            job=item.job,
            rule=item.rule,
            basis=item.basis[:200],
            system=item.system,
            table_name=item.table,
            method=item.method,
            count=item.count,
            cutoff=item.cutoff,
            started_at=started,
            finished_at=datetime.now(UTC),
            actor=self.actor[:200],
        )
        db.session.add(row)
        return row


Job = Callable[[RunContext], list[Item]]


def recent_records(limit: int = 50) -> list[DestructionRecord]:
    return db.session.scalars(
        select(DestructionRecord).order_by(DestructionRecord.id.desc()).limit(limit)
    ).all()
