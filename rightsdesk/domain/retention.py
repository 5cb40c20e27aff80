"""The retention schedule: how long a statute makes the operator keep a category of records,
from which event, under which article, and what happens at the end.

Defaults follow ``legal.md`` §3. Destruction is due at the end of the period plus a grace
(PIPC reads "지체 없이" as within 5 days, legal.md §4).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

DEFAULT_GRACE_DAYS = 5


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


class StartEvent(StrEnum):
    """What starts the period."""

    RECORD_DATE = "record_date"  # a date column of the row (the data map's retention_from)
    ACCOUNT_CLOSED = "account_closed"  # the subject's erasure / account termination
    REQUEST_CLOSED = "request_closed"  # rightsdesk's own request records


class EndAction(StrEnum):
    DESTROY = "destroy"
    ANONYMISE = "anonymise"


def add_period(start: date, amount: int, unit: Unit) -> date:
    """``start`` plus the period; a month end that does not exist falls on the month's last
    day (Civil Act §160③ counts months by the calendar)."""
    if unit is Unit.DAYS:
        return start + timedelta(days=amount)
    months = amount * (12 if unit is Unit.YEARS else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


@dataclass(frozen=True)
class Rule:
    """One category of the schedule."""

    code: str
    amount: int
    unit: Unit
    start: StartEvent
    basis: str
    action: EndAction = EndAction.DESTROY
    label_ko: str = ""
    label_en: str = ""

    @property
    def keeps(self) -> bool:
        """Whether the rule makes anything be kept at all."""
        return self.amount > 0

    def until(self, start: date) -> date:
        """The last day the record is kept."""
        return add_period(start, self.amount, self.unit)

    def destroy_on(self, start: date, grace_days: int = DEFAULT_GRACE_DAYS) -> date:
        """The day by which destruction is due: the end of the period plus the grace."""
        return self.until(start) + timedelta(days=grace_days)

    def period_text(self, language: str = "ko") -> str:
        if language == "ko":
            return f"{self.amount}" + {"days": "일", "months": "개월", "years": "년"}[self.unit]
        return f"{self.amount} {self.unit.value}"


@dataclass(frozen=True)
class Schedule:
    rules: Mapping[str, Rule]
    grace_days: int = DEFAULT_GRACE_DAYS

    def rule(self, code: str) -> Rule:
        try:
            return self.rules[code]
        except KeyError:
            raise KeyError(f"no retention rule {code!r} in the schedule") from None

    def __iter__(self):
        return iter(self.rules.values())

    @classmethod
    def of(cls, rules: Iterable[Rule], grace_days: int = DEFAULT_GRACE_DAYS) -> Schedule:
        return cls({r.code: r for r in rules}, grace_days)


R, S = Rule, StartEvent
DEFAULT_RULES: tuple[Rule, ...] = (
    R(
        "none",
        0,
        Unit.DAYS,
        S.ACCOUNT_CLOSED,
        "법정 보존 의무 없음: 지체 없이 파기 (개인정보 보호법 §21①)",
        label_ko="보존 의무 없음",
        label_en="no duty to keep",
    ),
    R(
        "display_advertising",
        6,
        Unit.MONTHS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①1",
        label_ko="표시·광고에 관한 기록",
        label_en="display and advertising records",
    ),
    R(
        "contract",
        5,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①2",
        label_ko="계약 또는 청약철회 등에 관한 기록",
        label_en="contract and withdrawal records",
    ),
    R(
        "payment",
        5,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①3",
        label_ko="대금결제 및 재화 등의 공급에 관한 기록",
        label_en="payment and supply records",
    ),
    R(
        "complaint",
        3,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①4",
        label_ko="소비자의 불만 또는 분쟁처리에 관한 기록",
        label_en="complaint and dispute records",
    ),
    R(
        "access_log",
        3,
        Unit.MONTHS,
        S.RECORD_DATE,
        "통신비밀보호법 §15의2, 시행령 §41②",
        label_ko="로그기록·접속지 추적자료",
        label_en="access logs and IP addresses",
    ),
    R(
        "request_record",
        3,
        Unit.YEARS,
        S.REQUEST_CLOSED,
        "운영 방침: 권리 행사 처리 기록 (법정 기간 없음, 통상 3년)",
        label_ko="권리 행사 요구 처리 기록",
        label_en="records of handled rights requests",
    ),
)
del R, S

DEFAULT_SCHEDULE = Schedule.of(DEFAULT_RULES)
