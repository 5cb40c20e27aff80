"""Figures for the reports page, and the request register as CSV.

A request belongs to the operator-local month of its receipt: one received at 23:30 on
31 March in Seoul counts in March, though it is stored as 14:30 UTC. SQLite knows no time
zones, so the month is not computed in SQL from the timestamp; each local month's first
midnight is turned into a UTC instant in Python and a CASE expression sorts the rows between
those instants. That is exact across daylight-saving changes and reads the same on SQLite and
PostgreSQL.

Timeliness (on time, days to close) is counted over the requests received in a month that
were answered: completed, partially completed or refused. Withdrawn and expired requests got
no answer, so they neither help nor hurt.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import joinedload

from rightsdesk.core.context import settings
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, Status
from rightsdesk.extensions import db
from rightsdesk.models import Channel, Request, StaffUser

ANSWERED: frozenset[Status] = frozenset(
    {Status.COMPLETED, Status.PARTIALLY_COMPLETED, Status.REFUSED}
)
DEFAULT_MONTHS = 12
MOST_MONTHS = 36
REGISTER_COLUMNS = (
    "reference",
    "kind",
    "status",
    "channel",
    "jurisdiction",
    "received",
    "due",
    "promised_due",
    "closed",
    "on_time",
    "assignee",
    "refusal_ground",
    "on_time_promised",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_REGISTER_BATCH = 500


# --- months ------------------------------------------------------------------------------


def month_starts(today: date, months: int) -> list[date]:
    """The first days of the ``months`` months that end with ``today``'s, oldest first."""
    newest = today.year * 12 + today.month - 1
    return [date(n // 12, n % 12 + 1, 1) for n in range(newest - months + 1, newest + 1)]


def _following_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _bounds(starts: list[date]) -> list[datetime]:
    """UTC instants of each month's first local midnight, and of the month after the last."""
    tz = settings().tz
    return [_local_midnight(d, tz) for d in [*starts, _following_month(starts[-1])]]


def _in_range(bounds: list[datetime]):
    return Request.received_at >= bounds[0], Request.received_at < bounds[-1]


def _month_index(bounds: list[datetime]):
    """0 for the oldest month, 1 for the next … (rows are already limited to the range)."""
    return case(*[(Request.received_at < end, n) for n, end in enumerate(bounds[1:])])


# --- counts ------------------------------------------------------------------------------


def _counts(column, today: date, months: int) -> dict[date, dict[Any, int]]:
    """Requests per local month of receipt and value of ``column``, counted by the database.

    The bucketing CASE sits in a subquery so that GROUP BY names a plain column: PostgreSQL
    would not see two renderings of a CASE with bound parameters as the same expression.
    """
    starts = month_starts(today, months)
    bounds = _bounds(starts)
    inner = (
        select(_month_index(bounds).label("month"), column.label("value"))
        .where(*_in_range(bounds))
        .subquery()
    )
    query = select(inner.c.month, inner.c.value, func.count()).group_by(
        inner.c.month, inner.c.value
    )
    result: dict[date, dict[Any, int]] = {start: {} for start in starts}
    for index, value, count in db.session.execute(query):
        result[starts[index]][value] = count
    return result


def counts_by_kind(today: date, months: int) -> dict[date, dict[RequestKind, int]]:
    return _counts(Request.kind, today, months)


def counts_by_status(today: date, months: int) -> dict[date, dict[Status, int]]:
    return _counts(Request.status, today, months)


def counts_by_channel(today: date, months: int) -> dict[date, dict[Channel, int]]:
    return _counts(Request.channel, today, months)


# --- timeliness --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeliness:
    """A month's answered requests: how many, how many by the legal due date, how many by the
    working date (the operator's promise where shorter, else the law's), how fast."""

    answered: int = 0
    on_time: int = 0
    median_days: float | None = None
    on_time_promised: int = 0

    @property
    def rate(self) -> float | None:
        """Answered by the legal due date."""
        return self.on_time / self.answered if self.answered else None

    @property
    def promised_rate(self) -> float | None:
        """Answered by the promised date (the legal one where nothing shorter is promised)."""
        return self.on_time_promised / self.answered if self.answered else None


def closed_on_time(closed_at: datetime, due: date, tz: ZoneInfo) -> bool:
    """Answered by the end of the due date, in the operator's time zone (24:00 counts)."""
    return closed_at.astimezone(tz).date() <= due


def timeliness(today: date, months: int) -> dict[date, Timeliness]:
    """On-time rate and median days (local dates, receipt to close) per month of receipt."""
    starts = month_starts(today, months)
    bounds = _bounds(starts)
    tz = settings().tz
    query = select(
        Request.received_at, Request.closed_at, Request.due_date, Request.promised_due_date
    ).where(
        *_in_range(bounds),
        Request.status.in_(sorted(ANSWERED)),
        Request.closed_at.is_not(None),
    )
    days: dict[date, list[int]] = {start: [] for start in starts}
    on_time: dict[date, int] = dict.fromkeys(starts, 0)
    promised: dict[date, int] = dict.fromkeys(starts, 0)
    for received_at, closed_at, due, promised_due in db.session.execute(query):
        received = received_at.astimezone(tz).date()
        month = received.replace(day=1)
        days[month].append((closed_at.astimezone(tz).date() - received).days)
        on_time[month] += closed_on_time(closed_at, due, tz)
        promised[month] += closed_on_time(closed_at, promised_due or due, tz)
    return {
        month: Timeliness(
            answered=len(values),
            on_time=on_time[month],
            median_days=float(statistics.median(values)) if values else None,
            on_time_promised=promised[month],
        )
        for month, values in days.items()
    }


# --- the whole page ----------------------------------------------------------------------


@dataclass(frozen=True)
class MonthFigures:
    month: date
    by_kind: dict[RequestKind, int]
    by_status: dict[Status, int]
    by_channel: dict[Channel, int]
    timeliness: Timeliness

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def monthly_figures(today: date, months: int) -> list[MonthFigures]:
    """Every figure of the reports page, one entry per month, oldest first."""
    kinds = counts_by_kind(today, months)
    statuses = counts_by_status(today, months)
    channels = counts_by_channel(today, months)
    timely = timeliness(today, months)
    return [
        MonthFigures(month, kinds[month], statuses[month], channels[month], timely[month])
        for month in month_starts(today, months)
    ]


def occurring(figures: list[MonthFigures], attribute: str, members: type[Enum]) -> list[Any]:
    """The members of ``members`` counted at least once (in declaration order)."""
    seen = {value for month in figures for value in getattr(month, attribute)}
    return [member for member in members if member in seen]


def overdue(today: date) -> list[Request]:
    """Open requests past their working date (the promise where shorter, else the law's),
    the longest overdue first."""
    working = func.coalesce(Request.promised_due_date, Request.due_date)
    query = (
        select(Request)
        .where(Request.status.in_(sorted(OPEN)), working < today)
        .options(joinedload(Request.assignee))
        .order_by(working, Request.id)
    )
    return list(db.session.scalars(query))


def parse_months(value: str | None) -> int:
    """The ``?months=`` of the reports page: 1 to 36, anything else the default 12."""
    try:
        months = int(value or "")
    except ValueError:
        return DEFAULT_MONTHS
    return months if 1 <= months <= MOST_MONTHS else DEFAULT_MONTHS


# --- the register ------------------------------------------------------------------------


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) with a leading apostrophe."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _stamp(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def _on_time_cell(status: Status, closed_at: datetime | None, due: date, tz: ZoneInfo) -> str:
    if status not in ANSWERED or closed_at is None:
        return ""
    return "yes" if closed_on_time(closed_at, due, tz) else "no"


def register_rows() -> Iterator[list[str]]:
    """One row per request, oldest first, without the subject's name or address (minimisation)."""
    tz = settings().tz
    for row in db.session.execute(_register_query()):
        cells = [
            row.reference,
            row.kind.value,
            row.status.value,
            row.channel.value,
            row.jurisdiction,
            _stamp(row.received_at, tz),
            row.due_date.isoformat(),
            row.promised_due_date.isoformat() if row.promised_due_date else "",
            _stamp(row.closed_at, tz),
            _on_time_cell(row.status, row.closed_at, row.due_date, tz),
            row.email or "",
            row.refusal_ground or "",
            _on_time_cell(row.status, row.closed_at, row.promised_due_date or row.due_date, tz),
        ]
        yield [safe_cell(cell) for cell in cells]


def _register_query() -> Select:
    """The register's columns, streamed a batch at a time."""
    return (
        select(
            Request.reference,
            Request.kind,
            Request.status,
            Request.channel,
            Request.jurisdiction,
            Request.received_at,
            Request.due_date,
            Request.promised_due_date,
            Request.closed_at,
            StaffUser.email,
            Request.refusal_ground,
        )
        .outerjoin(StaffUser, Request.assignee_id == StaffUser.id)
        .order_by(Request.received_at, Request.id)
        .execution_options(yield_per=_REGISTER_BATCH)
    )


def register_csv() -> Iterator[str]:
    """The register as CSV text in chunks: a UTF-8 BOM (so spreadsheets read Korean), a header,
    then the rows a batch at a time, so a large register never sits in memory whole."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REGISTER_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(register_rows(), start=1):
        writer.writerow(row)
        if count % _REGISTER_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
