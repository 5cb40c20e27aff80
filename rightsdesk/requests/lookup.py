"""A request by its reference: the statement is built once, not per call (building and keying
it cost more than running it, on the worker's and the console's hot paths)."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from rightsdesk.extensions import db
from rightsdesk.models import Request

_BY_REFERENCE = select(Request).where(Request.reference == bindparam("reference"))


def by_reference(reference: object) -> Request | None:
    """The request with this reference, or ``None`` (also for a value that is no string)."""
    if not isinstance(reference, str):
        return None
    return db.session.scalar(_BY_REFERENCE, {"reference": reference})
