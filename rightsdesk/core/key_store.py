"""What rightsdesk stores encrypted, checked and re-encrypted key by key.

``rightsdesk keys check`` tells, for each kind of key, how many stored items decrypt under
which configured key (by fingerprint) and names any that decrypt under none. ``rightsdesk keys
rotate`` re-encrypts under the current (first) key what is stored under an older one, in
batches by id, each batch committed: interrupted (even by kill -9) it leaves every item under
either key, both readable while both are configured, and a second run carries on where the
first stopped (items already under the current key are skipped). One rotation runs at a time
(a named lease, taken over from a holder on this host whose process is gone).
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update

from rightsdesk.core import audit, leases
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.core.keys import PACKAGE, RETAINED, KeyKind, fingerprint, keys_of
from rightsdesk.core.uploads import stored_path
from rightsdesk.extensions import db
from rightsdesk.models import ConnectorJob, Download, JobLock, RetainedRecord

LEASE_NAME = "keys.rotate"
LEASE_TTL = timedelta(minutes=2)


class RotationBusy(RuntimeError):
    """Another rotation holds the lease; the message names its holder."""


@dataclass(frozen=True)
class Store:
    """A place holding tokens of one key kind: read in batches by id, written back by id."""

    name: str
    kind: KeyKind
    read: Callable[[int, int], list[tuple[int, bytes]]]
    write: Callable[[int, bytes], None]


@dataclass
class Tally:
    """Per key kind: items seen, how many under each key (fingerprint), what none opens."""

    kind: str
    keys: list[str]
    total: int = 0
    by_key: Counter = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)
    rotated: int = 0

    @property
    def behind(self) -> int:
        """Items under a key other than the current one."""
        return self.total - self.by_key[self.keys[0]] - len(self.unreadable)


def _rows(column: Any, *where: Any) -> Callable[[int, int], list[tuple[int, bytes]]]:
    model = column.class_

    def read(after: int, size: int) -> list[tuple[int, bytes]]:
        query = select(model.id, column).where(model.id > after, column.is_not(None), *where)
        return [tuple(row) for row in db.session.execute(query.order_by(model.id).limit(size))]

    return read


def _set(column: Any) -> Callable[[int, bytes], None]:
    model = column.class_

    def write(row_id: int, token: bytes) -> None:
        db.session.execute(update(model).where(model.id == row_id).values({column.key: token}))

    return write


def _read_files(after: int, size: int) -> list[tuple[int, bytes]]:
    query = select(Download.id, Download.file).where(
        Download.id > after, Download.deleted_at.is_(None)
    )
    found = []
    for row_id, name in db.session.execute(query.order_by(Download.id).limit(size)):
        path = stored_path(name)
        found.append((row_id, path.read_bytes() if path else b""))  # b"": purged, skipped
    return found


def _write_file(row_id: int, token: bytes) -> None:
    """Replace the file whole (write a sibling, then rename): never half old, half new."""
    path = stored_path(db.session.get(Download, row_id).file)
    if path is None:
        return
    spare = path.with_name(f".{path.name}.rotating")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(token)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(spare, path)


def _column_store(name: str, kind: KeyKind, column: Any) -> Store:
    return Store(name, kind, _rows(column), _set(column))


STORES = (
    _column_store("retained_records", RETAINED, RetainedRecord.ciphertext),
    _column_store("connector_jobs", PACKAGE, ConnectorJob.result_ciphertext),
    Store("downloads", PACKAGE, _read_files, _write_file),
)


def _items(store: Store, batch: int) -> Iterator[list[tuple[int, bytes]]]:
    after = 0
    while rows := store.read(after, batch):
        yield [(row_id, token) for row_id, token in rows if token]
        after = rows[-1][0]


def _opening_key(token: bytes, keys: list[str]) -> str | None:
    for key in keys:
        try:
            Fernet(key.encode()).decrypt(token)
        except InvalidToken:
            continue
        return key
    return None


def check(kind: KeyKind, *, batch: int = 500) -> Tally:
    """Which key opens each stored item of ``kind``; none is changed."""
    tally = Tally(kind.name, keys_of(kind))
    for store in (s for s in STORES if s.kind is kind):
        for rows in _items(store, batch):
            for row_id, token in rows:
                tally.total += 1
                key = _opening_key(token, tally.keys)
                if key is None:
                    tally.unreadable.append(f"{store.name} {row_id}")
                else:
                    tally.by_key[key] += 1
        db.session.rollback()  # read only: end the transaction the reads opened
    return tally


def fingerprints(tally: Tally) -> list[tuple[str, int]]:
    """(fingerprint, count) per configured key, current first."""
    return [(fingerprint(key), tally.by_key[key]) for key in tally.keys]


def rotate(
    kind: KeyKind,
    *,
    actor: Actor,
    batch: int = 200,
    pause: float = 0.0,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Re-encrypt under the current key every item of ``kind`` stored under an older one;
    a batch at a time, each committed. Raises :class:`RotationBusy` if one runs already."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    _take_lease(holder)
    try:
        tally = _rotate_stores(kind, holder, batch, pause, progress)
        audit.record(
            "keys.rotated",
            actor=actor,
            now=utcnow(),
            data={
                "kind": kind.name,
                "rotated": tally.rotated,
                "total": tally.total,
                "unreadable": len(tally.unreadable),
                "key": fingerprint(tally.keys[0]),
            },
        )
        db.session.commit()
    finally:
        leases.release(LEASE_NAME, holder)
    return tally


def _rotate_stores(kind, holder, batch, pause, progress) -> Tally:
    keys = keys_of(kind)
    current, every = Fernet(keys[0].encode()), MultiFernet([Fernet(k.encode()) for k in keys])
    tally = Tally(kind.name, keys)
    for store in (s for s in STORES if s.kind is kind):
        for rows in _items(store, batch):
            for row_id, token in rows:
                _rotate_one(store, row_id, token, current, every, tally)
            db.session.commit()
            _renew(holder)
            if progress:
                progress(tally)
            time.sleep(pause)
    return tally


def _rotate_one(store, row_id, token, current: Fernet, every: MultiFernet, tally: Tally) -> None:
    tally.total += 1
    try:
        current.decrypt(token)
    except InvalidToken:
        pass
    else:
        tally.by_key[tally.keys[0]] += 1
        return
    try:
        store.write(row_id, every.rotate(token))
    except InvalidToken:
        tally.unreadable.append(f"{store.name} {row_id}")  # left as it is
        return
    tally.rotated += 1
    tally.by_key[tally.keys[0]] += 1


def _take_lease(holder: str) -> None:
    now = utcnow()
    if leases.acquire(LEASE_NAME, holder, now=now, ttl=LEASE_TTL):
        return
    lock = db.session.get(JobLock, LEASE_NAME)
    if lock is not None and _gone(lock.holder):
        db.session.execute(
            update(JobLock)
            .where(JobLock.name == LEASE_NAME, JobLock.holder == lock.holder)
            .values(holder=holder, lease_until=now + LEASE_TTL)
        )
        db.session.commit()
        return
    until = lock.lease_until.isoformat(timespec="seconds") if lock else "?"
    raise RotationBusy(
        f"a key rotation is running already ({lock.holder if lock else '?'}, lease until "
        f"{until}); wait for it to finish, or run again after that"
    )


def _gone(holder: str) -> bool:
    """A holder on this host whose process has ended (killed): its lease can be taken over."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _renew(holder: str) -> None:
    leases.acquire(LEASE_NAME, holder, now=utcnow(), ttl=LEASE_TTL)


def describe(tally: Tally) -> str:
    """One line: the items and which key opens how many (fingerprints, never keys)."""
    parts = [
        f"key {n} {fp}{' (current)' if n == 1 else ''}: {count}"
        for n, (fp, count) in enumerate(fingerprints(tally), start=1)
    ]
    line = f"{tally.kind}: {tally.total} stored item(s); " + ", ".join(parts)
    if tally.unreadable:
        line += f"; {len(tally.unreadable)} open(s) under no configured key"
    return line


