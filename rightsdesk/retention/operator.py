"""Retention in the operator's own databases: rows past their period and grace, destroyed
in batches by key (:mod:`rightsdesk.retention.jobs` says how a killed run is counted).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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

from rightsdesk.core import audit
from rightsdesk.core.context import settings
from rightsdesk.domain.datamap import SystemKind, Table
from rightsdesk.domain.retention import (
    EndAction,
    RetentionError,
    Rule,
    Schedule,
)
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    DestructionRecord,
)
from rightsdesk.retention import progress
from rightsdesk.retention.runner import PLANNED, Item, RunContext, SkipJob, local_midnight
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine
from rightsdesk.systems.erasure import erasure_order


@dataclass(frozen=True)
class Target:
    """A table of the data map that the retention schedule purges."""

    system: Any  # domain.datamap.System
    table: Table
    rule: Rule
    children: tuple[Table, ...]  # tables of the map whose rows point at this one's


def operator_targets(schedule: Schedule) -> list[Target]:
    """Tables with a rule that keeps something and a ``retention_from`` column, children first."""

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
        values, needed = anonymisation(target, reflected, keys)
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


def anonymisation(target: Target, reflected: SqlTable, keys: list[Column]) -> tuple[dict, Any]:
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
        email = table.identity.get("email") == name
        values[name], condition = _anonymised(reflected.c[name], key_text, email=email)
        needed.append(condition)
    for name in table.null:
        values[name] = None
        needed.append(reflected.c[name].is_not(None))
    return values, or_(*needed)


def _anonymised(column: Column, key_text: Any, *, email: bool) -> tuple[Any, Any]:
    """One ``anonymise`` column's new value, and the condition of rows that still need it."""
    if isinstance(column.type, String | Text):
        value = literal(PLACEHOLDER) + key_text
        if email:
            value = value + literal("@erased.invalid")
        return value, and_(column.is_not(None), ~column.startswith(PLACEHOLDER))
    return None, column.is_not(None)


def _count(connection: Connection, statement: _Statement) -> int:
    return connection.execute(
        select(func.count()).select_from(statement.table).where(statement.due)
    ).scalar_one()


def _batch(
    engine: Engine,
    statement: _Statement,
    after: tuple | None,
    size: int,
    journal: Callable[[progress.Span], None],
) -> tuple[int, tuple | None]:
    """One short transaction: the key of the ``size``-th due row after ``after`` bounds the
    batch (no such row: the batch is the rest); the due rows in that span are destroyed and,
    before the transaction commits, the span and their count are journalled. Returns how many
    and the span's last key, the keyset cursor (``None`` after the last batch). Nothing crosses
    the wire but the bound and the count, and no batch scans what the last one kept."""
    with engine.begin() as connection:
        found = connection.execute(_nth_due(statement, after, size)).first()
        upto = tuple(found) if found is not None else None
        span = _within(statement.keys, after, upto)
        count = connection.execute(_change(statement, span)).rowcount
        if count:
            journal(progress.Span(after, upto, count))
    return count, upto


def _nth_due(statement: _Statement, after: tuple | None, size: int) -> Any:
    keys = statement.keys
    return (
        select(*keys)
        .where(statement.due, *_within(keys, after, None))
        .order_by(*keys)
        .offset(size - 1)
        .limit(1)
    )


def _within(keys: list[Column], after: tuple | None, upto: tuple | None) -> list[Any]:
    """The conditions of keys after ``after`` up to and including ``upto`` (``None``: open)."""
    key = keys[0] if len(keys) == 1 else tuple_(*keys)

    def bound(values: tuple) -> Any:
        bounds = [literal(value, column.type) for column, value in zip(keys, values, strict=True)]
        return bounds[0] if len(keys) == 1 else tuple_(*bounds)

    conditions = []
    if after is not None:
        conditions.append(key > bound(after))
    if upto is not None:
        conditions.append(key <= bound(upto))
    return conditions


def _matching(keys: list[Column], picked: list[tuple]) -> Any:
    if len(keys) == 1:
        return keys[0].in_([key[0] for key in picked])
    return tuple_(*keys).in_(picked)


def _change(statement: _Statement, span: list[Any]) -> Any:
    match = and_(statement.due, *span)
    if statement.method == "delete":
        return delete(statement.table).where(match)
    return update(statement.table).where(match).values(**statement.values)


def purge_operator_job(ctx: RunContext) -> list[Item]:

    if not current_app.config.get("DATAMAP_FILE"):
        raise SkipJob("no data map: set RIGHTSDESK_DATAMAP_FILE")
    items = []
    for target in operator_targets(ctx.schedule):
        label = f"{target.system.name}.{target.table.name}"
        try:
            with system_engine(target.system) as engine:
                item = purge_table(ctx, target, engine)
        except FulfilmentError as error:
            raise RetentionError(f"{label}: {error}") from None
        if item.count:
            items.append(item)
    return items


def purge_table(ctx: RunContext, target: Target, engine: Engine) -> Item:
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
    progress_id = _plan(ctx, item, due)
    _destroy(ctx, engine, statement, item, due, progress_id)
    return item


def _destroy(
    ctx: RunContext, engine: Engine, statement: _Statement, item: Item, due: int, progress_id: int
) -> None:
    """Destroy the due rows batch after batch, each journalled (:mod:`.progress`: one commit of
    rightsdesk's per batch); what was destroyed is recorded and committed even when a batch
    fails."""
    started = datetime.now(UTC)
    ctx.reporter.start(f"{item.system}.{item.table}", due)
    after: tuple | None = None
    confirmed = 0  # the rows of the last journalled batch, committed since

    def journal(span: progress.Span) -> None:
        progress.step(progress_id, confirmed, span)

    try:
        while True:
            count, after = _batch(engine, statement, after, ctx.batch_size, journal)
            if count:
                confirmed = count
                item.count += count
                ctx.reporter.advance(count)
            if after is None:
                break
            ctx.renew()
            if ctx.pause:
                time.sleep(ctx.pause)
    finally:
        ctx.reporter.finish()
        if item.count:  # also after a failure: what was destroyed is recorded
            progress.finish(progress_id, item.count)
            ctx.record(item, started)
            db.session.commit()


def _plan(ctx: RunContext, item: Item, due: int) -> int:
    """The plan in the audit trail and the run's progress row for the table (its id)."""
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
    progress_id = progress.start(ctx.run_id, item.system, item.table)
    db.session.commit()
    return progress_id


def _settle_interrupted(
    ctx: RunContext, target: Target, connection: Connection, statement: _Statement
) -> None:
    """Record what a killed runner destroyed in this table: its plan minus what is still due
    by its cutoff. Runs under the job's lock, so that runner is gone."""
    found = _latest_plan(target)
    if found is None:
        return
    event, plan = found
    if _plan_recorded(plan):
        return  # the latest plan for this table finished
    cutoff = datetime.fromisoformat(plan["cutoff"])
    count = _destroyed_by(plan, connection, statement, cutoff)
    row = _record_interrupted(ctx, event, plan, target.rule.basis, cutoff, count)
    db.session.commit()
    ctx.reporter.event(
        "interrupted_run_recorded", run=plan["run"], table=plan["table"], count=row.count
    )


def _destroyed_by(
    plan: dict, connection: Connection, statement: _Statement, cutoff: datetime
) -> int:
    """What the killed run destroyed: its confirmed batches plus the batch in flight if that
    one committed (no row due by the plan's cutoff is left in its span; journalled by keys, as
    runs before spans were: none of its keys is still there, or still due for an
    anonymisation). A plan written before progress was journalled: planned minus still due,
    as then."""
    journal = progress.of_run(plan["run"], plan["system"], plan["table"])
    if journal is None:
        still = connection.execute(
            select(func.count()).select_from(statement.table).where(statement.due_by(cutoff))
        ).scalar_one()
        return max(plan["due"] - still, 0)
    batch = progress.inflight(journal)
    if batch is None:
        return journal.done
    if isinstance(batch, progress.Span):
        left = connection.execute(
            select(*statement.keys)
            .where(statement.due_by(cutoff), *_within(statement.keys, batch.after, batch.upto))
            .limit(1)
        ).first()
        return journal.done + (batch.count if left is None else 0)
    present = _matching(statement.keys, batch)
    if statement.method != "delete":
        present = and_(present, statement.due_by(cutoff))
    left = connection.execute(
        select(func.count()).select_from(statement.table).where(present)
    ).scalar_one()
    return journal.done + (len(batch) if left == 0 else 0)


def _latest_plan(target: Target) -> tuple[AuditEvent, dict] | None:
    """The latest plan for this table among the last 200, with its event."""
    recent = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == PLANNED)
        .order_by(AuditEvent.seq.desc())
        .limit(200)
    ).all()
    for event in recent:
        plan = json.loads(event.data)
        if (plan.get("system"), plan.get("table")) == (target.system.name, target.table.name):
            return event, plan
    return None


def _plan_recorded(plan: dict) -> bool:
    """Whether the plan's run recorded its destruction in the plan's table."""
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(DestructionRecord)
            .where(
                DestructionRecord.run_id == plan["run"],
                DestructionRecord.system == plan["system"],
                DestructionRecord.table_name == plan["table"],
            )
        )
    )


def _record_interrupted(
    ctx: RunContext, event: AuditEvent, plan: dict, basis: str, cutoff: datetime, count: int
) -> DestructionRecord:
    """The killed run's destruction record (in the session), counted by this runner."""
    interrupted = Item(
        plan["job"],
        plan["rule"],
        basis,
        plan["system"],
        plan["table"],
        plan["method"],
        count=count,
        cutoff=cutoff,
    )
    return RunContext(
        plan["run"],
        ctx.now,
        ctx.schedule,
        False,
        f"{plan['holder']} (interrupted; counted by {ctx.holder})",
        ctx.holder,
        ctx.reporter,
    ).record(interrupted, event.at)
