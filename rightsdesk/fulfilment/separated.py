"""Separated storage (분리 보관, PIPA §21③): rows a statute (or the operator's dormancy policy)
makes us keep, moved out of the live tables, encrypted, with their basis and purge date.

Erasure and dormancy both store through :func:`keep`; the retention jobs destroy what is past
its date (``purge-separated``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import select

from rightsdesk.core.keys import retained_cipher
from rightsdesk.extensions import db
from rightsdesk.models import RetainedRecord


@dataclass(frozen=True)
class Kept:
    """One row to keep: its primary key (JSON), its values (JSON-ready), its last day."""

    key: str
    row: dict
    until: date


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
    if not rows:
        return
    known = _kept_keys(system, table, rows)
    sealer = cipher()
    shared = {
        "request_ref": request_ref,
        "system": system,
        "table_name": table,
        "category": category,
        "basis": basis,
        "stored_at": now,
    }
    for kept in rows:
        if kept.key not in known:
            db.session.add(_sealed(kept, sealer, shared))


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


def _sealed(kept: Kept, sealer: MultiFernet, shared: dict[str, Any]) -> RetainedRecord:
    """The row as a record, its values encrypted; ``shared`` holds the fields of the batch."""
    data = json.dumps(kept.row, ensure_ascii=False).encode()
    return RetainedRecord(
        row_key=kept.key,
        purge_after=kept.until,
        ciphertext=sealer.encrypt(data),
        **shared,
    )
