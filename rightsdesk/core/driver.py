"""The database driver under SQLAlchemy, where the hot paths use it directly: its cursor (with
SQLAlchemy's errors) and a connection check only after a connection rested.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
        self.cursor = _reused_cursor(connection)

    def execute(self, sql: str, params: Any = None):
        try:
            if params is None:
                self.cursor.execute(sql)
            else:
                self.cursor.execute(sql, params)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql, params) from error
        return self

    def executemany(self, sql: str, rows: Sequence, *, returning: bool = False) -> None:
        """``returning`` (psycopg): keep each execution's rows, for :meth:`returned`."""
        try:
            if returning:
                self.cursor.executemany(sql, rows, returning=True)
            else:
                self.cursor.executemany(sql, rows)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql, rows) from error

    def returned(self) -> list[tuple]:
        """Every row an ``executemany(…, returning=True)`` returned, in order."""
        rows: list[tuple] = []
        while True:
            rows += [tuple(row) for row in self.cursor.fetchall()]
            if not self.cursor.nextset():
                return rows

    def _translated(self, error: Exception, sql: str, params: Any) -> exc.DBAPIError:
        dialect = self.connection.dialect
        raw = self.connection.connection.dbapi_connection
        lost = dialect.is_disconnect(error, raw, self.cursor)
        if lost:
            self.connection.invalidate(error)
        return exc.DBAPIError.instance(
            sql, params, error, dialect.loaded_dbapi.Error,
            connection_invalidated=lost, dialect=dialect,
        )

    def fetchone(self):
        return self.cursor.fetchone()

    def fetchall(self):
        return self.cursor.fetchall()

    @property
    def description(self):
        return self.cursor.description

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount


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
