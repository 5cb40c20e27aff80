"""The database driver under SQLAlchemy, where the hot paths use it directly: its cursor (with
SQLAlchemy's errors), its pipeline (several statements in one round trip) and a connection check
only after a connection rested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

# A connection back from the pool after resting longer than this is pinged first.
IDLE_BEFORE_PING = 10.0


class DriverCursor:
    """The driver's cursor of an SQLAlchemy connection, in its transaction (if one is open),
    whose errors arrive as SQLAlchemy's (``IntegrityError``, ``OperationalError``, …) as they
    would through SQLAlchemy: callers catch one kind of error whichever way a statement ran. A
    lost connection is invalidated, so the pool does not hand it out again."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.pipelined = in_pipeline(connection)
        # In a pipeline each statement needs a cursor of its own: a cursor keeps only the
        # answer that reached it last, and answers arrive later than their statements.
        self.cursor = _new_cursor(connection) if self.pipelined else _reused_cursor(connection)

    def execute(self, sql: str, params: Any = None):
        try:
            if params is None:
                self.cursor.execute(sql)
            else:
                self.cursor.execute(sql, params)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql, params) from error
        return self

    def executemany(self, sql: str, rows: Sequence) -> None:
        try:
            self.cursor.executemany(sql, rows)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql, rows) from error

    def _translated(self, error: Exception, sql: str, params: Any) -> exc.DBAPIError:
        return _translated(self.connection, error, sql, params, self.cursor)

    def fetchone(self):
        try:
            return self.cursor.fetchone()
        except self.connection.dialect.loaded_dbapi.Error as error:  # a pipeline's answer
            raise self._translated(error, "(fetch)", None) from error

    def fetchall(self):
        try:
            return self.cursor.fetchall()
        except self.connection.dialect.loaded_dbapi.Error as error:  # a pipeline's answer
            raise self._translated(error, "(fetch)", None) from error

    @property
    def description(self):
        return self.cursor.description

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount


class Answer:
    """A statement's rows, converted by ``convert(cursor, rows)`` and read once: at once
    outside a pipeline (the connection's cursor runs the next statement), when asked for
    inside one (after the pipeline's answers arrived)."""

    __slots__ = ("_convert", "_cursor", "_rows")

    def __init__(self, cursor: DriverCursor, convert: Callable[[DriverCursor, list], list]):
        self._cursor, self._convert = cursor, convert
        self._rows: list | None = None
        if not cursor.pipelined:
            self.all()

    def all(self) -> list:
        if self._rows is None:
            self._rows = self._convert(self._cursor, self._cursor.fetchall())
        return self._rows

    def first(self):
        rows = self.all()
        return rows[0] if rows else None


def _translated(
    connection: Connection, error: Exception, sql: str, params: Any, cursor: Any = None
) -> exc.DBAPIError:
    """The driver's ``error`` as SQLAlchemy would raise it; a lost connection invalidated."""
    dialect = connection.dialect
    raw = connection.connection.dbapi_connection
    lost = dialect.is_disconnect(error, raw, cursor)
    if lost:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql, params, error, dialect.loaded_dbapi.Error,
        connection_invalidated=lost, dialect=dialect,
    )


def _new_cursor(connection: Connection):
    return connection.connection.driver_connection.cursor()


def _reused_cursor(connection: Connection):
    """One driver cursor per driver connection, kept with it (a new cursor costs the driver a
    copy of its adapters): SQLAlchemy clears ``info`` when it replaces the connection."""
    proxied = connection.connection
    cursor = proxied.info.get("rightsdesk.cursor")
    stale = cursor is None or getattr(cursor, "closed", False)
    if stale or cursor.connection is not proxied.driver_connection:
        cursor = proxied.info["rightsdesk.cursor"] = proxied.driver_connection.cursor()
    return cursor


def cursor_of(connection: Connection) -> DriverCursor:
    """The driver's cursor of ``connection`` (see :class:`DriverCursor`)."""
    return DriverCursor(connection)


def can_pipeline(connection: Connection) -> bool:
    """Whether :func:`pipelined` sends statements together on this connection (psycopg)."""
    return connection.dialect.driver == "psycopg"


def in_pipeline(connection: Connection) -> bool:
    if not can_pipeline(connection):
        return False
    raw = connection.connection.driver_connection
    return raw.pgconn.pipeline_status != 0  # psycopg.pq.PipelineStatus.OFF


@contextmanager
def pipelined(connection: Connection) -> Iterator[bool]:
    """Statements run on ``connection``'s driver cursors in the block go to PostgreSQL without
    waiting for each answer; the answers arrive together, in one round trip, when the block
    ends or when one is read (psycopg's pipeline mode). Read each answer after the block, or
    only where the next statement needs it. Yields whether the statements are pipelined: on
    other drivers nothing changes, each statement is answered as it runs.

    In autocommit, PostgreSQL runs the statements of one round trip as one implicit
    transaction: all of them or, if one fails, none (libpq, "Pipeline Mode"). Errors arrive
    as SQLAlchemy's, as from :class:`DriverCursor`."""
    if not can_pipeline(connection):
        yield False
        return
    if in_pipeline(connection):  # within an outer block: its round trip
        yield True
        return
    raw = connection.connection.driver_connection
    try:
        with raw.pipeline():
            yield True
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(connection, error, "(pipeline)", None) from error


def ping_when_idle(engine: Engine, idle: float = IDLE_BEFORE_PING) -> None:
    """SQLAlchemy's ``pool_pre_ping``, only for a connection that rested in the pool longer
    than ``idle`` seconds: a round trip per checkout is a tenth of an access's time, while a
    connection used a moment ago is alive. A failed ping makes the pool replace the connection
    (``DisconnectionError``). A database restarted within ``idle`` seconds of the last use fails
    that one statement; SQLAlchemy then renews the whole pool, and the step can be retried."""

    @event.listens_for(engine, "checkin")
    def _rested(dbapi_connection, record) -> None:
        record.info["rested_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection, record, proxy) -> None:
        rested = record.info.get("rested_at")
        if rested is None or time.monotonic() - rested < idle:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as error:  # the driver's own error, whatever the driver
            raise exc.DisconnectionError(str(error)) from error
