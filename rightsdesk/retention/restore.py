"""A dormant account comes back (seed 004: "요청 시 계정 재사용"): its separated row returns to
the live table, its last activity becomes now (so the next dormancy run does not separate it
again), and the separated copy is destroyed. Audited with counts, never the data.

The live row is still there (dormancy anonymises it in place), so restoring is an UPDATE by
primary key in one transaction of the operator's database; only once that committed is the
separated copy deleted. An account whose copy was destroyed after its keep period, or that
was never separated, has nothing to restore: that is said, and nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, MetaData, Table, delete, select
from sqlalchemy.exc import IntegrityError

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.domain.messages import N_, StaffMessageError
from rightsdesk.domain.retention import Dormancy
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import RetainedRecord
from rightsdesk.retention.dormancy import RULE
from rightsdesk.systems.configured import (
    FulfilmentError,
    configured_datamap,
    current_schedule,
    system_engine,
)


class RestoreError(StaffMessageError):
    """Nothing restored; the message says why."""


@dataclass(frozen=True)
class Restored:
    system: str
    table: str
    rows: int


def restore_account(email: str, *, actor: Actor, now: datetime) -> Restored:
    """Put the account of ``email`` back into the live table and destroy its separated copy."""
    policy = _policy()
    records = _records(email, policy)
    if not records:
        raise RestoreError(
            N_(
                "no separated copy of that account: it was never separated, or its copy was "
                "destroyed after the keep period; nothing was changed"
            )
        )
    system = configured_datamap().system(policy.system)
    try:
        with system_engine(system) as engine:
            table = Table(policy.table, MetaData(), autoload_with=engine)
            with engine.begin() as connection:
                for record in records:
                    connection.execute(_update(table, record, policy, now))
    except (IntegrityError, FulfilmentError):  # system_engine wraps the database's refusal
        raise RestoreError(
            N_(
                "the live table refused the restored values (is the address in use by "
                "another account now?); nothing was changed"
            )
        ) from None
    return _forget_copies(records, policy, actor=actor, now=now)


def has_separated_account(email: str | None) -> bool:
    """Whether dormancy keeps this address's account apart (False when dormancy is off)."""
    policy = current_schedule().dormancy
    if not email or policy is None or not policy.enabled:
        return False
    try:
        return bool(_records(email, policy))
    except RestoreError:
        return False


def _policy() -> Dormancy:
    policy = current_schedule().dormancy
    if policy is None or not policy.enabled:
        raise RestoreError(
            N_("dormancy is not turned on in the retention file: nothing to restore")
        )
    return policy


def _records(email: str, policy: Dormancy) -> list[RetainedRecord]:
    try:
        lookup = separated.lookup_hash(email)
    except ValueError:
        raise RestoreError(N_("%(email)s is not an e-mail address"), email=repr(email)) from None
    return list(
        db.session.scalars(
            select(RetainedRecord).where(
                RetainedRecord.lookup_hash == lookup,
                RetainedRecord.category == RULE,
                RetainedRecord.system == policy.system,
                RetainedRecord.table_name == policy.table,
            )
        )
    )


def _update(table: Table, record: RetainedRecord, policy: Dormancy, now: datetime):
    """The UPDATE that writes the kept values back by primary key, with activity now."""
    row = json.loads(separated.cipher().decrypt(record.ciphertext))
    keys = list(table.primary_key.columns)
    key_values = json.loads(record.row_key)
    values = {
        name: _typed(table.c[name], value)
        for name, value in row.items()
        if name in table.c and name not in {k.name for k in keys}
    }
    values[policy.last_active] = _typed(table.c[policy.last_active], now)
    statement = table.update().where(*(k == v for k, v in zip(keys, key_values, strict=True)))
    return statement.values(values)


def _typed(column: Column, value: object) -> object:
    """A value as kept (JSON: dates as ISO text) in the column's own Python type."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if isinstance(value, datetime) and kind is datetime:
        return value.replace(tzinfo=None) if not _aware(column) else value
    if isinstance(value, str) and kind is datetime:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=None) if not _aware(column) else parsed
    if isinstance(value, str) and kind is date:
        return date.fromisoformat(value)
    return value


def _aware(column: Column) -> bool:
    return bool(getattr(column.type, "timezone", False))


def _forget_copies(
    records: list[RetainedRecord], policy: Dormancy, *, actor: Actor, now: datetime
) -> Restored:
    ids = [r.id for r in records]
    db.session.execute(delete(RetainedRecord).where(RetainedRecord.id.in_(ids)))
    audit.record(
        "dormancy.restored",
        actor=actor,
        now=now,
        data={"system": policy.system, "table": policy.table, "rows": len(ids)},
    )
    db.session.commit()
    return Restored(policy.system, policy.table, len(ids))


def index_accounts(*, batch: int = 500) -> int:
    """(Re)compute the lookup hash of every dormancy record from the account's address inside
    the encrypted row — for records kept before accounts were indexed, or after the secret key
    changed — so access packages and restores find them; returns how many changed."""
    policy = _policy()
    sealer, done, after = separated.cipher(), 0, 0
    while True:
        records = list(
            db.session.scalars(
                select(RetainedRecord)
                .where(RetainedRecord.category == RULE, RetainedRecord.id > after)
                .order_by(RetainedRecord.id)
                .limit(batch)
            )
        )
        if not records:
            return done
        for record in records:
            address = json.loads(sealer.decrypt(record.ciphertext)).get(policy.email_column)
            if not isinstance(address, str) or "@" not in address:
                continue
            lookup = separated.lookup_hash(address)
            if record.lookup_hash != lookup:
                record.lookup_hash = lookup
                done += 1
        after = records[-1].id
        db.session.commit()


__all__ = ["FulfilmentError", "RestoreError", "Restored", "index_accounts", "restore_account"]
