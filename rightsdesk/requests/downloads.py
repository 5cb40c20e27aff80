"""Files for the subject: the copy an access request asked for, offered on the status page.

Staff (or the fulfilment jobs) offer a file; it is encrypted at rest (Fernet, under
``RIGHTSDESK_PACKAGE_KEY``, by default derived from the secret key), kept outside the web root
under a random name, offered until it expires (30 days by default), and every download is
audited. The completion notice lists what is waiting.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import filetype
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import bindparam, insert
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.core import audit
from rightsdesk.core.actors import SUBJECT, Actor
from rightsdesk.core.direct import Direct
from rightsdesk.core.driver import pipelined
from rightsdesk.core.keys import package_cipher
from rightsdesk.core.uploads import delete_upload, new_stored_name, stored_path, write_stored
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.domain.messages import N_, StaffMessageError
from rightsdesk.extensions import db
from rightsdesk.models import Download, Request

BINARY_TYPES = {
    "application/pdf": "pdf",
    "application/zip": "zip",
    "image/png": "png",
    "image/jpeg": "jpg",
}


TEXT_EXTENSIONS = {".csv": "text/csv", ".json": "application/json", ".txt": "text/plain"}


class DownloadRejected(StaffMessageError):
    """A file that cannot be offered to the subject; the message says why."""


def _kind_of(data: bytes, filename: str) -> tuple[str, str]:
    """(content type, extension) judged by content; UTF-8 text only as CSV, JSON or TXT."""
    _check_size(data)
    guessed = filetype.guess(data)
    if guessed is not None and guessed.mime in BINARY_TYPES:
        return guessed.mime, BINARY_TYPES[guessed.mime]
    suffix = Path(filename).suffix.lower()
    if guessed is None and suffix in TEXT_EXTENSIONS:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise DownloadRejected(N_("a text file must be UTF-8")) from None
        return TEXT_EXTENSIONS[suffix], suffix.lstrip(".")
    raise DownloadRejected(N_("offer a PDF, ZIP, PNG, JPEG, or a UTF-8 CSV, JSON or TXT file"))


def _sized(data: bytes, kind: tuple[str, str]) -> tuple[str, str]:
    """``kind``, for a file the caller made, once it is within the size limit."""
    _check_size(data)
    return kind


def _check_size(data: bytes) -> None:
    if not data:
        raise DownloadRejected(N_("the file is empty"))
    if len(data) > int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024:
        raise DownloadRejected(
            N_("the file is larger than %(size)s MB"), size=current_app.config["MAX_UPLOAD_MB"]
        )


def safe_filename(filename: str, reference: str, extension: str) -> str:
    """The name the subject sees: the given one's stem without path or control characters."""
    stem = Path(filename.replace("\\", "/")).stem
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '/\\:*?"<>|')[:80]
    return f"{stem or reference}.{extension}"


def offer(
    request: Request,
    data: bytes,
    filename: str,
    *,
    actor: Actor,
    now: datetime,
    ttl_days: int | None = None,
    action: str = "request.download_offered",
    details: dict | None = None,
    kind: tuple[str, str] | None = None,
) -> Download:
    """Offer ``data`` to the subject until it expires: stored encrypted, audited, one commit.

    ``action`` and ``details`` let a caller that made the file (the access package) record
    what it did and the offer as one event; ``kind`` (content type, extension) when the caller
    made the file itself (the access package: a ZIP), so its content need not be sniffed."""
    if request.status not in OPEN:
        raise DownloadRejected(
            N_("%(reference)s is closed: offer files before completing it"),
            reference=request.reference,
        )
    download = _download_row(
        request, data, filename, actor=actor, now=now, ttl_days=ttl_days, kind=kind
    )
    # One INSERT, without the unit of work (a flush costs more than the statement): the row
    # is read back through the request's ``downloads`` like any other after the commit. It
    # and the audit chain's advance go in one round trip (PostgreSQL), and the file is
    # encrypted and written while the database answers: it exists before the row commits.
    try:
        with pipelined(db.session.connection()):
            inserted = _INSERT_DOWNLOAD.send(_row(download))
            head = audit.advance_later()
            write_stored(download.file, package_cipher().encrypt(data))
    except (OSError, SQLAlchemyError):
        # Nothing offered, the audit chain's head not held, and no file left behind: on
        # PostgreSQL a failed INSERT is known only after the file was written.
        db.session.rollback()
        delete_upload(download.file)
        raise
    download.id = inserted.first()[0]
    audit.record(
        action,
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={"download": download.id, "size": len(data), "sha256": download.sha256}
        | (details or {}),
        head=head,
    )
    db.session.commit()
    return download


def _download_row(
    request: Request,
    data: bytes,
    filename: str,
    *,
    actor: Actor,
    now: datetime,
    ttl_days: int | None,
    kind: tuple[str, str] | None = None,
) -> Download:
    """The file checked, and its download row (under a fresh name, for the file to be stored
    under), for the caller to add."""
    content_type, extension = _kind_of(data, filename) if kind is None else _sized(data, kind)
    ttl = timedelta(days=int(ttl_days or current_app.config["DOWNLOAD_TTL_DAYS"]))
    return Download(
        request_id=request.id,
        file=new_stored_name(extension),
        filename=safe_filename(filename, request.reference, extension),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=now,
        created_by=actor,
        expires_at=now + ttl,
    )


_DOWNLOADS = Download.__table__
_DOWNLOAD_COLUMNS = [c.key for c in _DOWNLOADS.columns if c.key != "id"]
_INSERT_DOWNLOAD = Direct(
    insert(_DOWNLOADS)
    .values({name: bindparam(name) for name in _DOWNLOAD_COLUMNS})
    .returning(_DOWNLOADS.c.id)
)


def _row(download: Download) -> dict:
    return {name: getattr(download, name) for name in _DOWNLOAD_COLUMNS}


def available(request: Request, now: datetime) -> list[Download]:
    return [d for d in request.downloads if d.deleted_at is None and d.expires_at > now]


def fetch(request: Request, download_id: int, *, now: datetime) -> tuple[Download, bytes] | None:
    """The file for the subject, decrypted and audited; ``None`` if it is not theirs, gone,
    expired, or no longer decrypts (the key changed)."""
    download = next((d for d in available(request, now) if d.id == download_id), None)
    path = stored_path(download.file) if download else None
    if download is None or path is None:
        return None
    try:
        data = package_cipher().decrypt(path.read_bytes())
    except InvalidToken:
        return None
    download.downloaded_at = download.downloaded_at or now
    audit.record(
        "subject.downloaded",
        actor=SUBJECT,
        now=now,
        request_ref=request.reference,
        data={"download": download.id},
    )
    db.session.commit()
    return download, data


def purge_expired(*, now: datetime) -> int:
    """Delete the files of expired downloads; keep the row (what, when, checksum) as a record."""
    expired = db.session.scalars(
        db.select(Download).where(Download.deleted_at.is_(None), Download.expires_at <= now)
    ).all()
    for download in expired:
        download.deleted_at = now
        audit.record(
            "request.download_deleted",
            actor=Actor.system("downloads"),
            now=now,
            request_ref=download.request.reference,
            data={"download": download.id},
        )
    db.session.commit()
    for download in expired:
        delete_upload(download.file)
    return len(expired)
