"""Separated storage (분리 보관, PIPA §21③): rows a statute (or the operator's dormancy policy)
makes us keep, moved out of the live tables, encrypted, with their basis and purge date.

Erasure and dormancy both store through :func:`keep`; the retention jobs destroy what is past
its date (``purge-separated``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import bindparam, select, union

from rightsdesk.core.direct import AmongSelected, Direct
from rightsdesk.core.driver import cursor_of
from rightsdesk.core.keys import retained_cipher
from rightsdesk.domain.identity import normalise_email
from rightsdesk.extensions import db
from rightsdesk.models import Request, RetainedRecord
from rightsdesk.requests.host_apps import subject_hash_key


@dataclass(frozen=True)
class Kept:
    """One row to keep: its primary key (JSON), its values (JSON-ready), its last day, and
    (dormancy) the lookup hash of the account's e-mail."""

    key: str
    row: dict
    until: date
    lookup: str | None = None


@dataclass(frozen=True)
class Opened:
    """A separated row, decrypted: where it came from, why it is kept, until when."""

    system: str
    table: str
    category: str
    basis: str
    purge_after: date
    request_ref: str | None
    row: dict


def lookup_hash(email: str) -> str:
    """HMAC-SHA256 of the normalised address under a key derived from the subject-hash key
    (explicit in production, never rotated; not the retained-records key, which rotates, nor the
    secret key, which may), so separated rows are found by account without being read. Should
    that key change, ``rightsdesk dormancy index`` recomputes them."""
    key = hmac.new(subject_hash_key(), b"rightsdesk.separated-lookup", "sha256").digest()
    return hmac.new(key, normalise_email(email, strict=False).encode(), "sha256").hexdigest()


def cipher():
    return retained_cipher()


def keep(
    rows: Sequence[Kept],
    *,
    system: str,
    table: str,
    category: str,
    basis: str,
    request_ref: str | None,
    now: datetime,
) -> None:
    """Store each row once (a row kept already stays as first kept); in the caller's
    transaction, which must commit before the live rows change."""
    shared = {
        "request_ref": request_ref,
        "system": system,
        "table_name": table,
        "category": category,
        "basis": basis,
        "stored_at": now,
    }
    keep_all([(rows, shared)])


def keep_all(
    batches: Sequence[tuple[Sequence[Kept], dict[str, Any]]],
) -> list[tuple[str, date]] | None:
    """:func:`keep` for several tables at once: each batch is its rows and their shared fields
    (``request_ref``, ``system``, ``table_name``, ``category``, ``basis``, ``stored_at``).
    Returns the table and purge date of each row stored now (``None``: not known here)."""
    sealer = cipher()
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        values = [_sealed_values(k, sealer) | shared for rows, shared in batches for k in rows]
    if dialect == "postgresql":
        return _insert_new_rows(values) if values else []
    if dialect == "sqlite":
        # One statement; a key kept already is left as it is (the unique key).
        if not values:
            return []
        table = RetainedRecord.__table__
        statement = _insert_new(dialect).returning(table.c.table_name, table.c.purge_after)
        return [tuple(row) for row in db.session.execute(statement, values)]
    for rows, shared in batches:
        known = _kept_keys(shared["system"], shared["table_name"], rows) if rows else set()
        for kept in rows:
            if kept.key not in known:
                db.session.add(RetainedRecord(**_sealed_values(kept, sealer), **shared))
    return None


_COLUMNS = (
    "request_ref", "system", "table_name", "row_key", "category", "basis", "purge_after",
    "ciphertext", "stored_at", "lookup_hash",
)
# PostgreSQL: one row per execution of the same text (a prepared statement, pipelined by the
# driver's executemany): cheaper than one array per column (whose conversion is Python work per
# value) or a multi-row VALUES whose text changes with the count. Without RETURNING: the driver
# keeps no answer per row, and the sum of the rows inserted says whether every one was new.
_INSERT_ROW = (
    f"INSERT INTO retained_records ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (system, table_name, row_key) DO NOTHING"
)


def _insert_new_rows(values: list[dict[str, Any]]) -> list[tuple[str, date]] | None:
    """:func:`_insert_new` on PostgreSQL, in the session's transaction, on its driver's cursor:
    the table and purge date of each row, when all of them were stored now; ``None`` when some
    were kept before (which ones is not known here)."""
    cursor = cursor_of(db.session.connection())
    cursor.executemany(_INSERT_ROW, [tuple(row[name] for name in _COLUMNS) for row in values])
    if cursor.rowcount != len(values):
        return None
    return [(row["table_name"], row["purge_after"]) for row in values]


def _insert_new(dialect: str):
    """``INSERT … ON CONFLICT (system, table_name, row_key) DO NOTHING`` on this dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = RetainedRecord.__table__
    return insert(table).on_conflict_do_nothing(
        index_elements=[table.c.system, table.c.table_name, table.c.row_key]
    )


def _kept_keys(system: str, table: str, rows: Sequence[Kept]) -> set[str]:
    """The keys among ``rows`` that this table has in separated storage already."""
    return set(
        db.session.scalars(
            select(RetainedRecord.row_key).where(
                RetainedRecord.system == system,
                RetainedRecord.table_name == table,
                RetainedRecord.row_key.in_([r.key for r in rows]),
            )
        )
    )


def _sealed_values(kept: Kept, sealer: MultiFernet) -> dict[str, Any]:
    """The row's own columns: its key, purge date, values encrypted, and (dormancy) the
    lookup hash of the account's address."""
    data = json.dumps(kept.row, ensure_ascii=False).encode()
    return {
        "row_key": kept.key,
        "purge_after": kept.until,
        "ciphertext": sealer.encrypt(data),
        "lookup_hash": kept.lookup,
    }


def of_subject_later(subject_id: int, email: str | None) -> Callable[[], list[Opened]]:
    """The subject's separated rows, kept by their requests' erasures or (dormancy) by their
    account's address ``email``, decrypted: one statement, no objects, as every access asks.
    It is sent now (in a pipeline, its answer arrives while the caller reads elsewhere); the
    rows are read and decrypted when the result is called."""
    if email:
        answer = _SUBJECTS_OR_ACCOUNTS.send({"subject": subject_id, "lookup": lookup_hash(email)})
    else:
        answer = _SUBJECTS.send({"subject": subject_id})
    return lambda: _opened_rows(answer.all())


def _opened_rows(rows: list[tuple]) -> list[Opened]:
    """Rows of (system, table, category, basis, purge_after, request_ref, ciphertext),
    decrypted."""
    if not rows:
        return []
    sealer = cipher()
    return [
        Opened(
            system=system,
            table=table,
            category=category,
            basis=basis,
            purge_after=purge_after,
            request_ref=request_ref,
            row=json.loads(sealer.decrypt(ciphertext)),
        )
        for system, table, category, basis, purge_after, request_ref, ciphertext in rows
    ]


def _of_subject(*, by_account: bool):
    """The subject's separated rows: kept by their requests' erasures or, ``by_account``, by
    the dormancy of their account. The two ways are found apart, by their own indexes, and
    joined by id: written as one condition with OR, PostgreSQL read the whole table for every
    access (5 ms at 24,000 kept rows, growing with every erasure); and the requests' references
    are an index condition (:class:`AmongSelected`), not a join planned on statistics."""
    t = RetainedRecord.__table__
    references = select(Request.reference).where(Request.subject_id == bindparam("subject"))
    if by_account:
        by_request, by_lookup = t.alias("by_request"), t.alias("by_lookup")
        kept = union(
            select(by_request.c.id).where(AmongSelected(by_request.c.request_ref, references)),
            select(by_lookup.c.id).where(by_lookup.c.lookup_hash == bindparam("lookup")),
        )
        condition = AmongSelected(t.c.id, kept)
    else:
        condition = AmongSelected(t.c.request_ref, references)
    columns = (t.c.system, t.c.table_name, t.c.category, t.c.basis, t.c.purge_after)
    return (
        select(*columns, t.c.request_ref, t.c.ciphertext)
        .where(condition)
        .order_by(t.c.system, t.c.table_name, t.c.id)
    )


_SUBJECTS = Direct(_of_subject(by_account=False))
_SUBJECTS_OR_ACCOUNTS = Direct(_of_subject(by_account=True))
