"""A request by its reference: the statement is built once, not per call (building and keying
it cost more than running it, on the worker's and the console's hot paths), and its row is
loaded without the ORM's per-query row processors (:class:`rightsdesk.core.direct.DirectLoad`)."""

from __future__ import annotations

from sqlalchemy import bindparam

from rightsdesk.core.direct import DirectLoad
from rightsdesk.models import Request

_BY_REFERENCE = DirectLoad(Request, Request.reference == bindparam("reference"))


def by_reference(reference: object) -> Request | None:
    """The request with this reference, or ``None`` (also for a value that is no string)."""
    if not isinstance(reference, str):
        return None
    return _BY_REFERENCE.first({"reference": reference})
