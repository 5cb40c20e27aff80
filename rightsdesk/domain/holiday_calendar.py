"""Which days are off: weekends, public holidays from ``holidays``, and the operator's overrides.

The ``holidays`` package lists neither Saturdays nor ordinary Sundays, so both are handled here
explicitly. A temporary holiday (임시공휴일) reaches the package only with a new release, often
after it is announced, so the operator can add a date (or remove a wrong one) in an override table.

노동절 (1 May) from 2026: the amendment of 공휴일에 관한 법률 making it a 공휴일 passed the National
Assembly on 2026-03-31 and the Cabinet on 2026-04-07, in force for 2026-05-01 (reported by
Yonhap, KBS and YTN; hyunbinseo/holidays-kr#25, nager/Nager.Date#972 citing law.go.kr). As a
공휴일 it is a 관공서 holiday, the calendar of 민법 §161, so the `holidays` package's 2026-05-01
is kept (tests/test_deadlines_tables.py::test_korea[labour-day-2026]). Before 2026 근로자의 날
was a paid day off for workers only (근로기준법), never a 관공서 공휴일, and is not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import holidays

WEEKDAY_NAMES = {
    "ko": ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
SATURDAY, SUNDAY = 5, 6
LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class DayOff:
    """A day that is not a working day, and why, in Korean and English."""

    day: date
    reasons: Mapping[str, str]  # language → text
    source: str  # "weekend", "holiday" or "override"

    def reason(self, language: str) -> str:
        return self.reasons.get(language) or self.reasons["en"]


@dataclass
class HolidayCalendar:
    """Working days for one jurisdiction.

    ``country`` is an ISO code understood by ``holidays`` (``None``: weekends only).
    ``added`` maps dates to names for days off the package does not know; ``removed`` lists
    dates the package lists as holidays that the operator says are working days (weekends
    stay off whatever the override says).
    """

    country: str | None
    subdivision: str | None = None
    rest_days: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    added: Mapping[date, str] = field(default_factory=dict)
    removed: frozenset[date] = frozenset()
    # Holidays the package lists (by English name) that are not days off in the profile's sense
    # (e.g. a Californian day of observance): working days unless an override says otherwise.
    ignored_names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._by_language: dict[str, holidays.HolidayBase] = {}
        if self.country:
            for language in LANGUAGES:
                self._by_language[language] = _country_holidays(
                    self.country, self.subdivision, language
                )

    def day_off(self, day: date) -> DayOff | None:
        """Return why ``day`` is off, or ``None`` for a working day."""
        reasons: dict[str, list[str]] = {language: [] for language in LANGUAGES}
        source = ""
        if day.weekday() in self.rest_days:
            for language in LANGUAGES:
                reasons[language].append(WEEKDAY_NAMES[language][day.weekday()])
            source = "weekend"
        if day in self.added:
            for language in LANGUAGES:
                reasons[language].append(self.added[day])
            source = "override"
        elif day not in self.removed:
            if self._ignored(day):
                return self._weekend_only(day, reasons, source)
            for language, calendar in self._by_language.items():
                name = calendar.get(day)
                if name:
                    reasons[language].append(name)
                    source = source if source == "weekend" else "holiday"
        if not reasons["en"]:
            return None
        return DayOff(
            day=day,
            reasons={language: " · ".join(names) for language, names in reasons.items()},
            source=source,
        )

    def _ignored(self, day: date) -> bool:
        english = self._by_language.get("en")
        names = english.get_list(day) if english is not None else []
        return bool(names) and all(name in self.ignored_names for name in names)

    @staticmethod
    def _weekend_only(day: date, reasons: dict[str, list[str]], source: str) -> DayOff | None:
        if not reasons["en"]:
            return None
        return DayOff(
            day=day,
            reasons={language: " · ".join(names) for language, names in reasons.items()},
            source=source,
        )

    def is_working_day(self, day: date) -> bool:
        return self.day_off(day) is None

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def with_overrides(self, added: Mapping[date, str], removed: Iterable[date]) -> HolidayCalendar:
        return HolidayCalendar(
            country=self.country,
            subdivision=self.subdivision,
            rest_days=self.rest_days,
            added=dict(added),
            removed=frozenset(removed),
            ignored_names=self.ignored_names,
        )


@cache
def _country_holidays(country: str, subdivision: str | None, language: str):
    probe = holidays.country_holidays(country, subdiv=subdivision)
    supported = getattr(probe, "supported_languages", ()) or ()
    wanted = {"ko": ["ko", "en_US", "en_GB"], "en": ["en_US", "en_GB"]}[language]
    chosen = next((code for code in wanted if code in supported), None)
    # categories default to the public ones (legal.md §2: not BANK).
    return holidays.country_holidays(country, subdiv=subdivision, language=chosen)
