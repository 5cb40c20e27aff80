"""What the benches share: the ``rightsdesk bench`` group, scratch PostgreSQL databases, apps
over them, percentiles, a free port and the process's peak memory.
"""

from __future__ import annotations

import math
import resource
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
import psycopg
from flask.cli import AppGroup
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from rightsdesk.core.actors import Actor

if TYPE_CHECKING:
    from flask import Flask


ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


bench_group = AppGroup(
    "bench",
    help="Benchmarks on a throwaway PostgreSQL database (never the app's own): "
    "figures and the ratio against the raw-SQL floor.",
)


class BenchError(click.ClickException):
    """Bad input or an unreachable server: one line on standard error, exit status 2."""

    exit_code = 2


def admin_url(value: str) -> URL:
    try:
        url = make_url(value)
    except ArgumentError:
        raise BenchError(f"malformed --database-url {value!r}; expected e.g. {ADMIN_URL}") from None
    if url.get_backend_name() != "postgresql":
        raise BenchError(
            f"--database-url must name a PostgreSQL server, not {url.get_backend_name()!r}; "
            f"e.g. {ADMIN_URL}"
        )
    return url


def conninfo(url: URL) -> str:
    """The SQLAlchemy URL as a libpq URI for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def server(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def admin_execute(admin: URL, sql: str) -> None:
    try:
        with psycopg.connect(conninfo(admin), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)
    except psycopg.OperationalError as error:
        reason = (str(error).strip().splitlines() or ["no reason given"])[0]
        raise BenchError(f"cannot reach PostgreSQL at {server(admin)}: {reason}") from None


@contextmanager
def scratch_database(admin: URL, *, keep: bool) -> Iterator[URL]:
    """A new, empty database on the admin URL's server, dropped afterwards unless ``keep``."""
    name = f"rightsdesk_bench_{secrets.token_hex(4)}"
    admin_execute(admin, f'CREATE DATABASE "{name}"')
    click.echo(f"created database {name} on {server(admin)}")
    url = admin.set(database=name)
    try:
        yield url
    finally:
        if keep:
            click.echo(f"kept database: {url.render_as_string(hide_password=True)}")
        else:
            _drop(admin, name)


def _drop(admin: URL, name: str) -> None:
    try:
        admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        click.echo(f"dropped database {name}")
    except (BenchError, psycopg.Error) as error:
        click.echo(f"warning: could not drop database {name}: {error}", err=True)


def bench_app(url: URL) -> Flask:
    """The app on the throwaway database; refuses if the configuration points elsewhere."""
    from rightsdesk.app import create_app

    app = create_app(
        {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "SECRET_KEY": secrets.token_hex(16),  # no instance/secret_key file is written
        }
    )
    configured = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if configured.database != url.database:
        raise BenchError(
            f"refusing to run: the app's database is {configured.database!r}, "
            f"not the bench's own {url.database!r} (unset RIGHTSDESK_SQLALCHEMY_DATABASE_URI)"
        )
    return app


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank: always a time that was measured, and defined for any number of runs."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def release(app: Flask) -> None:
    """Close every pooled connection, so the database can be dropped."""
    from rightsdesk.extensions import db

    db.session.remove()
    db.engine.dispose()


@contextmanager
def app_context(app: Flask) -> Iterator[None]:
    """An app context of the bench's app; every pooled connection is closed at its end."""
    with app.app_context():
        try:
            yield
        finally:
            release(app)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_mb() -> float:
    """The process's peak resident memory (max RSS) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


BENCH = Actor("bench")  # who the benches act as, in the audit trail
