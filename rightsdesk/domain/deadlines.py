"""Statutory deadlines: the response period of a request, counted by its jurisdiction's rules.

Korea (민법 §155–§161): the day of receipt is not counted unless the period starts at 00:00
(§157); the period ends at 24:00 of its last day (§159); a last day on a Saturday or public
holiday moves to the next day that is neither (§161); holidays inside the period count.
EU/UK (Regulation 1182/71 Art. 3): a month ends on the same date of the following month, or
that month's last day, moved off weekends and holidays. US-CA: calendar days, no roll-forward,
business days where the regulation says so, the day of receipt being day 1 (CCPA Regs
§7021(b)). The receipt date is never taken in UTC: it is the date in the operator's time zone, or
in the jurisdiction's own zone where that date is earlier (a request received at 23:30 in Berlin
on 31 Jan is received on 31 Jan, though it is already 1 Feb in Seoul), so that no choice of zone
can make a deadline late.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rightsdesk.domain.holiday_calendar import DayOff, HolidayCalendar
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.messages import N_, StaffMessageError
from rightsdesk.domain.profiles import ExtensionRule, Period, Profile, Unit


class NaiveTimestamp(ValueError):
    """A receipt time without a UTC offset: its local date would be a guess."""


class ExtensionNotAllowed(StaffMessageError):
    """An extension the jurisdiction does not allow for this kind, or one too many."""


class PolicyLongerThanLaw(ValueError):
    """An operator's promised period that would end after the statutory one."""


@dataclass(frozen=True)
class Deadline:
    """A computed due date and everything needed to explain it."""

    jurisdiction: str
    kind: RequestKind
    received_at: datetime
    received_local: datetime
    first_day: date
    period: Period
    promised_period: Period | None
    promised_due: date | None
    extensions: int
    paused_days: int
    raw_last_day: date
    skipped: tuple[DayOff, ...]
    due: date
    counting_basis: str
    extension_notice_by: date | None = None

    @property
    def received_local_date(self) -> date:
        return self.received_local.date()

    @property
    def effective_due(self) -> date:
        """The date the operator works to: its own promise where shorter, else the law's."""
        return self.promised_due or self.due

    def ends_at(self) -> datetime:
        """The instant the period ends: 24:00 of the due date in the operator's time zone."""
        tz = self.received_local.tzinfo
        return datetime.combine(self.due + timedelta(days=1), time(0), tzinfo=tz)

    def as_dict(self) -> dict[str, object]:
        return {
            "due": self.due.isoformat(),
            "received_at": self.received_at.isoformat(),
            "received_local": self.received_local.isoformat(),
            "received_local_date": self.received_local_date.isoformat(),
            "timezone": str(self.received_local.tzinfo),
            "jurisdiction": self.jurisdiction,
            "kind": self.kind.value,
            "period": {"amount": self.period.amount, "unit": self.period.unit.value},
            "promised_due": self.promised_due.isoformat() if self.promised_due else None,
            "extensions": self.extensions,
            "paused_days": self.paused_days,
            "basis": self.period.basis,
            "counting_basis": self.counting_basis,
            "first_day": self.first_day.isoformat(),
            "raw_last_day": self.raw_last_day.isoformat(),
            "skipped": [_day_off_as_dict(off) for off in self.skipped],
            "ends_at": self.ends_at().isoformat(),
            "extension_notice_by": (
                self.extension_notice_by.isoformat() if self.extension_notice_by else None
            ),
        }


def _day_off_as_dict(off: DayOff) -> dict[str, object]:
    return {
        "date": off.day.isoformat(),
        "reason_ko": off.reason("ko"),
        "reason_en": off.reason("en"),
        "source": off.source,
    }


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise NaiveTimestamp(
            f"timestamp {instant.isoformat()} has no UTC offset; give one, e.g. +09:00 or Z"
        )
    return instant.astimezone(tz)


def receipt_local(instant: datetime, tz: ZoneInfo, profile: Profile) -> datetime:
    """The receipt in the operator's zone, or in the jurisdiction's where its date is earlier."""
    local = to_local(instant, tz)
    if not profile.timezone:
        return local
    theirs = to_local(instant, ZoneInfo(profile.timezone))
    return theirs if theirs.date() < local.date() else local


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, or the last day of that month if it has no such date."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def compute_deadline(
    *,
    received_at: datetime,
    kind: RequestKind,
    profile: Profile,
    calendar: HolidayCalendar,
    tz: ZoneInfo,
    extensions: int = 0,
    paused_days: int = 0,
    policy: Mapping[RequestKind, Period] | None = None,
) -> Deadline:
    """The due date of a ``kind`` request received at ``received_at`` under ``profile``.

    ``extensions`` counts the postponements granted; ``paused_days`` the days the clock stood
    still while waiting on the subject (only where the profile allows it); ``policy`` holds
    the operator's own promises: they give ``promised_due``, never later than ``due``.
    """
    deadline = _statutory_deadline(
        received_at, kind, profile, calendar, tz, extensions, paused_days
    )
    deadline = _with_extension_notice(deadline, profile, calendar)
    return _with_promise(deadline, (policy or {}).get(kind), profile, calendar)


def _statutory_deadline(
    received_at: datetime,
    kind: RequestKind,
    profile: Profile,
    calendar: HolidayCalendar,
    tz: ZoneInfo,
    extensions: int,
    paused_days: int,
) -> Deadline:
    received_local = receipt_local(received_at, tz, profile)
    statutory = _extended(profile, kind, extensions)
    end = _period_end(received_local, statutory, profile, calendar, paused_days)
    return Deadline(
        jurisdiction=profile.code,
        kind=kind,
        received_at=received_at,
        received_local=received_local,
        first_day=end.first_day,
        period=statutory,
        promised_period=None,
        promised_due=None,
        extensions=extensions,
        paused_days=paused_days,
        raw_last_day=end.raw_last_day,
        skipped=end.skipped,
        due=end.due,
        counting_basis=profile.counting_basis,
    )


def _with_extension_notice(
    deadline: Deadline, profile: Profile, calendar: HolidayCalendar
) -> Deadline:
    """The subject must hear of an extension, with reasons, within the original period."""
    if not deadline.extensions:
        return deadline
    unextended = profile.period(deadline.kind)
    end = _period_end(deadline.received_local, unextended, profile, calendar, deadline.paused_days)
    return replace(deadline, extension_notice_by=end.due)


def _with_promise(
    deadline: Deadline, promised: Period | None, profile: Profile, calendar: HolidayCalendar
) -> Deadline:
    """The operator's promise for the kind, where it has one: ``promised_due`` is never later
    than ``due``. A promise in another unit than the statute's cannot take the statutory
    extension (it then gives no promised date)."""
    extensions = deadline.extensions
    if promised is None or (extensions != 0 and promised.unit is not deadline.period.unit):
        return replace(deadline, promised_period=promised)
    promised = _extended(profile, deadline.kind, extensions, base=promised)
    end = _period_end(deadline.received_local, promised, profile, calendar, deadline.paused_days)
    return replace(deadline, promised_period=promised, promised_due=min(end.due, deadline.due))


def paused_days_between(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Whole local days the clock stood still, from asking the subject to their answer."""
    return max(0, (to_local(end, tz).date() - to_local(start, tz).date()).days)


def compute_notice_deadline(
    *,
    received_at: datetime,
    profile: Profile,
    calendar: HolidayCalendar,
    tz: ZoneInfo,
    promised: Period | None = None,
) -> date:
    """The last day to send a postponement or refusal notice (reason + how to object).

    An operator that promises to tell the result within a shorter period (seed 003: "접수 후
    7일 이내에 조치 결과를 통보") must send a refusal by then too: the earlier of the statute's
    notice period and the promise, both counted from receipt without extensions.
    """
    received_local = receipt_local(received_at, tz, profile)
    due = _period_end(received_local, profile.notice, profile, calendar, 0).due
    if promised is None:
        return due
    return min(due, _period_end(received_local, promised, profile, calendar, 0).due)


def check_policy_period(profile: Profile, kind: RequestKind, promised: Period) -> None:
    """Refuse an operator promise that could end later than the law allows."""
    statutory = profile.period(kind)
    if promised.unit == statutory.unit:
        longer = promised.amount > statutory.amount
    elif promised.unit is Unit.DAYS and statutory.unit is Unit.MONTHS:
        longer = promised.amount > 28 * statutory.amount
    elif promised.unit is Unit.DAYS and statutory.unit is Unit.BUSINESS_DAYS:
        longer = promised.amount > statutory.amount
    else:
        longer = True
    if longer:
        raise PolicyLongerThanLaw(
            f"{profile.code} {kind.value}: a promise of {promised.amount} {promised.unit.value} "
            f"may end after the statutory {statutory.amount} {statutory.unit.value} "
            f"({statutory.basis}); an operator may shorten a period, never lengthen it"
        )


def _extended(
    profile: Profile, kind: RequestKind, extensions: int, base: Period | None = None
) -> Period:
    period = base or profile.period(kind)
    if extensions <= 0:
        return period
    rule = check_extension(profile, kind, extensions)
    if rule.until_ground_ends:
        return period  # a deferral moves no statutory date: see :func:`deferral_due`
    return period.plus(rule.amount * extensions)


def deferral_due(
    *,
    ended_at: datetime,
    rule: ExtensionRule,
    profile: Profile,
    calendar: HolidayCalendar,
    tz: ZoneInfo,
) -> date:
    """When access deferred until its ground ended is due: "without delay" (법 §35③ 후문),
    worked to the operator's target of ``rule.amount`` days from the day the ground ended."""
    target = Period(rule.amount, Unit.DAYS, "operator target", without_delay=True)
    return _period_end(receipt_local(ended_at, tz, profile), target, profile, calendar, 0).due


def check_extension(profile: Profile, kind: RequestKind, count: int) -> ExtensionRule:
    """The profile's extension rule for ``kind``, if it allows ``count`` extensions."""
    rule = profile.extension(kind)
    if rule is None:
        allowed = sorted(k.value for k in profile.extensions)
        raise ExtensionNotAllowed(
            N_("%(code)s allows no extension of %(kind)s requests%(only)s"),
            code=profile.code,
            kind=kind.value,
            only=f" (only of: {', '.join(allowed)})" if allowed else "",
        )
    if count > rule.max_count:
        raise ExtensionNotAllowed(
            N_("%(code)s allows at most %(max)s extension(s) of %(kind)s requests"),
            code=profile.code,
            max=rule.max_count,
            kind=kind.value,
        )
    return rule


@dataclass(frozen=True)
class _PeriodEnd:
    first_day: date
    raw_last_day: date
    skipped: tuple[DayOff, ...]
    due: date


def _period_end(
    received_local: datetime,
    period: Period,
    profile: Profile,
    calendar: HolidayCalendar,
    paused_days: int,
) -> _PeriodEnd:
    start = received_local.date()
    starts_at_midnight = profile.midnight_counts and received_local.time() == time(0)
    counts_receipt_day = starts_at_midnight or profile.receipt_day_counts
    first_day = start if counts_receipt_day else start + timedelta(days=1)
    if period.unit is Unit.DAYS:
        last = first_day + timedelta(days=period.amount - 1)
    elif period.unit is Unit.MONTHS:
        last = add_months(start, period.amount)
    else:
        # The day before the first day counted, so that a working first day is day 1.
        last = calendar.add_working_days(first_day - timedelta(days=1), period.amount)
    last += timedelta(days=paused_days)
    raw_last_day = last
    skipped: list[DayOff] = []
    if profile.roll_forward:
        while (off := calendar.day_off(last)) is not None:
            skipped.append(off)
            last += timedelta(days=1)
    return _PeriodEnd(first_day, raw_last_day, tuple(skipped), last)
