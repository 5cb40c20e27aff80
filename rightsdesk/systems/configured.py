"""The operator's configuration of its systems: the data map, the retention schedule,
and engines for its databases.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.domain.datamap import (
    DataMap,
    System,
    check_structure,
    load_datamap,
)
from rightsdesk.domain.messages import N_, StaffMessageError
from rightsdesk.domain.retention import (
    DEFAULT_SCHEDULE,
    RetentionError,
    RetentionFileError,
    Schedule,
    load_schedule,
)
from rightsdesk.systems.connect import shared_engine


class FulfilmentError(StaffMessageError):
    """Fulfilment cannot run as asked; the message says what to fix."""


def configured_datamap() -> DataMap:
    """The operator's data map, checked; parsed once per file modification (and schedule), as
    every fulfilment step asks for it."""
    path = current_app.config.get("DATAMAP_FILE")
    if not path:
        raise FulfilmentError(N_("no data map: set RIGHTSDESK_DATAMAP_FILE"))
    categories = _schedule_categories()
    try:
        stat = os.stat(path)
        stamp = (str(path), stat.st_mtime_ns, stat.st_size, tuple(categories))
        cached = current_app.extensions.get("rightsdesk.datamap")
        if cached and cached[0] == stamp:
            return cached[1]
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise FulfilmentError(f"cannot read the data map {path}: {error.strerror}") from None
    datamap = load_datamap(text, str(path))
    problems = check_structure(datamap, categories)
    if problems:
        raise FulfilmentError(f"the data map has problems: {problems[0].format(str(path))}")
    current_app.extensions["rightsdesk.datamap"] = (stamp, datamap)
    return datamap


def _schedule_categories() -> list[str]:
    """The retention categories a table may name: the operator's schedule's."""

    return list(current_schedule().rules)


@contextmanager
def system_engine(system: System) -> Iterator[Engine]:
    """An engine for an SQL system of the map; a missing URL or a database that is down or
    refuses is a :class:`FulfilmentError` naming the system (the step can be retried), never
    a crash and never a request marked done."""
    url = os.environ.get(system.url_env)
    if not url:
        raise FulfilmentError(
            N_("%(variable)s is not set: cannot reach %(system)s"),
            variable=system.url_env,
            system=system.name,
        )
    try:
        yield shared_engine(url)
    except SQLAlchemyError as error:
        reason = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
        raise FulfilmentError(
            N_("%(system)s failed, nothing was changed: %(reason)s"),
            system=system.name,
            reason=reason,
        ) from None


def current_schedule() -> Schedule:
    """The defaults, or the operator's file (``RIGHTSDESK_RETENTION_FILE``) applied to them.

    A file that cannot be read or has a problem is a :class:`RetentionError` naming its line:
    nothing runs on a schedule half understood. The result is cached per file modification.
    """
    path = current_app.config.get("RETENTION_FILE")
    if not path:
        return DEFAULT_SCHEDULE
    try:
        stamp = os.stat(path).st_mtime_ns
        cached = current_app.extensions.get("rightsdesk.retention")
        if cached and cached[0] == (path, stamp):
            return cached[1]
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RetentionError(f"{path}: cannot read the retention file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RetentionError(f"{path}: the retention file is not UTF-8 text") from None
    try:
        schedule = load_schedule(text, str(path))
    except RetentionFileError as error:
        raise RetentionError(str(error)) from None
    current_app.extensions["rightsdesk.retention"] = ((path, stamp), schedule)
    return schedule
