"""``rightsdesk bench campaign``: a notice campaign to many users through a local SMTP sink."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
import psycopg
from sqlalchemy.engine import URL

from rightsdesk.bench.common import (
    ADMIN_URL,
    BENCH,
    BenchError,
    admin_url,
    app_context,
    bench_app,
    bench_group,
    conninfo,
    free_port,
    peak_mb,
    scratch_database,
)

if TYPE_CHECKING:
    from flask import Flask


CAMPAIGN_MAP = """
[systems.shop]
kind = "sql"
url_env = "RIGHTSDESK_BENCH_SHOP_URL"

[systems.shop.tables.users]
identity = { email = "email" }
fields = { email = "contact" }
retention = "none"
erasure = "anonymise"
anonymise = ["email"]
"""


@bench_group.command("campaign")
@click.option(
    "--url",
    "--database-url",
    "database_url",
    default=ADMIN_URL,
    show_default=True,
    help="Admin connection to the PostgreSQL server; the bench creates its own databases there.",
)
@click.option("--users", default=1_000_000, show_default=True, type=click.IntRange(min=100))
@click.option(
    "--send", default=5000, show_default=True, type=click.IntRange(min=1), help="Sample sent."
)
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(min=100, max=10000))
@click.option("--keep", is_flag=True, help="Keep the bench databases afterwards.")
def campaign_command(database_url: str, users: int, send: int, batch: int, keep: bool) -> None:
    """Queue a notice campaign to a users table of --users rows; time the enqueue, the peak
    memory and the send rate against a local SMTP server (aiosmtpd in a subprocess)."""
    admin = admin_url(database_url)
    with scratch_database(admin, keep=keep) as url, scratch_database(admin, keep=keep) as shop:
        _load_users(shop, users)
        app = _campaign_app(url, shop)
        with app_context(app), _smtp_sink(app.config["MAIL_PORT"]):
            _bench_campaign(users=users, send=send, batch=batch)


def _load_users(shop: URL, users: int) -> None:
    started = time.perf_counter()
    with psycopg.connect(conninfo(shop), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, "
            "name varchar(100), created_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO users (id, email, name) SELECT g, "
            "CASE WHEN g %% 1000 = 0 THEN 'erased-' || g || '@erased.invalid' "
            "ELSE 'user' || g || '@example.com' END, '사용자 ' || g "
            "FROM generate_series(1, %s) AS g",
            (users,),
        )
        conn.execute("ANALYZE users")
    click.echo(f"users table: {users:,} rows in {time.perf_counter() - started:.1f} s")


def _campaign_app(url: URL, shop: URL) -> Flask:
    import os
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="rightsdesk-bench-"), "datamap.toml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(CAMPAIGN_MAP)
    os.environ["RIGHTSDESK_BENCH_SHOP_URL"] = shop.render_as_string(hide_password=False)
    app = bench_app(url)
    app.config.update(
        DATAMAP_FILE=path,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_TIMEOUT=10,
        MAIL_SERVER_CONFIGURED=True,
        DEMO=False,
    )
    app.extensions["mail"].server = "127.0.0.1"
    app.extensions["mail"].port = app.config["MAIL_PORT"]
    return app


@contextmanager
def _smtp_sink(port: int) -> Iterator[None]:
    """aiosmtpd accepting and discarding every message, in its own process."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int) -> None:
    """Until the local SMTP server accepts connections (5 s at most)."""
    import socket

    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError("the local SMTP server (aiosmtpd) did not start")


TEXTS = (
    {"ko": "[벤치] 개인정보 처리방침 변경 안내", "en": "[bench] policy change"},
    {"ko": "법령에 따른 고지입니다 (광고 아님).\n" * 20, "en": "A legal notice.\n" * 20},
    {"ko": "<p>법령에 따른 고지입니다.</p>" * 20, "en": "<p>A legal notice.</p>" * 20},
)


def _bench_campaign(*, users: int, send: int, batch: int) -> None:
    import flask_migrate

    flask_migrate.upgrade()
    before = peak_mb()
    _enqueue(users=users, batch=batch)
    _send(send)
    click.echo(
        f"peak memory (max RSS): {peak_mb():.0f} MB (process before the campaign: "
        f"{before:.0f} MB); target < 200 MB"
    )


def _enqueue(*, users: int, batch: int) -> None:
    """Start the campaign and read every recipient from the users table, batch by batch."""
    from rightsdesk.extensions import db
    from rightsdesk.models import NoticeCampaign

    started = time.perf_counter()
    campaign_id = _start_campaign()
    batches = _read_batches(campaign_id, batch)
    enqueue = time.perf_counter() - started
    db.session.expire_all()
    campaign = db.session.get(NoticeCampaign, campaign_id)
    click.echo(
        f"enqueued {campaign.queued:,} recipients of {users:,} users "
        f"({users - campaign.queued:,} erased placeholders skipped) in {enqueue:.1f} s "
        f"({campaign.queued / enqueue:,.0f}/s, {batches + 1} batches of {batch})"
    )


def _start_campaign() -> int:
    from rightsdesk.extensions import db
    from rightsdesk.policy import campaigns

    campaign = campaigns.start_campaign(
        purpose="policy_change",
        texts=campaigns.Texts(*TEXTS),
        source=campaigns.IdentitySource("shop", "users", "email"),
        actor=BENCH,
        now=datetime.now(UTC),
        rate_per_minute=10_000_000,  # unthrottled: the sustained rate is what SMTP allows
    )
    db.session.commit()
    return campaign.id


def _read_batches(campaign_id: int, batch: int) -> int:
    """Read the recipients until none are left; how many batches had some."""
    from rightsdesk.policy import campaigns
    from rightsdesk.systems.configured import configured_datamap, system_engine

    batches = 0
    with system_engine(configured_datamap().system("shop")) as engine:
        while campaigns.read_batch(campaign_id, engine, batch=batch) is not None:
            batches += 1
    return batches


def _send(send: int) -> None:
    """Send ``send`` messages to the local SMTP server, as fast as it takes them."""
    from rightsdesk.policy import campaigns

    sent, started = 0, time.perf_counter()
    while sent < send:
        report = campaigns.send_due(now=datetime.now(UTC), batch=min(200, send - sent))
        if report.errors:
            raise BenchError(report.errors[0])
        sent += report.sent
    elapsed = time.perf_counter() - started
    click.echo(
        f"sent {sent:,} messages over SMTP in {elapsed:.1f} s: {sent / elapsed:,.0f}/s "
        f"sustained ({sent / elapsed * 60:,.0f}/min)"
    )
