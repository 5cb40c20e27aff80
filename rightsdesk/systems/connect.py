"""Engines for the databases of the systems the data map names (never rightsdesk's own)."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from rightsdesk.core.driver import ping_when_idle


def sql_url(url: str) -> str:
    """A bare ``postgresql://`` URL would make SQLAlchemy look for psycopg2; we ship psycopg 3."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def engine_for(url: str) -> Engine:
    """A new engine for ``url``; raises ``sqlalchemy.exc.ArgumentError`` if it is malformed."""
    return create_engine(sql_url(url))


_SHARED: dict[str, Engine] = {}
_LOCK = threading.Lock()


def shared_engine(url: str) -> Engine:
    """One pooled engine per URL for the life of the process, so each fulfilment step does not
    pay for a new connection and an empty statement cache. A connection that rested in the
    pool is pinged first (:func:`ping_when_idle`), so one the database dropped (a restart) is
    replaced instead of failing the next step."""
    with _LOCK:
        engine = _SHARED.get(url)
        if engine is None:
            engine = create_engine(sql_url(url))
            ping_when_idle(engine)
            _SHARED[url] = engine
        return engine


def dispose_shared() -> None:
    """Close every pooled connection (tests, and before a fork)."""
    with _LOCK:
        for engine in _SHARED.values():
            engine.dispose()
        _SHARED.clear()


def checkpoint(engine: Engine) -> None:
    """On SQLite in WAL mode, copy the committed pages back into the database file now, so the
    pages that held destroyed rows are overwritten (with secure_delete, zeroed) at once rather
    than at some later checkpoint (영 §16: destroyed so it cannot be restored)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
