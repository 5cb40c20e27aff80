"""Proof documents and answers uploaded by subjects: checked by content, kept outside the site.

Files live under ``UPLOAD_DIR`` (``instance/uploads`` by default, never served by the web
server) under a random name; the database keeps the name, type and size. Only staff read them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app

ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


class UploadRejected(ValueError):
    """A file that is too big, empty, or not a PDF, JPEG or PNG by its content."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "empty", "too_large" or "type"


@dataclass(frozen=True)
class StoredFile:
    name: str
    content_type: str
    size: int


def upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"])
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def check_upload(data: bytes) -> str:
    """The content type of ``data`` if it is an accepted proof; raise otherwise."""
    if not data:
        raise UploadRejected("empty")
    if len(data) > int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024:
        raise UploadRejected("too_large")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise UploadRejected("type")
    return kind.mime


def store_upload(data: bytes) -> StoredFile:
    content_type = check_upload(data)
    return store_bytes(data, content_type, ALLOWED_TYPES[content_type])


def new_stored_name(extension: str) -> str:
    """A fresh random name for a stored file."""
    return f"{secrets.token_hex(16)}.{extension}"


def store_bytes(data: bytes, content_type: str, extension: str) -> StoredFile:
    """Write ``data`` under a fresh random name, readable by this process only."""
    name = new_stored_name(extension)
    write_stored(name, data)
    return StoredFile(name=name, content_type=content_type, size=len(data))


def write_stored(name: str, data: bytes) -> None:
    """Write ``data`` as the stored file ``name`` (:func:`new_stored_name`), readable by this
    process only; never over an existing file."""
    fd = os.open(upload_dir() / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def stored_path(name: str) -> Path | None:
    """The file's path, if ``name`` is a plain name of a file in the upload folder."""
    directory = upload_dir().resolve()
    path = (directory / name).resolve()
    if path.parent != directory or not path.is_file():  # no path traversal, ever
        return None
    return path


def delete_upload(name: str | None) -> None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return
    with contextlib.suppress(FileNotFoundError):
        (upload_dir() / name).unlink()
