"""Retention jobs: destroy (파기) what the retention schedule no longer lets anyone keep.

Jobs, each under a named lock and recorded:

- ``expire-unverified``: requests never confirmed in time lose their personal data;
- ``purge-downloads``: expired files offered to subjects;
- ``purge-requests``: closed requests' personal data and proof uploads once the
  ``request_record`` rule has run out (the request row stays for anonymous statistics, and the
  audit chain is never touched);
- ``purge-separated``: separately stored rows (분리 보관, PIPA §21③) past their purge-after day;
- ``purge-operator``: rows of the data map's SQL systems whose period and grace have ended.
  Only tables whose rule keeps something and that name ``retention_from``: a table with
  retention "none" is live data, erased per subject by the erasure workflow, never here.

Every real run writes a :class:`~rightsdesk.models.DestructionRecord` per category and table
(counts, never the data) and an audit event. A dry run counts and changes nothing.

Concurrency: each job takes a lease row in ``job_locks`` (works on SQLite) and, on PostgreSQL,
a session advisory lock on rightsdesk's own database; a second runner skips a job that is held.
A runner killed with SIGKILL leaves its lease, which runs out after :data:`LEASE`; batches are
idempotent (a deleted row is gone, a due row is due again), so the next runner simply
continues. The operator's rows are deleted in bounded batches by primary key, each its own
short transaction, so the operator's application keeps serving.

Counting across two databases: the operator's delete and rightsdesk's record cannot commit
together, so before deleting a table's rows the run writes its plan (how many rows are due by
which cutoff) to the audit trail; a later run that finds a plan without a destruction record
(its runner was killed) counts what that runner destroyed as planned minus still due, and
records it for the interrupted run. Totals stay exact whatever moment the kill came.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Text,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.domain.datamap import SystemKind, Table
from rightsdesk.domain.lifecycle import TERMINAL
from rightsdesk.domain.retention import (
    DEFAULT_SCHEDULE,
    EndAction,
    RetentionFileError,
    Rule,
    Schedule,
    load_schedule,
)
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    DestructionRecord,
    Download,
    JobLock,
    Request,
    RetainedRecord,
)
from rightsdesk.services import audit, leases
from rightsdesk.services.context import settings

LEASE = timedelta(minutes=5)
RENEW_EVERY = 30.0  # seconds between lease renewals during a long job
DEFAULT_BATCH = 5000
REQUEST_BATCH = 100
OWN_SYSTEM = "rightsdesk"
PLANNED = "retention.planned"


class RetentionError(RuntimeError):
    """A job cannot run as configured; the message names what to fix."""


class SkipJob(Exception):
    """The job has nothing it could work on (e.g. no data map): say so, it is no failure."""


class LostLease(RetentionError):
    """Another runner took the lease over (ours ran out): stop before doing anything twice."""


# --- the schedule in force -------------------------------------------------------------------


def current_schedule() -> Schedule:
    """The defaults, or the operator's file (``RIGHTSDESK_RETENTION_FILE``) applied to them.

    A file that cannot be read or has a problem is a :class:`RetentionError` naming its line:
    nothing runs on a schedule half understood. The result is cached per file modification.
    """
    path = current_app.config.get("RETENTION_FILE")
    if not path:
        return DEFAULT_SCHEDULE
    try:
        stamp = os.stat(path).st_mtime_ns
        cached = current_app.extensions.get("rightsdesk.retention")
        if cached and cached[0] == (path, stamp):
            return cached[1]
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RetentionError(f"{path}: cannot read the retention file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RetentionError(f"{path}: the retention file is not UTF-8 text") from None
    try:
        schedule = load_schedule(text, str(path))
    except RetentionFileError as error:
        raise RetentionError(str(error)) from None
    current_app.extensions["rightsdesk.retention"] = ((path, stamp), schedule)
    return schedule


def local_today(now: datetime) -> date:
    return now.astimezone(settings().tz).date()


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the operator's zone, as a UTC instant."""
    return datetime.combine(day, clock(), tzinfo=settings().tz).astimezone(UTC)


# --- locks -----------------------------------------------------------------------------------


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
        advisory = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = advisory.exec_driver_sql(
            "SELECT pg_try_advisory_lock(%(key)s)", {"key": advisory_key(name)}
        ).scalar()
        if not got:
            advisory.close()
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
            with contextlib.suppress(SQLAlchemyError):
                advisory.exec_driver_sql(
                    "SELECT pg_advisory_unlock(%(key)s)", {"key": advisory_key(name)}
                )
            advisory.close()


# --- what a run reports ---------------------------------------------------------------------


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
    actor: str
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


# --- rightsdesk's own data -----------------------------------------------------------------


def expire_unverified_job(ctx: RunContext) -> list[Item]:
    from rightsdesk.services.intake import expire_unverified

    days = int(current_app.config["UNVERIFIED_EXPIRY_DAYS"])
    item = Item(
        "expire-unverified",
        "unverified_request",
        f"개인정보 보호법 §21①: 확인되지 않은 요구, {days}일 경과",
        OWN_SYSTEM,
        "requests",
        "anonymise",
        cutoff=ctx.now - timedelta(days=days),
    )
    started = datetime.now(UTC)
    report = expire_unverified(now=ctx.now, dry_run=ctx.dry_run)
    item.count = len(report.expired)
    if item.count and not ctx.dry_run:
        ctx.record(item, started)
        db.session.commit()
    return [item] if item.count else []


def purge_downloads_job(ctx: RunContext) -> list[Item]:
    from rightsdesk.services.downloads import purge_expired

    item = Item(
        "purge-downloads",
        "download",
        "운영 방침: 정보주체에게 제공한 파일, 제공 기간 경과",
        OWN_SYSTEM,
        "downloads",
        "delete",
        cutoff=ctx.now,
    )
    started = datetime.now(UTC)
    if ctx.dry_run:
        item.count = db.session.scalar(
            select(func.count())
            .select_from(Download)
            .where(Download.deleted_at.is_(None), Download.expires_at <= ctx.now)
        )
    else:
        item.count = purge_expired(now=ctx.now)
        if item.count:
            ctx.record(item, started)
            db.session.commit()
    return [item] if item.count else []


def purge_requests_job(ctx: RunContext) -> list[Item]:
    """Closed requests past the ``request_record`` rule lose their personal data and proofs;
    the request row (kind, dates, outcome) stays for statistics, the audit chain untouched."""
    from rightsdesk.services.intake import purge_personal_data
    from rightsdesk.services.uploads import delete_upload

    rule = ctx.schedule.rule("request_record")
    cutoff = local_midnight(ctx.schedule.cutoff(rule.code, ctx.today))
    due = and_(
        Request.status.in_(sorted(TERMINAL)),
        Request.closed_at.is_not(None),
        Request.closed_at < cutoff,
        Request.personal_data_purged_at.is_(None),
    )
    requests = Item(
        "purge-requests", rule.code, rule.basis, OWN_SYSTEM, "requests", "anonymise", cutoff=cutoff
    )
    files = Item(
        "purge-requests", rule.code, rule.basis, OWN_SYSTEM, "uploads", "delete", cutoff=cutoff
    )
    total = db.session.scalar(select(func.count()).select_from(Request).where(due))
    if ctx.dry_run or not total:
        requests.count = total
        return [requests] if total else []
    ctx.reporter.start("rightsdesk.requests", total)
    started = datetime.now(UTC)
    records: dict[str, DestructionRecord] = {}
    try:
        while batch := db.session.scalars(
            select(Request).where(due).order_by(Request.id).limit(REQUEST_BATCH)
        ).all():
            names: list[str] = []
            for request in batch:
                names += [n for n in purge_personal_data(request, now=ctx.now) if n]
                names += _expire_downloads(request, ctx.now)
            requests.count += len(batch)
            files.count += len(names)
            _bump(ctx, records, requests, started, len(batch))
            _bump(ctx, records, files, started, len(names))
            db.session.commit()  # the purge and its record together
            for name in names:  # only once the database no longer points at them
                delete_upload(name)
            ctx.reporter.advance(len(batch))
            ctx.renew()
    finally:
        ctx.reporter.finish()
    return [item for item in (requests, files) if item.count]


def _expire_downloads(request: Request, now: datetime) -> list[str]:
    names = []
    for download in request.downloads:
        if download.deleted_at is None:
            download.deleted_at = now
            names.append(download.file)
    return names


def _bump(ctx: RunContext, records: dict, item: Item, started: datetime, count: int) -> None:
    """Add ``count`` to the run's record of ``item`` (created on first use), in the session."""
    if not count:
        return
    row = records.get(item.table)
    if row is None:
        records[item.table] = ctx.record(item, started)
        records[item.table].count = count
    else:
        row.count += count
        row.finished_at = datetime.now(UTC)


def purge_separated_job(ctx: RunContext) -> list[Item]:
    """Separately stored rows past their purge-after day (operator's zone) are destroyed."""
    due = RetainedRecord.purge_after < ctx.today
    groups = db.session.execute(
        select(
            RetainedRecord.system,
            RetainedRecord.table_name,
            RetainedRecord.category,
            RetainedRecord.basis,
            func.count(),
        )
        .where(due)
        .group_by(
            RetainedRecord.system,
            RetainedRecord.table_name,
            RetainedRecord.category,
            RetainedRecord.basis,
        )
        .order_by(RetainedRecord.system, RetainedRecord.table_name, RetainedRecord.category)
    ).all()
    items = [
        Item("purge-separated", category, basis, system, f"retained:{table}", "delete", count)
        for system, table, category, basis, count in groups
    ]
    if ctx.dry_run or not items:
        return items
    started = datetime.now(UTC)
    for item in items:
        item.count = 0
        records: dict = {}
        table = item.table.removeprefix("retained:")
        where = and_(
            due,
            RetainedRecord.system == item.system,
            RetainedRecord.table_name == table,
            RetainedRecord.category == item.rule,
            RetainedRecord.basis == item.basis,
        )
        ctx.reporter.start(
            f"separated {item.system}.{table}",
            db.session.scalar(select(func.count()).select_from(RetainedRecord).where(where)),
        )
        try:
            while ids := db.session.scalars(
                select(RetainedRecord.id)
                .where(where)
                .order_by(RetainedRecord.id)
                .limit(ctx.batch_size)
            ).all():
                gone = db.session.execute(
                    delete(RetainedRecord).where(RetainedRecord.id.in_(ids))
                ).rowcount
                item.count += gone
                _bump(ctx, records, item, started, gone)
                db.session.commit()
                ctx.reporter.advance(gone)
                ctx.renew()
        finally:
            ctx.reporter.finish()
    return [item for item in items if item.count]


# --- the operator's systems ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A table of the data map that the retention schedule purges."""

    system: Any  # domain.datamap.System
    table: Table
    rule: Rule
    children: tuple[Table, ...]  # tables of the map whose rows point at this one's


def operator_targets(schedule: Schedule) -> list[Target]:
    """Tables with a rule that keeps something and a ``retention_from`` column, children first."""
    from rightsdesk.fulfilment.erasure import erasure_order
    from rightsdesk.services.fulfilment import configured_datamap

    if not current_app.config.get("DATAMAP_FILE"):
        return []
    targets = []
    for system in configured_datamap().systems:
        if system.kind != SystemKind.SQL:
            continue
        for table in erasure_order(system):
            rule = schedule.rules.get(table.retention)
            if rule is None or not rule.keeps or not table.retention_from:
                continue
            children = tuple(
                t for t in system.tables if t.via is not None and t.via.table == table.name
            )
            targets.append(Target(system, table, rule, children))
    return targets


@dataclass
class _Statement:
    """The reflected table and the condition of its due rows."""

    table: SqlTable
    keys: list[Column]
    column: Column  # retention_from
    cutoff: datetime
    method: str
    extra: list[Any]  # no child row points at it; for anonymise: not anonymised yet
    values: dict[str, Any] = field(default_factory=dict)

    def due_by(self, cutoff: datetime) -> Any:
        day = cutoff.astimezone(settings().tz).date()
        return and_(self.column < _bound(self.column, day, cutoff), *self.extra)

    @property
    def due(self) -> Any:
        return self.due_by(self.cutoff)


def _prepare(target: Target, connection: Connection, schedule: Schedule, today: date) -> _Statement:
    cutoff_day = schedule.cutoff(target.rule.code, today)
    metadata = MetaData()
    reflected = SqlTable(target.table.name, metadata, autoload_with=connection)
    keys = list(reflected.primary_key.columns)
    label = f"{target.system.name}.{target.table.name}"
    if not keys:
        raise RetentionError(f"{label} has no primary key: purge it by hand")
    if target.table.retention_from not in reflected.c:
        raise RetentionError(f"{label} has no column {target.table.retention_from!r}")
    extra = []
    for child in target.children:
        child_table = SqlTable(child.name, metadata, autoload_with=connection)
        pointing = child_table.c[child.via.column] == reflected.c[child.via.parent_column]
        purged = _purged_with(child, child_table, schedule, today)
        # A row still pointed at is kept (its children go first, in the same run).
        extra.append(
            ~exists().where(pointing, ~purged) if purged is not None else ~exists().where(pointing)
        )
    column = reflected.c[target.table.retention_from]
    cutoff = local_midnight(cutoff_day)
    if target.rule.action is EndAction.ANONYMISE:
        values, needed = _anonymisation(target, reflected, keys)
        return _Statement(reflected, keys, column, cutoff, "anonymise", [needed], values)
    return _Statement(reflected, keys, column, cutoff, "delete", extra)


def _purged_with(child: Table, reflected: SqlTable, schedule: Schedule, today: date) -> Any:
    """The condition of a child table's rows this run deletes before their parents (``None`` if
    it deletes none), so a dry run counts the parents that a real run frees."""
    rule = schedule.rules.get(child.retention)
    if (
        rule is None
        or not rule.keeps
        or not child.retention_from
        or rule.action is not EndAction.DESTROY
    ):
        return None
    day = schedule.cutoff(rule.code, today)
    column = reflected.c[child.retention_from]
    return column < _bound(column, day, local_midnight(day))


def _bound(column: Column, day: date, instant: datetime) -> object:
    """The cutoff in the column's own terms: a date, an aware instant, or naive UTC (a column
    without a zone is read as UTC, as the demo shop and SQLite store it)."""
    if isinstance(column.type, DateTime):
        return instant if column.type.timezone else instant.replace(tzinfo=None)
    if isinstance(column.type, Date):
        return day
    return instant.replace(tzinfo=None).isoformat(sep=" ")


PLACEHOLDER = "erased-"


def _anonymisation(target: Target, reflected: SqlTable, keys: list[Column]) -> tuple[dict, Any]:
    """The new values of the table's ``anonymise`` and ``null`` columns, and the condition of
    rows that still need them (so a second run finds nothing). Strings become ``erased-<key>``
    (unique, as such columns often are; an e-mail column ``erased-<key>@erased.invalid``),
    other types NULL."""
    table = target.table
    if not table.anonymise and not table.null:
        raise RetentionError(
            f"rule {target.rule.code!r} anonymises, but {target.system.name}.{table.name} lists "
            "no anonymise or null columns in the data map"
        )
    key_text = (
        keys[0].cast(String) if len(keys) == 1 else func.concat(*(k.cast(String) for k in keys))
    )
    values: dict[str, Any] = {}
    needed = []
    for name in table.anonymise:
        column = reflected.c[name]
        if isinstance(column.type, String | Text):
            value = literal(PLACEHOLDER) + key_text
            if table.identity.get("email") == name:
                value = value + literal("@erased.invalid")
            values[name] = value
            needed.append(and_(column.is_not(None), ~column.startswith(PLACEHOLDER)))
        else:
            values[name] = None
            needed.append(column.is_not(None))
    for name in table.null:
        values[name] = None
        needed.append(reflected.c[name].is_not(None))
    return values, or_(*needed)


def _count(connection: Connection, statement: _Statement) -> int:
    return connection.execute(
        select(func.count()).select_from(statement.table).where(statement.due)
    ).scalar_one()


def _batch(
    engine: Engine, statement: _Statement, after: tuple | None, size: int
) -> tuple[int, tuple | None]:
    """One short transaction: destroy up to ``size`` due rows with keys after ``after``; return
    how many and the last key (the keyset cursor, so no batch scans what the last one kept)."""
    keys = statement.keys
    key = keys[0] if len(keys) == 1 else tuple_(*keys)
    where = statement.due
    if after is not None:
        where = and_(where, key > (after[0] if len(keys) == 1 else tuple_(*map(literal, after))))
    chosen = select(*keys).where(where).order_by(*keys).limit(size)
    match = keys[0].in_(chosen.scalar_subquery()) if len(keys) == 1 else tuple_(*keys).in_(chosen)
    if statement.method == "delete":
        change = delete(statement.table).where(match)
    else:
        change = update(statement.table).where(match).values(**statement.values)
    with engine.begin() as connection:
        done = connection.execute(change.returning(*keys)).all()
    if not done:
        return 0, None
    return len(done), max(tuple(row) for row in done)


def purge_operator_job(ctx: RunContext) -> list[Item]:
    from rightsdesk.services.fulfilment import FulfilmentError, system_engine

    if not current_app.config.get("DATAMAP_FILE"):
        raise SkipJob("no data map: set RIGHTSDESK_DATAMAP_FILE")
    items = []
    for target in operator_targets(ctx.schedule):
        label = f"{target.system.name}.{target.table.name}"
        try:
            with system_engine(target.system) as engine:
                item = _purge_table(ctx, target, engine)
        except FulfilmentError as error:
            raise RetentionError(f"{label}: {error}") from None
        if item.count:
            items.append(item)
    return items


def _purge_table(ctx: RunContext, target: Target, engine: Engine) -> Item:
    with engine.connect() as connection:
        statement = _prepare(target, connection, ctx.schedule, ctx.today)
        if not ctx.dry_run:
            _settle_interrupted(ctx, target, connection, statement)
        due = _count(connection, statement)
    rule = target.rule
    item = Item(
        "purge-operator",
        rule.code,
        rule.basis,
        target.system.name,
        target.table.name,
        statement.method,
        cutoff=statement.cutoff,
    )
    if ctx.dry_run or not due:
        item.count = due
        return item
    _plan(ctx, item, due)
    started = datetime.now(UTC)
    ctx.reporter.start(f"{item.system}.{item.table}", due)
    after: tuple | None = None
    try:
        while True:
            count, after = _batch(engine, statement, after, ctx.batch_size)
            if not count:
                break
            item.count += count
            ctx.reporter.advance(count)
            ctx.renew()
            if ctx.pause:
                time.sleep(ctx.pause)
    finally:
        ctx.reporter.finish()
        if item.count:  # also after a failure: what was destroyed is recorded
            ctx.record(item, started)
            db.session.commit()
    return item


def _plan(ctx: RunContext, item: Item, due: int) -> None:
    audit.record(
        PLANNED,
        actor=ctx.actor,
        now=datetime.now(UTC),
        data={
            "run": ctx.run_id,
            "job": item.job,
            "system": item.system,
            "table": item.table,
            "rule": item.rule,
            "method": item.method,
            "cutoff": item.cutoff.isoformat() if item.cutoff else None,
            "due": due,
            "holder": ctx.holder,
        },
    )
    db.session.commit()


def _settle_interrupted(
    ctx: RunContext, target: Target, connection: Connection, statement: _Statement
) -> None:
    """Record what a killed runner destroyed in this table: its plan minus what is still due
    by its cutoff. Runs under the job's lock, so that runner is gone."""
    recent = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == PLANNED)
        .order_by(AuditEvent.seq.desc())
        .limit(200)
    ).all()
    for event in recent:
        plan = json.loads(event.data)
        if (plan.get("system"), plan.get("table")) != (target.system.name, target.table.name):
            continue
        recorded = db.session.scalar(
            select(func.count())
            .select_from(DestructionRecord)
            .where(
                DestructionRecord.run_id == plan["run"],
                DestructionRecord.system == plan["system"],
                DestructionRecord.table_name == plan["table"],
            )
        )
        if recorded:
            return  # the latest plan for this table finished
        cutoff = datetime.fromisoformat(plan["cutoff"])
        still = connection.execute(
            select(func.count()).select_from(statement.table).where(statement.due_by(cutoff))
        ).scalar_one()
        interrupted = Item(
            plan["job"],
            plan["rule"],
            target.rule.basis,
            plan["system"],
            plan["table"],
            plan["method"],
            count=max(plan["due"] - still, 0),
            cutoff=cutoff,
        )
        row = RunContext(
            plan["run"],
            ctx.now,
            ctx.schedule,
            False,
            f"{plan['holder']} (interrupted; counted by {ctx.holder})",
            ctx.holder,
            ctx.reporter,
        ).record(interrupted, event.at)
        db.session.commit()
        ctx.reporter.event(
            "interrupted_run_recorded", run=plan["run"], table=plan["table"], count=row.count
        )
        return


# --- running jobs ----------------------------------------------------------------------------

JOBS: dict[str, Job] = {
    "expire-unverified": expire_unverified_job,
    "purge-downloads": purge_downloads_job,
    "purge-requests": purge_requests_job,
    "purge-separated": purge_separated_job,
    "purge-operator": purge_operator_job,
}


def run_jobs(
    names: list[str] | None = None,
    *,
    now: datetime,
    actor: str,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    batch_size: int | None = None,
    pause: float | None = None,
) -> RunReport:
    """Run the named jobs (all by default) in order; a failing job is reported and the others
    still run. The schedule is read first: a bad retention file runs nothing."""
    schedule = current_schedule()
    config = current_app.config
    ctx = RunContext(
        run_id=f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}",
        now=now,
        schedule=schedule,
        dry_run=dry_run,
        actor=actor,
        holder=holder_name(),
        reporter=reporter or Reporter(),
        batch_size=batch_size or int(config.get("RETENTION_BATCH_SIZE") or DEFAULT_BATCH),
        pause=float(config.get("RETENTION_BATCH_PAUSE") or 0) if pause is None else pause,
    )
    report = RunReport(ctx.run_id, dry_run)
    for name in names or list(JOBS):
        report.jobs.append(_run_one(ctx, name))
    if not dry_run and report.count:
        audit.record(
            "retention.run",
            actor=actor,
            now=datetime.now(UTC),
            data={
                "run": ctx.run_id,
                "destroyed": {
                    f"{i.job}:{i.system}.{i.table}": i.count
                    for job in report.jobs
                    for i in job.items
                },
                "failed": [job.job for job in report.failed],
            },
        )
        db.session.commit()
    return report


def _run_one(ctx: RunContext, name: str) -> JobResult:
    result = JobResult(name)
    ctx.reporter.event("job_started", job=name, run=ctx.run_id, dry_run=ctx.dry_run)
    try:
        if ctx.dry_run:
            result.items = JOBS[name](ctx)
        else:
            with job_lock(f"retention:{name}", ctx.holder) as lease:
                if lease is None:
                    result.skipped = "held by another runner"
                else:
                    ctx.lease = lease
                    result.items = JOBS[name](ctx)
    except SkipJob as why:
        result.skipped = str(why)
    except (RetentionError, SQLAlchemyError, OSError, KeyError) as error:
        db.session.rollback()
        result.error = _one_line(error)
    finally:
        ctx.lease = None
    ctx.reporter.event(
        "job_finished",
        job=name,
        run=ctx.run_id,
        count=result.count,
        skipped=result.skipped,
        error=result.error,
    )
    return result


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig or error).strip().splitlines()
    return text[0] if text else type(error).__name__


def recent_records(limit: int = 50) -> list[DestructionRecord]:
    return db.session.scalars(
        select(DestructionRecord).order_by(DestructionRecord.id.desc()).limit(limit)
    ).all()


def _dormancy_job(ctx: RunContext) -> list[Item]:
    """The optional dormancy policy (off by default): see services/dormancy.py."""
    from rightsdesk.services.dormancy import dormancy_job

    return dormancy_job(ctx)


JOBS["dormancy"] = _dormancy_job
