"""The one clock: an aware UTC now. Services take ``now=`` from their callers, who read it here."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
