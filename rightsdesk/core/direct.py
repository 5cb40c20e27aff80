"""Core statements of the fulfilment hot path, compiled once and run on the driver's cursor of
the session's connection (its transaction, its pool).

An access or an erasure runs a dozen small statements in rightsdesk's own database (the audit
head, the offer, the plan, the lease). Around each, SQLAlchemy's session and engine spend more
Python time than the statement takes on the database (about 0.08 ms against 0.04 ms measured:
cache key, execution context, result objects). Such a statement is written as ordinary Core
here, compiled once per dialect by SQLAlchemy, and its parameters are converted by the same
bind processors SQLAlchemy would apply (e.g. SQLite's dates as text). What it returns must need
no conversion (integers, text): that is checked when it is first compiled.

Statements run this way are not seen by SQLAlchemy's cursor events; their errors arrive as
SQLAlchemy's (:class:`rightsdesk.systems.statements.DriverCursor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from rightsdesk.extensions import db
from rightsdesk.systems.statements import DriverCursor


@dataclass(frozen=True)
class _Form:
    """A statement compiled for one dialect: its text, the order of its parameters (positional
    drivers), their defaults (values written into the statement) and converters."""

    sql: str
    order: tuple[str, ...] | None
    defaults: dict[str, Any]
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        for name, convert in self.converters:
            if merged.get(name) is not None:
                merged[name] = convert(merged[name])
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)


class Direct:
    """A Core statement (no expanding IN, results that need no conversion)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = _compile(self.statement, dialect)
        return form

    def _cursor(self) -> tuple[DriverCursor, _Form]:
        connection = db.session.connection()
        return DriverCursor(connection), self._form(connection.dialect)

    def execute(self, values: Mapping[str, Any] | None = None):
        """Run once; the cursor (its ``rowcount``, its rows)."""
        cursor, form = self._cursor()
        cursor.execute(form.sql, form.parameters(values or {}))
        return cursor

    def first(self, values: Mapping[str, Any] | None = None) -> tuple | None:
        return self.execute(values).fetchone()

    def all(self, values: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.execute(values).fetchall()

    def many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run once per row (the driver's ``executemany``: pipelined on PostgreSQL)."""
        cursor, form = self._cursor()
        cursor.executemany(form.sql, [form.parameters(row) for row in rows])


def _compile(statement: ClauseElement, dialect: Dialect) -> _Form:
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string or any(b.expanding for b in compiled.binds.values()):
        raise TypeError("a direct statement cannot expand parameters at run time")
    _refuse_converted_results(statement, dialect)
    converters = []
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            converters.append((name, processor))
    order = tuple(compiled.positiontup) if compiled.positional else None
    # Values written into the statement (``seq + 1``); the others come with each execution.
    defaults = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    return _Form(compiled.string, order, defaults, tuple(converters))


def _refuse_converted_results(statement: ClauseElement, dialect: Dialect) -> None:
    columns: Sequence = getattr(statement, "exported_columns", ())
    for column in columns:
        impl = column.type.dialect_impl(dialect)
        if impl.result_processor(dialect, None) is not None:
            raise TypeError(f"{column} needs its results converted: run it through SQLAlchemy")
