"""Fixtures: a migrated database per test (SQLite file copy, or a truncated PostgreSQL).

Set RIGHTSDESK_TEST_DATABASE_URL to run the suite on PostgreSQL (CI does); by default every
test gets its own SQLite file, copied from one migrated at the start of the session. What the
fixtures are built from (and what test modules share) is in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask

from rightsdesk.demo.shop import create_demo_shop
from rightsdesk.extensions import db
from tests.helpers import (
    DEMO_MAP,
    PG_URL,
    SmtpServer,
    close_open_apps,
    free_port,
    make_app,
    shop_database,
    truncate_all,
)

# The commands the tests start must not read a demo's instance/rightsdesk.env (make run).
os.environ["RIGHTSDESK_NO_SETTINGS_FILE"] = "1"


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


@pytest.fixture
def database_url(migrated_template: str | Path, tmp_path: Path) -> str:
    if PG_URL:
        truncate_all(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
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


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return free_port()


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


@pytest.fixture
def empty_shop_url(tmp_path) -> Iterator[str]:
    """An empty database for the demo shop: a PostgreSQL schema when the suite runs on
    PostgreSQL, else a SQLite file."""
    with shop_database(tmp_path, "retention_shop") as url:
        yield url


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


SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Where the browser tests left their screenshots and axe figures, for a reviewer."""
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        count = len(list(SCREENSHOTS.glob("*.png")))
        terminalreporter.write_line(
            f"screenshots: {count} in {SCREENSHOTS} (axe-core figures: axe-*.txt beside them)"
        )


@pytest.fixture(autouse=True)
def _close_open_apps() -> Iterator[None]:
    """Apps a test made with ``app_closed_after_test`` lose their connections after it."""
    yield
    close_open_apps()
