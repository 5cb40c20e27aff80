"""EU/UK month counting (Regulation 1182/71), California calendar and business days, Brazil."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from rightsdesk.domain.deadlines import add_months, compute_deadline, compute_notice_deadline
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import builtin_profiles
from rightsdesk.domain.regions import with_region

PROFILES = builtin_profiles()
BRUSSELS = ZoneInfo("Europe/Brussels")


REGIONS = {"EU": "BE"}  # the operator acts in Belgium unless a test says otherwise


def compute(code: str, received: str, kind: K = K.ACCESS, tz=BRUSSELS, region=None, **kw):
    profile = with_region(PROFILES[code], region or REGIONS.get(code))
    calendar = HolidayCalendar(profile.calendar_country, profile.calendar_subdivision)
    return compute_deadline(
        received_at=datetime.fromisoformat(received),
        kind=kind,
        profile=profile,
        calendar=calendar,
        tz=tz,
        **kw,
    )


EU_CASES = [
    ("jan-31-to-feb-28", "2025-01-31T10:00+01:00", "2025-02-28"),
    ("jan-31-to-feb-29-leap-year", "2024-01-31T10:00+01:00", "2024-02-29"),
    ("mar-31-to-apr-30", "2025-03-31T10:00+02:00", "2025-04-30"),
    ("may-31-to-jun-30", "2025-05-31T10:00+02:00", "2025-06-30"),
    ("aug-31-to-sep-30", "2025-08-31T10:00+02:00", "2025-09-30"),
    ("feb-28-to-mar-28-not-month-end", "2025-02-28T10:00+01:00", "2025-03-28"),
    ("oct-31-to-nov-30-sunday-rolls-to-monday", "2025-10-31T10:00+01:00", "2025-12-01"),
    ("saturday-rolls-to-monday", "2025-01-15T10:00+01:00", "2025-02-17"),
    ("dec-31-across-the-year", "2025-12-31T10:00+01:00", "2026-02-02"),
]


@pytest.mark.parametrize(
    ("received", "expected"), [pytest.param(*c[1:], id=c[0]) for c in EU_CASES]
)
def test_eu_one_month(received, expected):
    assert compute("EU", received).due == date.fromisoformat(expected)


def test_eu_extension_is_two_further_months_from_receipt():
    assert compute("EU", "2025-01-31T10:00+01:00", extensions=1).due == date(2025, 4, 30)
    assert compute("EU", "2025-11-30T10:00+01:00", extensions=1).due == date(
        2026, 3, 2
    )  # 28 Feb is a Saturday


def test_eu_receipt_day_is_not_counted_even_at_midnight():
    assert compute("EU", "2025-03-03T00:00+01:00").due == date(2025, 4, 3)


def test_uk_rolls_over_english_bank_holidays():
    # 25 Dec (Thu) Christmas, 26 Boxing Day, 27–28 weekend.
    assert compute("UK", "2025-11-25T10:00+00:00").due == date(2025, 12, 29)


def test_add_months_clamps_to_the_end_of_short_months():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 1, 31), 3) == date(2025, 4, 30)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


LA = ZoneInfo("America/Los_Angeles")


def test_california_45_calendar_days_without_roll_forward():
    # §7021(b): 1 Jan is day 1, so day 45 is 14 Feb (1 Jan + 44 days); no roll-forward.
    result = compute("US-CA", "2025-01-04T10:00-08:00", tz=LA)
    assert result.due == date(2025, 2, 17)  # 4 Jan + 44 days, a Monday holiday, and stays one
    assert result.skipped == ()
    assert compute("US-CA", "2025-01-01T10:00-08:00", tz=LA).due == date(2025, 2, 14)
    # 90 days with day 1 on 1 Jan: 1 Jan + 89 days = 1 Apr is day 91, so 31 Mar.
    assert compute("US-CA", "2025-01-01T10:00-08:00", tz=LA, extensions=1).due == date(2025, 3, 31)


def test_california_opt_out_counts_business_days_over_thanksgiving():
    # Thu 20 Nov 2025 is day 1: 20, 21, 24, 25, 26 (5), Thanksgiving 27 and the day after
    # 28 skipped, 1–5 Dec (10), 8–12 Dec (15).
    result = compute("US-CA", "2025-11-20T10:00-08:00", K.SUSPENSION, tz=LA)
    assert result.due == date(2025, 12, 12)


def test_california_acknowledgement_in_ten_business_days():
    profile = PROFILES["US-CA"]
    assert profile.acknowledgement is not None
    calendar = HolidayCalendar("US", "CA")
    assert calendar.add_working_days(date(2025, 11, 20), 10) == date(2025, 12, 8)


def test_brazil_fifteen_days_rolling_over_black_awareness_day():
    result = compute("BR", "2025-11-05T10:00-03:00", tz=ZoneInfo("America/Sao_Paulo"))
    assert result.due == date(2025, 11, 21)
    assert result.skipped[0].day == date(2025, 11, 20)


def test_notice_deadline_follows_the_profile():
    kr = PROFILES["KR"]
    notice = compute_notice_deadline(
        received_at=datetime.fromisoformat("2025-09-24T10:00+09:00"),
        profile=kr,
        calendar=HolidayCalendar("KR"),
        tz=ZoneInfo("Asia/Seoul"),
    )
    assert notice == date(2025, 10, 10)
