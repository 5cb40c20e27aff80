"""Database set-up: the engine options each backend needs to keep requests safe."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from rightsdesk.extensions import db
from rightsdesk.models import UTCDateTime


def init_database(app: Flask) -> None:
    """The extension. (The app factory adds the connection check for connections that rested,
    ``core.driver.ping_when_idle``, unless ``pool_pre_ping`` is configured.)"""
    db.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys on, WAL so readers never block the writer, and a patient busy timeout."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def render_item(type_: str, obj: object, autogen_context) -> str | bool:
    """Write our column types into migrations as plain SQLAlchemy types."""

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
