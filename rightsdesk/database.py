"""Database set-up: the engine options each backend needs to keep requests safe."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from rightsdesk.extensions import db
from rightsdesk.models import UTCDateTime
from rightsdesk.systems.connect import ping_when_idle


def init_database(app: Flask) -> None:
    db.init_app(app)
    if "pool_pre_ping" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]:
        with app.app_context():  # creates the engine object only: nothing connects yet
            ping_when_idle(db.engine)


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
