"""The equal-work floor of ``rightsdesk bench fulfilment``: hand-written SQL through the bare
driver, one connection per database, doing what rightsdesk must durably do and nothing more.

* **access**: the SELECTs of the subject's rows (the bare floor's), a ZIP of JSON and CSV per
  table and a summary page, the package encrypted (Fernet) into a new file, then in rightsdesk's
  own database one hash-chained audit event and the offer record, in one commit;
* **erasure**: the SELECTs, the rows a statute keeps copied encrypted into separated storage and
  committed before anything is destroyed, the set-based DELETEs and UPDATEs in the shop in one
  transaction, then one commit recording the outcome (a row per table) with its audit event.

Its tables in rightsdesk's own database are copies of rightsdesk's own (columns, unique keys and
indexes; no foreign keys), named ``bench_floor_…``, dropped at the end.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet
from sqlalchemy import Column, Index, MetaData, UniqueConstraint, create_engine
from sqlalchemy import Table as SqlTable

if TYPE_CHECKING:
    from rightsdesk.bench.subjects import Floor
    from rightsdesk.domain.retention import Schedule

FLOOR_AUDIT_KEY = b"rightsdesk-bench-floor"  # the chain is an HMAC, as rightsdesk's is
PREFIX = "bench_floor_"


def _copy(metadata: MetaData, source: SqlTable) -> SqlTable:
    """``source`` under the floor's name: columns, unique keys and indexes, no foreign keys."""
    columns = [
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
               autoincrement=c.autoincrement)
        for c in source.columns
    ]
    uniques = [
        UniqueConstraint(*[c.name for c in u.columns])
        for u in source.constraints
        if isinstance(u, UniqueConstraint)
    ]
    table = SqlTable(PREFIX + source.name, metadata, *columns, *uniques)
    for index in source.indexes:
        Index(PREFIX + (index.name or "ix"), *[table.c[c.name] for c in index.columns])
    return table


def create_tables(own_url: str) -> None:
    """The floor's copies of the audit trail, downloads, separated storage and erasure steps in
    rightsdesk's own database, with the audit chain's head row."""
    from rightsdesk.models import AuditEvent, AuditHead, Download, ErasureStep, RetainedRecord

    metadata = MetaData()
    for model in (AuditEvent, AuditHead, Download, RetainedRecord, ErasureStep):
        _copy(metadata, model.__table__)
    engine = create_engine(own_url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO {PREFIX}audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')"
            )
    finally:
        engine.dispose()


def drop_tables(own_url: str) -> None:
    engine = create_engine(own_url)
    try:
        with engine.begin() as connection:
            for name in ("audit_events", "audit_head", "downloads", "retained_records",
                         "erasure_steps"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {PREFIX}{name}")
    finally:
        engine.dispose()


class Keys:
    """The floor's Fernet keys and where it writes its packages."""

    def __init__(self, directory: Path) -> None:
        self.package = Fernet(Fernet.generate_key())
        self.retained = Fernet(Fernet.generate_key())
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)


def _audit(own: Floor, action: str, reference: str, data: dict[str, Any]) -> None:
    """One hash-chained event, as rightsdesk appends it: lock and advance the head, insert the
    event, move the head (in the caller's transaction)."""
    seq, prev = own.run(
        f"UPDATE {PREFIX}audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"
    ).fetchone()
    at = datetime.now(UTC)
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"))
    body = json.dumps(
        [seq, at.isoformat(), "bench", action, reference, payload, prev], separators=(",", ":")
    )
    digest = hmac.new(FLOOR_AUDIT_KEY, body.encode(), hashlib.sha256).hexdigest()  # keyed
    own.run(
        f"INSERT INTO {PREFIX}audit_events (seq, at, actor, action, request_ref, data,"
        " prev_hash, hash, mac_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1)",
        (seq, _at(own, at), "bench", action, reference, payload, prev, digest),
    )
    own.run(f"UPDATE {PREFIX}audit_head SET hash = %s WHERE id = 1", (digest,))


def _at(own: Floor, value: datetime) -> object:
    return value.isoformat(sep=" ") if own.sqlite else value


def _package(found: dict[str, list[dict]], reference: str) -> bytes:
    """JSON and CSV per table and a summary page, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table, rows in found.items():
            archive.writestr(f"shop/{table}.json", json.dumps(rows, default=str))
            out = io.StringIO()
            if rows:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            archive.writestr(f"shop/{table}.csv", out.getvalue())
        summary = "".join(f"<tr><td>{t}</td><td>{len(r)}</td></tr>" for t, r in found.items())
        archive.writestr("summary.html", f"<h1>{reference}</h1><table>{summary}</table>")
    return buffer.getvalue()


def access(shop: Floor, own: Floor, keys: Keys, email: str, reference: str) -> float:
    """The equal-work access: milliseconds."""
    started = time.perf_counter()
    found = shop.select_subject(email)
    data = _package(found, reference)
    sealed = keys.package.encrypt(data)
    name = f"{secrets.token_hex(16)}.zip"
    fd = os.open(keys.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed)
    now = datetime.now(UTC)
    own.begin()
    _audit(own, "fulfilment.access", reference,
           {"tables": [{"table": t, "rows": len(r)} for t, r in found.items()]})
    own.run(
        f"INSERT INTO {PREFIX}downloads (request_id, file, filename, content_type, size, sha256,"
        " created_at, created_by, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (0, name, f"{reference}.zip", "application/zip", len(data),
         hashlib.sha256(data).hexdigest(), _at(own, now), "bench",
         _at(own, now + timedelta(days=7))),
    )
    own.end(commit=True)
    return (time.perf_counter() - started) * 1000


def erasure(
    shop: Floor,
    own: Floor,
    keys: Keys,
    email: str,
    reference: str,
    schedule: Schedule,
    today: date,
    *,
    commit: bool = True,
) -> tuple[float, dict[str, int]]:
    """The equal-work erasure: milliseconds, and the rows deleted, anonymised and kept."""
    from rightsdesk.bench.subjects import erase_shop, kept_rows

    started = time.perf_counter()
    found = shop.select_subject(email)
    kept = kept_rows(found, schedule, today)
    now = datetime.now(UTC)
    if kept:
        own.begin()
        own.cursor.executemany(
            f"INSERT INTO {PREFIX}retained_records (request_ref, system, table_name, row_key,"
            " category, basis, purge_after, ciphertext, stored_at)"
            + (" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" if own.sqlite
               else " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"),
            [(reference, "shop", table, key, "statute", "bench", until,
              keys.retained.encrypt(data.encode()), _at(own, now))
             for table, key, data, until in kept],
        )
        own.end(commit=True)
    shop.begin()
    counts = erase_shop(shop, found)
    shop.end(commit=commit)
    counts["kept"] = len(kept)
    own.begin()
    own.cursor.executemany(
        f"INSERT INTO {PREFIX}erasure_steps (request_id, position, system, table_name, kind,"
        " state, deleted, anonymised, retained, attempts)"
        + (" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" if own.sqlite
           else " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"),
        [(0, position, "shop", f"{reference}:{table}", "sql", "done", n, 0, 0, 1)
         for position, (table, n) in enumerate(sorted((t, len(r)) for t, r in found.items()))],
    )
    _audit(own, "fulfilment.erasure", reference, {"tables": counts})
    own.end(commit=True)
    return (time.perf_counter() - started) * 1000, counts
