"""Core statements of the fulfilment hot path, compiled once and run on the driver's cursor of
the session's connection (its transaction, its pool).

An access or an erasure runs a dozen small statements in rightsdesk's own database (the audit
head, the offer, the plan, the lease). Around each, SQLAlchemy's session and engine spend more
Python time than the statement takes on the database (about 0.08 ms against 0.04 ms measured:
cache key, execution context, result objects). Such a statement is written as ordinary Core
here, compiled once per dialect by SQLAlchemy, and its parameters are converted by the same
bind processors SQLAlchemy would apply (e.g. SQLite's dates as text), and what it returns by the
result processors of its columns' types.

Statements run this way are not seen by SQLAlchemy's cursor events; their errors arrive as
SQLAlchemy's (:class:`rightsdesk.core.driver.DriverCursor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Boolean, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlalchemy.sql.selectable import SelectBase
from sqlalchemy.sql.visitors import InternalTraversal

from rightsdesk.core.driver import Answer, DriverCursor
from rightsdesk.extensions import db


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
    """A Core statement (no expanding IN) run on the driver's cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}
        self._readers: dict[str, list[tuple[int, Callable[[Any], Any]]]] = {}

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
        return self.send(values).first()

    def all(self, values: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.send(values).all()

    def send(self, values: Mapping[str, Any] | None = None) -> Answer:
        """Run once; its rows when asked for: at once outside a pipeline, after the
        pipeline's answers arrived inside one (:func:`rightsdesk.core.driver.pipelined`)."""
        return Answer(self.execute(values), self._converted)

    def _converted(self, cursor: DriverCursor, rows: list) -> list[tuple]:
        if not rows:
            return []
        readers = self._readers_for(cursor.connection.dialect, cursor)
        if not readers:
            return rows
        converted = []
        for row in rows:
            values_ = list(row)
            for position, reader in readers:
                if values_[position] is not None:
                    values_[position] = reader(values_[position])
            converted.append(tuple(values_))
        return converted

    def _readers_for(self, dialect: Dialect, cursor: DriverCursor) -> list:
        """The result processors its columns' types need, for the driver's types of the first
        answer on this dialect (the statement's columns do not change)."""
        readers = self._readers.get(dialect.name)
        if readers is None:
            columns: Sequence = getattr(self.statement, "exported_columns", ())
            codes = [d[1] for d in cursor.description]
            readers = []
            for position, (column, code) in enumerate(zip(columns, codes, strict=True)):
                impl = column.type.dialect_impl(dialect)
                processor = impl.result_processor(dialect, code)
                if processor is not None:
                    readers.append((position, processor))
            self._readers[dialect.name] = readers
        return readers

    def many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run once per row (the driver's ``executemany``: pipelined on PostgreSQL)."""
        cursor, form = self._cursor()
        cursor.executemany(form.sql, [form.parameters(row) for row in rows])


Model = TypeVar("Model")


class DirectLoad(Generic[Model]):
    """One mapped object by a unique condition, its row read as a :class:`Direct` statement and
    made the session's own, as the ORM's load makes it: persistent, clean, its relationships
    loaded lazily. About half the Python time of ``session.scalar(select(Model)…)`` (0.12 ms
    against 0.24 ms for a request's 36 columns), which builds its row processors per query.

    Where the ORM's answer could differ, the ORM answers: when the session holds unflushed
    changes (its query would flush them first), and when the object is in the session already
    (its query returns that instance). Load events are not fired (nothing here listens)."""

    def __init__(self, model: type[Model], condition: ColumnElement[bool]) -> None:
        mapper = inspect(model)
        loaded = [p for p in mapper.column_attrs if not p.deferred]
        if any(len(p.columns) != 1 for p in loaded):
            raise TypeError("a direct load reads plain columns only")
        columns = [p.columns[0] for p in loaded]
        self._mapper = mapper
        self._keys = [p.key for p in loaded]
        positions = {id(column): i for i, column in enumerate(columns)}
        self._primary = [positions[id(key)] for key in mapper.primary_key]
        self._row = Direct(select(*columns).where(condition))
        self._orm = select(model).where(condition)

    def first(self, values: Mapping[str, Any]) -> Model | None:
        session = db.session()
        if session.new or session.dirty or session.deleted:
            return session.scalar(self._orm, values)
        row = self._row.first(values)
        if row is None:
            return None
        key = self._mapper.identity_key_from_primary_key([row[i] for i in self._primary])
        if key in session.identity_map:
            return session.scalar(self._orm, values)
        instance = self._mapper.class_manager.new_instance()
        instance_state(instance).dict.update(zip(self._keys, row, strict=True))
        make_transient_to_detached(instance)  # clean, with an identity; the rest unloaded
        session.add(instance)
        return instance


def _compile(statement: ClauseElement, dialect: Dialect) -> _Form:
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string or any(b.expanding for b in compiled.binds.values()):
        raise TypeError("a direct statement cannot expand parameters at run time")
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


class AmongSelected(ColumnElement[bool]):
    """``column IN (SELECT …)``, read through ``column``'s index whatever the statistics say.

    PostgreSQL plans ``IN (SELECT …)`` as a join, and without statistics (a table not yet
    analysed: autovacuum off, or a table that grew since) it may hash the subquery's few rows
    and read the whole other table to probe them: 7.5 ms at 46,000 kept rows against 0.03 ms.
    As ``column = ANY(ARRAY(SELECT …))`` the subquery runs once, first, and its list is an
    index condition on ``column``. Other databases get the plain ``IN``."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: no ``= 1`` where booleans are not native
    _traverse_internals: ClassVar = [
        ("column", InternalTraversal.dp_clauseelement),
        ("selected", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement, selected: SelectBase) -> None:
        self.column = column
        self.selected = selected


@compiles(AmongSelected)
def _among_selected(element: AmongSelected, compiler, **kw) -> str:
    return compiler.process(element.column.in_(element.selected), **kw)


@compiles(AmongSelected, "postgresql")
def _among_selected_postgresql(element: AmongSelected, compiler, **kw) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(ARRAY({compiler.process(element.selected, **kw)}))"
