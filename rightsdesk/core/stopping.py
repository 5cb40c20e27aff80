"""A worker asked to stop (SIGTERM), and how long it holds what it claims.

``rightsdesk worker`` sets the flag from its signal handler; the loops over claimed items check
it between items, finish the one in hand and hand the rest back at once (see
:func:`rightsdesk.core.jobqueue.worked`), so another worker takes them without waiting out
a lease.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import current_app

_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def requested() -> bool:
    return _stop.is_set()


def pause(seconds: float) -> bool:
    """Sleep ``seconds``, or less if asked to stop meanwhile; whether asked to stop."""
    return _stop.wait(seconds)


def reset() -> None:
    """Forget a stop request (a new worker loop in the same process, as in tests)."""
    _stop.clear()


def worker_lease() -> timedelta:
    """How long a worker holds a claimed item: ``RIGHTSDESK_WORKER_LEASE_SECONDS``, renewed
    while it works through its batch."""
    return timedelta(seconds=float(current_app.config["WORKER_LEASE_SECONDS"]))
