"""Erasure (삭제) on an SQL system of the data map: what each table's rows become, and doing it.

Every row of the subject (found as for access) gets the table's strategy: deleted, anonymised
or nulled. A row that a statute makes the operator keep (the table's retention rule, counted
from its ``retention_from`` date, or from today without one) is first copied to separated
storage (PIPA §21③) by the caller, then erased from the live table.

Tables are erased children first, in one transaction of the system's database, after the
caller made what is kept (and the counts) durable: a run that stops is simply run again.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, String, Text, event
from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import Engine

from rightsdesk.core.driver import can_pipeline, pipelined
from rightsdesk.domain.datamap import Erasure, System, Table
from rightsdesk.domain.retention import Rule, Schedule
from rightsdesk.systems import statements
from rightsdesk.systems.collect import TableRows, collect_rows, collection_order, plain_value
from rightsdesk.systems.connect import checkpoint


@dataclass(frozen=True)
class KeptRow:
    """A row to store separately before it is erased."""

    table: str
    key: str  # JSON of the primary key
    row: dict
    until: date


@dataclass(frozen=True)
class TablePlan:
    """What erasing the subject does to one table: counts, and what is kept why until when."""

    system: str
    table: str
    rows: int
    strategy: str
    retention: str
    basis: str
    kept: tuple[KeptRow, ...]
    kind: str = "statute"  # the rule's basis kind: statute, policy, statute+policy

    @property
    def retained(self) -> int:
        return len(self.kept)

    @property
    def retained_until(self) -> date | None:
        return max((k.until for k in self.kept), default=None)


Collected = tuple[dict[str, TableRows], dict[str, SqlTable]]


def collect_all(system: System, engine: Engine, identities: Mapping[str, str]) -> Collected:
    """The subject's rows of every table of the system, and the tables' descriptions."""
    return collect_rows(system, engine, identities)


def erasure_order(system: System) -> list[Table]:
    """Children before parents: the reverse of the order rows are found in."""
    return list(reversed(collection_order(system.tables)))


def _start(value: object, today: date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return today
    return today


def _key_columns(reflected: SqlTable) -> list[Column]:
    keys = list(reflected.primary_key.columns)
    if not keys:
        raise ValueError(f"{reflected.name} has no primary key: erase it by hand")
    return keys


def _row_key(row: Mapping, keys: Sequence[Column]) -> str:
    return json.dumps([plain_value(row[k.name]) for k in keys], ensure_ascii=False)


def plan_table(part: TableRows, reflected: SqlTable, schedule: Schedule, today: date) -> TablePlan:
    table = part.table
    rule: Rule = schedule.rule(table.retention).on_deletion_request()
    kept: list[KeptRow] = []
    if rule.keeps and part.rows:
        keys = _key_columns(reflected)
        for row in part.rows:
            start = _start(row.get(table.retention_from), today) if table.retention_from else today
            until = rule.until(start)
            if until >= today:
                plain = {k: plain_value(v) for k, v in row.items()}
                kept.append(KeptRow(table.name, _row_key(row, keys), plain, until))
    return TablePlan(
        part.system,
        table.name,
        len(part.rows),
        table.erasure,
        rule.code,
        basis_text(rule),
        tuple(kept),
        rule.kind_text,
    )


def basis_text(rule: Rule) -> str:
    """The rule's basis as stored with what it keeps: a statute kept longer names the
    operator's reason for the extra time."""
    return f"{rule.basis}; 초과 기간은 내부 방침: {rule.reason}" if rule.reason else rule.basis


def plan_system(
    system: System, engine: Engine, identities: Mapping[str, str], schedule: Schedule, today: date
) -> list[TablePlan]:
    """The preview: per table, in erasure order, what will happen to the subject's rows."""
    found, reflected = collect_rows(system, engine, identities)
    return [
        plan_table(found[table.name], reflected[table.name], schedule, today)
        for table in erasure_order(system)
    ]


def _placeholder(column: Column, identity_columns: Mapping[str, str]) -> object:
    """A value that identifies nobody; unique, since such columns often are."""
    if not isinstance(column.type, String | Text):
        return None
    token = secrets.token_hex(8)
    if identity_columns.get("email") == column.name:
        return f"erased-{token}@erased.invalid"
    if identity_columns.get("phone") == column.name:
        return None if column.nullable else f"erased-{token}"
    text = f"erased-{token}"
    length = getattr(column.type, "length", None)
    return text[:length] if length else text


def _secure_delete(engine: Engine) -> None:
    """SQLite overwrites deleted content with zeros (영 §16: not restorable)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_rightsdesk_secure", False):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        dbapi_connection.execute("PRAGMA secure_delete = ON")

    engine._rightsdesk_secure = True  # type: ignore[attr-defined]
    engine.dispose()


def erase_tables(engine: Engine, collected: Collected, tables: Sequence[Table]) -> None:
    """One transaction of the system: delete or anonymise the subject's rows of ``tables`` (in
    the order given, children first) by key, a statement per table (per ``CHUNK`` keys), on
    the driver's cursor (:mod:`rightsdesk.systems.statements`); then the checkpoint. The
    caller has made what is kept, and the counts, durable before.

    On PostgreSQL the statements go in one pipeline in autocommit: one implicit transaction
    (all of them or, if one fails, none) in one round trip, instead of a BEGIN, a round trip
    per statement and a COMMIT."""
    _secure_delete(engine)
    found, described = collected
    with engine.connect() as connection:
        if can_pipeline(connection):
            connection.execution_options(isolation_level="AUTOCOMMIT")
            with pipelined(connection):
                _erase_all(connection, found, described, tables)
        else:
            with connection.begin():
                _erase_all(connection, found, described, tables)
    checkpoint(engine)


def _erase_all(connection, found, described, tables: Sequence[Table]) -> None:
    for table in tables:
        rows = found[table.name].rows
        if rows:
            sql = statements.table_sql(described[table.name], connection.dialect)
            _erase_in(connection, sql, rows, table)


def _erase_in(connection, sql: statements.TableSQL, rows: Sequence[Mapping], table: Table):
    """Delete or anonymise the rows by key in the connection's transaction."""
    _key_columns(sql.table)  # no primary key: refused, nothing erased
    keys = [tuple(row[k] for k in sql.keys) for row in rows]
    if table.erasure == Erasure.DELETE:
        statements.delete_keys(connection, sql, keys)
        return
    assignments, params = _replacement(sql, table)
    statements.update_keys(connection, sql, keys, assignments, params)


def _replacement(sql: statements.TableSQL, table: Table) -> tuple[str, list]:
    """The SET clause of an anonymising UPDATE and its parameters: each ``anonymise`` column
    becomes a value unique to its row (``erased-<random token of the run>-<key>``) that
    identifies nobody (see :func:`_placeholder` for the rules per column), ``null`` columns
    NULL."""
    token = secrets.token_hex(4)
    key_text = " || '-' || ".join(f"CAST({sql.quote(k)} AS VARCHAR)" for k in sql.keys)
    assignments, params = [], []
    for name in table.anonymise:
        column = sql.table.c[name]
        target = sql.quote(name)
        if _placeholder(column, table.identity) is None:
            assignments.append(f"{target} = NULL")
            continue
        unique = f"{sql.mark} || {key_text}"
        params.append(f"erased-{token}-")
        if table.identity.get("email") == name:
            assignments.append(f"{target} = {unique} || {sql.mark}")
            params.append("@erased.invalid")
            continue
        length = getattr(column.type, "length", None)
        if length:
            assignments.append(f"{target} = substr({unique}, 1, {int(length)})")
        else:
            assignments.append(f"{target} = {unique}")
    assignments += [f"{sql.quote(name)} = NULL" for name in table.null]
    return ", ".join(assignments), params
