"""Fixtures: a migrated database per test (SQLite file copy, or a truncated PostgreSQL).

Set RIGHTSDESK_TEST_DATABASE_URL to run the suite on PostgreSQL (CI does); by default every
test gets its own SQLite file, copied from one migrated at the start of the session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, inspect, text

from rightsdesk import create_app
from rightsdesk.cli import main
from rightsdesk.demo.shop import create_demo_shop
from rightsdesk.extensions import db

PG_URL = os.environ.get("RIGHTSDESK_TEST_DATABASE_URL")
# The commands the tests start must not read a demo's instance/rightsdesk.env (make run).
os.environ["RIGHTSDESK_NO_SETTINGS_FILE"] = "1"


class CommandRunner(FlaskCliRunner):
    """Runs ``rightsdesk …`` against the test's app: the commands belong to the CLI's own group
    (``rightsdesk.cli.main``), not to ``app.cli``."""

    def invoke(self, cli=None, args=None, **kwargs):
        return super().invoke(cli or main, args, **kwargs)


def make_app(database_url: str, **config: object) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "MAIL_SUPPRESS_SEND": False,  # Flask-Mail would skip SMTP under TESTING
            **config,
        }
    )
    app.test_cli_runner_class = CommandRunner
    return app


def utc(text_value: str) -> datetime:
    """An aware datetime from ISO text; a bare time is taken as UTC."""
    value = datetime.fromisoformat(text_value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str | Path:
    if PG_URL:
        app = make_app(PG_URL)
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_template: str | Path, tmp_path: Path) -> str:
    if PG_URL:
        _truncate_all(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        return PG_URL
    target = tmp_path / "rightsdesk.db"
    shutil.copy(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(database_url: str, smtp_port: int, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(
        database_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_TIMEOUT=5,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        BASE_URL="http://rightsdesk.test",
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context, for calling services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


# --- a real SMTP server on loopback ---------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return free_port()


class SmtpServer:
    """aiosmtpd on 127.0.0.1: what the outbox sends arrives here, parsed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list = []
        self.envelopes: list = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        import email
        import email.policy

        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[SmtpServer]:
    server = SmtpServer(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _close_operator_engines():
    """Each test's shop database is its own file: close the pooled connections to it after."""
    yield
    from rightsdesk.systems.connect import dispose_shared

    dispose_shared()


# --- the demo shop: the operator's own database, as the demo data map describes it ------------

DEMO_MAP = Path(__file__).resolve().parent.parent / "rightsdesk" / "demo" / "demo_datamap.toml"


@pytest.fixture
def shop(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create_demo_shop(url, users=30)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
    return url


@pytest.fixture
def mapped_app(database_url, smtp_port, tmp_path, shop):
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
