"""What ``rightsdesk bench fulfilment`` does per subject: the bare floor (hand-written SQL on the
bare driver, one connection), and rightsdesk's own services (the requests, the data map, the
app). The equal-work floor (``equal_work``) and the workers (``concurrent``) build on both.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import psycopg
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rightsdesk.bench.common import BENCH, BenchError, conninfo

if TYPE_CHECKING:
    from flask import Flask

    from rightsdesk.domain.retention import Schedule

# What the floor keeps, hand-written for the demo schema: table -> (retention, start column).
KEPT = {
    "orders": ("contract", "created_at"),
    "payments": ("payment", "created_at"),
    "access_logs": ("access_log", "at"),
    "support_tickets": ("complaint", "created_at"),
}

def shop_engine(url: str):
    from rightsdesk.systems.connect import engine_for

    return engine_for(url)



def sqlite_connection(url: str) -> sqlite3.Connection:
    conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    return conn


def reason(error: Exception) -> str:
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0]



# --- the floor: hand-written SQL on the bare driver --------------------------------------------


class Floor:
    """One connection to a shop database; ``%s`` placeholders whatever the driver."""

    def __init__(self, url: str) -> None:
        self.sqlite = make_url(url).get_backend_name() == "sqlite"
        if self.sqlite:
            self.conn: Any = sqlite_connection(url)
            self.conn.execute("PRAGMA secure_delete = ON")  # as rightsdesk's erasure does
        else:
            self.conn = psycopg.connect(conninfo(make_url(url)), autocommit=True)
        self.cursor = self.conn.cursor()

    def close(self) -> None:
        self.conn.close()

    def run(self, sql: str, params: tuple | list = ()) -> Any:
        if self.sqlite:
            sql = sql.replace("%s", "?")
        self.cursor.execute(sql, params)
        return self.cursor

    def rows(self, sql: str, params: tuple | list = ()) -> list[dict]:
        cursor = self.run(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def begin(self) -> None:
        self.run("BEGIN")

    def end(self, *, commit: bool) -> None:
        self.run("COMMIT" if commit else "ROLLBACK")

    def select_subject(self, email: str) -> dict[str, list[dict]]:
        """Every row of the subject: the SELECTs a person would write for the demo schema."""
        found = {"users": self.rows("SELECT * FROM users WHERE email = %s", (email,))}
        user_ids = [u["id"] for u in found["users"]]
        marks = ", ".join(["%s"] * len(user_ids))
        for table in ("orders", "access_logs", "support_tickets", "marketing_consents"):
            found[table] = (
                self.rows(f"SELECT * FROM {table} WHERE user_id IN ({marks})", user_ids)
                if user_ids
                else []
            )
        order_ids = [o["id"] for o in found["orders"]]
        marks = ", ".join(["%s"] * len(order_ids))
        found["payments"] = (
            self.rows(f"SELECT * FROM payments WHERE order_id IN ({marks})", order_ids)
            if order_ids
            else []
        )
        return found


def floor_access(floor: Floor, email: str) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    found = floor.select_subject(email)
    elapsed = time.perf_counter() - started
    return elapsed * 1000, {table: len(rows) for table, rows in found.items()}


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def floor_erasure(
    floor: Floor, email: str, schedule: Schedule, today: date
) -> tuple[float, dict[str, int]]:
    """The bare floor: select, keep what a statute keeps (plain, in the shop), delete and
    anonymise in one transaction, timed before it is rolled back (the equal-work floor then
    erases the same rows for real)."""
    started = time.perf_counter()
    floor.begin()
    found = floor.select_subject(email)
    kept = kept_rows(found, schedule, today)
    store_kept(floor, kept)
    counts = erase_shop(floor, found)
    elapsed = time.perf_counter() - started
    floor.end(commit=False)
    return elapsed * 1000, counts | {"kept": len(kept)}


def erase_shop(floor: Floor, found: dict[str, list[dict]]) -> dict[str, int]:
    """The set-based DELETEs and UPDATEs of the subject's rows: what was deleted, anonymised."""
    deleted = _delete_payments(floor, found)
    anonymised = 0
    for user_id in [u["id"] for u in found["users"]]:
        user_deleted, user_anonymised = _erase_user(floor, user_id)
        deleted += user_deleted
        anonymised += user_anonymised
    return {"deleted": deleted, "anonymised": anonymised}


def kept_rows(found: dict[str, list[dict]], schedule: Schedule, today: date) -> list[tuple]:
    """The subject's rows a statute keeps, as rows of ``bench_retained``."""
    kept = []
    for table, (retention, column) in KEPT.items():
        rule = schedule.rule(retention)
        for row in found[table]:
            until = rule.until(_day(row[column]))
            if rule.keeps and until >= today:
                kept.append((table, str(row["id"]), json.dumps(row, default=str), until))
    return kept


def store_kept(floor: Floor, kept: list[tuple]) -> None:
    if kept:
        floor.cursor.executemany(
            "INSERT INTO bench_retained (table_name, row_key, data, purge_after)"
            + (" VALUES (?, ?, ?, ?)" if floor.sqlite else " VALUES (%s, %s, %s, %s)"),
            kept,
        )


def _delete_payments(floor: Floor, found: dict[str, list[dict]]) -> int:
    payment_ids = [p["id"] for p in found["payments"]]
    if not payment_ids:
        return 0
    marks = ", ".join(["%s"] * len(payment_ids))
    return floor.run(f"DELETE FROM payments WHERE id IN ({marks})", payment_ids).rowcount


def _erase_user(floor: Floor, user_id: Any) -> tuple[int, int]:
    """Delete the user's logs, tickets and consents, then overwrite the address of each of its
    orders and its own personal data: (rows deleted, rows anonymised)."""
    deleted = anonymised = 0
    for table in ("access_logs", "support_tickets", "marketing_consents"):
        deleted += floor.run(f"DELETE FROM {table} WHERE user_id = %s", (user_id,)).rowcount
    anonymised += floor.run(
        "UPDATE orders SET address = %s WHERE user_id = %s",
        (f"erased-{secrets.token_hex(8)}", user_id),
    ).rowcount
    token = secrets.token_hex(8)
    anonymised += floor.run(
        "UPDATE users SET email = %s, name = %s, phone = NULL, birth_date = NULL WHERE id = %s",
        (f"erased-{token}@erased.invalid", f"erased-{token}", user_id),
    ).rowcount
    return deleted, anonymised


RETAINED_SQL = (
    "CREATE {temp}TABLE bench_retained (id {serial}, table_name VARCHAR(64) NOT NULL,"
    " row_key VARCHAR(255) NOT NULL, data TEXT NOT NULL, purge_after DATE NOT NULL)"
)


def create_retained_table(floor: Floor, *, temporary: bool) -> None:
    """Where the floor stores the rows it keeps (like rightsdesk's separated storage)."""
    serial = "INTEGER PRIMARY KEY" if floor.sqlite else "SERIAL PRIMARY KEY"
    floor.run(RETAINED_SQL.format(temp="TEMPORARY " if temporary else "", serial=serial))


# --- rightsdesk's own side ---------------------------------------------------------------------


def bench_datamap(path: Path) -> None:
    """The demo data map with its SQL systems only (webhook and manual ones have no floor)."""
    from rightsdesk.demo.shop import demo_datamap_text
    from rightsdesk.domain.datamap import SystemKind, check_structure, load_datamap

    source = demo_datamap_text()
    dropped = {s.name for s in load_datamap(source, "demo").systems if s.kind != SystemKind.SQL}
    lines, skipping = [], False
    for line in source.splitlines():
        header = re.match(r"^\[\[?([^\]]+)\]\]?\s*$", line)
        if header:
            parts = header.group(1).split(".")
            skipping = parts[0] == "systems" and len(parts) > 1 and parts[1] in dropped
        if not skipping:
            lines.append(line)
    trimmed = "\n".join(lines) + "\n"
    datamap = load_datamap(trimmed, "bench")
    if check_structure(datamap) or any(s.kind != SystemKind.SQL for s in datamap.systems):
        raise BenchError("could not derive the bench's data map from the demo data map")
    path.write_text(trimmed, encoding="utf-8")


def own_database(value: str | None, workdir: Path) -> str:
    if not value:
        return f"sqlite:///{workdir / 'rightsdesk.db'}"
    from rightsdesk.systems.connect import sql_url

    try:
        url = sql_url(value)
        engine = shop_engine(url)
    except ArgumentError:
        raise BenchError(f"malformed --database-url {value!r}") from None
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except SQLAlchemyError as error:
        raise BenchError(f"cannot reach --database-url: {reason(error)}") from None
    finally:
        engine.dispose()
    if tables:
        raise BenchError(
            "--database-url must name an empty database (the bench migrates it and writes "
            f"requests, audit events and kept rows into it); it has {len(tables)} tables"
        )
    return url


def make_bench_app(database_url: str, workdir: Path, datamap: Path) -> Flask:
    from rightsdesk.app import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(16),
            "DATAMAP_FILE": str(datamap),
            "UPLOAD_DIR": str(workdir / "uploads"),
            "MAIL_SUPPRESS_SEND": True,
        }
    )
    configured = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if configured.database != make_url(database_url).database:
        raise BenchError(
            f"refusing to run: the app's database is {configured.database!r}, not the "
            "bench's own (unset RIGHTSDESK_SQLALCHEMY_DATABASE_URI)"
        )
    return app


@dataclass
class Subject:
    email: str
    access_ref: str
    deletion_ref: str


def make_requests(emails: list[str]) -> list[Subject]:
    from rightsdesk.domain.kinds import RequestKind
    from rightsdesk.domain.lifecycle import Status
    from rightsdesk.extensions import db
    from rightsdesk.models import Channel
    from rightsdesk.requests.lifecycle import change_status, submit_request

    subjects = []
    for email in emails:
        refs = []
        for kind in (RequestKind.ACCESS, RequestKind.DELETION):
            now = datetime.now(UTC)
            request = submit_request(
                kind=kind, email=email, name=None, channel=Channel.STAFF, now=now, actor=BENCH
            )
            change_status(request, Status.VERIFIED, actor=BENCH, now=now)
            refs.append(request.reference)
        subjects.append(Subject(email, refs[0], refs[1]))
    db.session.remove()
    return subjects


def _request(reference: str):
    from rightsdesk.requests.lookup import by_reference

    return by_reference(reference)


def ours_access(subject: Subject) -> tuple[float, dict[str, int]]:
    """The fulfilment-level part: collect over the data map and build the ZIP."""
    from rightsdesk.extensions import db
    from rightsdesk.fulfilment.access import collect
    from rightsdesk.systems.collect import build_package
    from rightsdesk.systems.configured import configured_datamap

    request = _request(subject.access_ref)
    started = time.perf_counter()
    datamap = configured_datamap()
    collection = collect(datamap, request)
    build_package(
        collection,
        datamap,
        reference=request.reference,
        organisation="",
        generated=datetime.now(UTC),
    )
    elapsed = time.perf_counter() - started
    db.session.remove()
    return elapsed * 1000, {k.split(".", 1)[1]: v for k, v in collection.counts().items()}


def ours_access_service(subject: Subject, *, keep_session: bool = False) -> float:
    """The access service for the subject's request (loaded first, not timed here).
    ``keep_session``: as a worker going through its queue in one session does."""
    from rightsdesk.extensions import db
    from rightsdesk.fulfilment.access import prepare_access_package

    request = _request(subject.access_ref)
    started = time.perf_counter()
    prepare_access_package(request, actor=BENCH, now=datetime.now(UTC))
    elapsed = time.perf_counter() - started
    if not keep_session:
        db.session.remove()
    return elapsed * 1000


def ours_erasure(subject: Subject, *, keep_session: bool = False) -> tuple[float, dict[str, int]]:
    from rightsdesk.extensions import db
    from rightsdesk.fulfilment import erasure

    request = _request(subject.deletion_ref)
    started = time.perf_counter()
    steps = erasure.run(request, actor=BENCH, now=datetime.now(UTC))
    elapsed = time.perf_counter() - started
    failed = [f"{s.table_name}: {s.error}" for s in steps if s.state != "done"]
    if failed:
        raise click.ClickException(f"erasure of a subject failed: {'; '.join(failed)}")
    counts = {
        "deleted": sum(s.deleted for s in steps),
        "anonymised": sum(s.anonymised for s in steps),
        "kept": sum(s.retained for s in steps),
    }
    if not keep_session:
        db.session.remove()
    return elapsed * 1000, counts


