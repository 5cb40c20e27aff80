"""The period each right is answered in: the statute's, and the operator's promise where shorter.

The published policy and the home page show both: the promise the operator keeps, and the
statute beside it. A right for which the statute sets no number (동의철회, 법 §37③ "지체 없이")
reads "without delay"; the profile's figure is then only the operator's working target, never
shown as the statutory period (legal.md §1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.profiles import Period, Profile, Unit


@dataclass(frozen=True)
class RightPeriod:
    kind: RequestKind
    statutory: Period
    promised: Period | None = None  # only where it is shorter than the statute's

    @property
    def working(self) -> Period:
        """The period the operator works to: its promise where it has one, else the law's."""
        return self.promised or self.statutory


def right_periods(
    profile: Profile, kinds: Iterable[RequestKind], promises: Mapping[RequestKind, Period]
) -> list[RightPeriod]:
    """Each kind's statutory period and, where it promises a different one, the promise."""
    result = []
    for kind in kinds:
        statutory = profile.period(kind)
        promised = promises.get(kind)
        same = promised is not None and (promised.amount, promised.unit) == (
            statutory.amount,
            statutory.unit,
        )
        result.append(RightPeriod(kind, statutory, None if same else promised))
    return result


_KO_UNITS = {Unit.DAYS: "{n}일", Unit.MONTHS: "{n}개월", Unit.BUSINESS_DAYS: "영업일 {n}일"}
_EN_UNITS = {Unit.DAYS: "day", Unit.MONTHS: "month", Unit.BUSINESS_DAYS: "business day"}


def amount_text(period: Period, language: str) -> str:
    """ "10일" or "10 days"; "1개월" or "1 month"."""
    if language == "ko":
        return _KO_UNITS[period.unit].format(n=period.amount)
    noun = _EN_UNITS[period.unit]
    return f"{period.amount} {noun}{'' if period.amount == 1 else 's'}"


_PERIOD_TEXT = {
    "ko": {
        "plain": "{working} 이내",
        "promised": "{working} 이내 (법정 기간: {statutory})",
        "without_delay": "지체 없이 (처리 목표: {working} 이내)",
    },
    "en": {
        "plain": "within {working}",
        "promised": "within {working} (statutory period: {statutory})",
        "without_delay": "without delay (our target: within {working})",
    },
}


def period_text(right: RightPeriod, language: str) -> str:
    """The answer period of one right as a policy states it, the statute beside a promise."""
    if right.statutory.without_delay:
        form = "without_delay"
    else:
        form = "promised" if right.promised else "plain"
    return _PERIOD_TEXT[language][form].format(
        working=amount_text(right.working, language),
        statutory=amount_text(right.statutory, language),
    )
