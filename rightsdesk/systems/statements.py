"""The statements access and erasure run on the operator's tables, as SQL text built once per
table description and run on the driver's own cursor.

A subject's rows are a handful of indexed lookups (a few tenths of a millisecond each on the
database); SQLAlchemy's work around each statement (cache key, execution context, result
objects, row mappings) cost more than the lookups themselves: about 0.3 ms a statement, 6 of
them per access, more per erasure (measured on PostgreSQL 15, ``bench fulfilment``). So the
text is built here once per described table and run on the DBAPI cursor of the SQLAlchemy
connection (its transaction, its pool), and values are converted exactly as SQLAlchemy would
convert them: the column types' result processors (e.g. SQLite's dates stored as text) and
bind processors.

A list of keys is ``col IN (%s, %s, …)``: one array parameter instead (``= ANY(%s)`` on
PostgreSQL) measured 0.05 ms slower a statement (the array's conversion on both sides).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import Connection, Dialect

from rightsdesk.core.driver import Answer, DriverCursor, cursor_of

CHUNK = 500  # keys per statement (SQLite's older builds allow 999 parameters)

Processor = Callable[[Any], Any]


@dataclass(eq=False)
class TableSQL:
    """One described table's statement text for one dialect, and its value converters."""

    table: SqlTable
    dialect: Dialect
    columns: tuple[str, ...] = field(init=False)
    keys: tuple[str, ...] = field(init=False)
    mark: str = field(init=False)  # the driver's placeholder
    _readers: list[tuple[int, Processor]] | None = field(init=False, default=None)
    _writers: dict[str, Processor | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.columns = tuple(c.name for c in self.table.columns)
        self.keys = tuple(c.name for c in self.table.primary_key.columns)
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"

    def quote(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(name)

    @functools.cached_property
    def name(self) -> str:
        return self.dialect.identifier_preparer.format_table(self.table)

    @functools.cached_property
    def select(self) -> str:
        return f"SELECT {', '.join(self.quote(c) for c in self.columns)} FROM {self.name} WHERE "

    def writer(self, column: str) -> Processor | None:
        """The bind processor of ``column``'s type (``None``: the value goes as it is)."""
        if column not in self._writers:
            impl = self.table.c[column].type.dialect_impl(self.dialect)
            self._writers[column] = impl.bind_processor(self.dialect)
        return self._writers[column]

    def readers(self, cursor: DriverCursor) -> list[tuple[int, Processor]]:
        """The result processors of the columns that need one, for the driver's types of the
        first answer (a description is the same table's; reading the cursor's description
        costs the driver an object per column each time)."""
        if self._readers is None:
            found = []
            codes = [d[1] for d in cursor.description]
            for position, (column, code) in enumerate(zip(self.columns, codes, strict=True)):
                impl = self.table.c[column].type.dialect_impl(self.dialect)
                processor = impl.result_processor(self.dialect, code)
                if processor is not None:
                    found.append((position, processor))
            self._readers = found
        return self._readers

    def dicts(self, cursor: DriverCursor, rows: list) -> list[dict]:
        """The rows of a SELECT of every column as dicts, with the column types' values."""
        if not rows:
            return []
        columns, readers = self.columns, self.readers(cursor)
        if not readers:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        found = []
        for row in rows:
            values = list(row)
            for position, reader in readers:
                values[position] = reader(values[position])
            found.append(dict(zip(columns, values, strict=True)))
        return found

    def in_list(self, column: str, count: int) -> str:
        """``column`` among a list of ``count`` values."""
        return f"{self.quote(column)} IN ({', '.join([self.mark] * count)})"

    def list_params(self, column: str, values: Sequence) -> list:
        writer = self.writer(column)
        return [writer(v) for v in values] if writer else list(values)

    def keys_where(self, count: int) -> str:
        """The rows with ``count`` given primary keys."""
        if len(self.keys) == 1:
            return self.in_list(self.keys[0], count)
        one = "(" + ", ".join([self.mark] * len(self.keys)) + ")"
        columns = ", ".join(self.quote(k) for k in self.keys)
        return f"({columns}) IN ({', '.join([one] * count)})"

    def keys_params(self, values: Sequence[tuple]) -> list:
        if len(self.keys) == 1:
            return self.list_params(self.keys[0], [v[0] for v in values])
        writers = [self.writer(k) for k in self.keys]
        return [
            w(v) if w else v for value in values for w, v in zip(writers, value, strict=True)
        ]


@functools.lru_cache(maxsize=512)
def table_sql(table: SqlTable, dialect: Dialect) -> TableSQL:
    """The statements of a described table (cached with the description, which is itself
    replaced when the table's schema changes)."""
    return TableSQL(table, dialect)


Query = tuple[str, list]  # the WHERE clause and its parameters


def send(connection: Connection, sql: TableSQL, query: Query) -> Answer:
    """``SELECT <every column> … WHERE <query>`` sent on the connection's driver; its rows as
    dicts (:meth:`TableSQL.dicts`)."""
    cursor = cursor_of(connection)
    where, params = query
    cursor.execute(sql.select + where, params)
    return Answer(cursor, sql.dicts)


def received(sent: Sequence[Answer]) -> list[dict]:
    """The rows of every statement ``sent`` (a table's chunks), in order."""
    if len(sent) == 1:
        return sent[0].all()
    return [row for part in sent for row in part.all()]


def matching(sql: TableSQL, values: Mapping[str, object]) -> list[Query]:
    """The rows where any of ``values``' columns equals its value: one query."""
    where = " OR ".join(f"{sql.quote(c)} = {sql.mark}" for c in values)
    params = []
    for column, value in values.items():
        writer = sql.writer(column)
        params.append(writer(value) if writer else value)
    return [(where, params)]


def among(sql: TableSQL, column: str, values: Sequence) -> list[Query]:
    """The rows whose ``column`` is among ``values``: a query per ``CHUNK`` values."""
    return [
        (sql.in_list(column, len(chunk)), sql.list_params(column, chunk))
        for chunk in (values[i : i + CHUNK] for i in range(0, len(values), CHUNK))
    ]


def delete_keys(connection: Connection, sql: TableSQL, keys: Sequence[tuple]) -> None:
    """Delete the rows with these primary keys, ``CHUNK`` per statement."""
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        cursor_of(connection).execute(
            f"DELETE FROM {sql.name} WHERE {sql.keys_where(len(chunk))}", sql.keys_params(chunk)
        )


def update_keys(
    connection: Connection,
    sql: TableSQL,
    keys: Sequence[tuple],
    assignments: str,
    params: Sequence,
) -> None:
    """``UPDATE … SET <assignments>`` (with its ``params``) on the rows with these primary
    keys, ``CHUNK`` per statement."""
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        cursor_of(connection).execute(
            f"UPDATE {sql.name} SET {assignments} WHERE {sql.keys_where(len(chunk))}",
            [*params, *sql.keys_params(chunk)],
        )
