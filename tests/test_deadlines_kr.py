"""Korean deadlines under the Civil Act, one row per rule and per kind of holiday.

Each row: when the request arrived (with its offset), the kind, and the due date a Korean
lawyer would give, with the days skipped on the way.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from rightsdesk.domain.deadlines import ExtensionNotAllowed, NaiveTimestamp, compute_deadline
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import Period, Unit, builtin_profiles

SEOUL = ZoneInfo("Asia/Seoul")
KR = builtin_profiles()["KR"]
CALENDAR = HolidayCalendar("KR")


def due(received: str, kind: K = K.ACCESS, calendar: HolidayCalendar = CALENDAR, **kw):
    return compute_deadline(
        received_at=datetime.fromisoformat(received),
        kind=kind,
        profile=KR,
        calendar=calendar,
        tz=SEOUL,
        **kw,
    )


CASES = [
    # (id, received, kind, due, skipped days)
    (
        "legal-md-example-chuseok-substitute-hangul",
        "2025-09-24T10:00+09:00",
        K.ACCESS,
        "2025-10-10",
        ["2025-10-04", "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08", "2025-10-09"],
    ),
    (
        "seollal-block-after-temporary-holiday",
        "2025-01-17T09:00+09:00",
        K.CORRECTION,
        "2025-01-31",
        ["2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30"],
    ),
    (
        "substitute-holiday-samiljeol",
        "2025-02-21T15:00+09:00",
        K.DELETION,
        "2025-03-04",
        ["2025-03-03"],
    ),
    (
        "presidential-election-day",
        "2025-05-24T11:00+09:00",
        K.SUSPENSION,
        "2025-06-04",
        ["2025-06-03"],
    ),
    ("local-election-day-2026", "2026-05-24T11:00+09:00", K.ACCESS, "2026-06-04", ["2026-06-03"]),
    (
        "national-assembly-election-2024",
        "2024-03-31T11:00+09:00",
        K.ACCESS,
        "2024-04-11",
        ["2024-04-10"],
    ),
    ("year-end-new-year", "2025-12-22T16:30+09:00", K.DELETION, "2026-01-02", ["2026-01-01"]),
    (
        "saturday-then-sunday",
        "2025-11-05T10:00+09:00",
        K.ACCESS,
        "2025-11-17",
        ["2025-11-15", "2025-11-16"],
    ),
    ("holidays-inside-the-period-count", "2025-09-30T10:00+09:00", K.ACCESS, "2025-10-10", []),
    (
        "childrens-day-and-buddha-substitutes",
        "2025-04-25T10:00+09:00",
        K.ACCESS,
        "2025-05-07",
        ["2025-05-05", "2025-05-06"],
    ),
    (
        "chuseok-2026-onto-weekend",
        "2026-09-15T10:00+09:00",
        K.ACCESS,
        "2026-09-28",
        ["2026-09-25", "2026-09-26", "2026-09-27"],
    ),
    (
        "constitution-day-restored-2026",
        "2026-07-07T10:00+09:00",
        K.ACCESS,
        "2026-07-20",
        ["2026-07-17", "2026-07-18", "2026-07-19"],
    ),
    (
        "labour-day-2026",
        "2026-04-21T10:00+09:00",
        K.ACCESS,
        "2026-05-04",
        ["2026-05-01", "2026-05-02", "2026-05-03"],
    ),
    (
        "temporary-holiday-armed-forces-day-2024",
        "2024-09-21T10:00+09:00",
        K.ACCESS,
        "2024-10-02",
        ["2024-10-01"],
    ),
    ("christmas", "2025-12-15T10:00+09:00", K.CONSENT_WITHDRAWAL, "2025-12-26", ["2025-12-25"]),
    (
        "automated-decision-30-days",
        "2025-09-09T10:00+09:00",
        K.AUTOMATED_DECISION,
        "2025-10-10",
        ["2025-10-09"],
    ),
    ("plain-weekday", "2025-11-10T10:00+09:00", K.ACCESS, "2025-11-20", []),
    ("midnight-start-counts-the-first-day", "2025-11-10T00:00+09:00", K.ACCESS, "2025-11-19", []),
    (
        "receipt-date-is-seoul-not-utc",
        "2025-12-21T16:30+00:00",
        K.DELETION,
        "2026-01-02",
        ["2026-01-01"],
    ),
    ("utc-evening-same-seoul-day", "2025-11-10T05:00Z", K.ACCESS, "2025-11-20", []),
]


@pytest.mark.parametrize(
    ("received", "kind", "expected", "skipped"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_korean_due_dates(received, kind, expected, skipped):
    result = due(received, kind)
    assert result.due == date.fromisoformat(expected)
    assert [off.day.isoformat() for off in result.skipped] == skipped
    assert result.jurisdiction == "KR"


def test_explanation_names_each_skipped_day_in_both_languages():
    result = due("2025-09-24T10:00+09:00")
    reasons = {off.day.isoformat(): (off.reason("ko"), off.reason("en")) for off in result.skipped}
    assert reasons["2025-10-04"] == ("토요일", "Saturday")
    assert "추석" in reasons["2025-10-06"][0] and "Chuseok" in reasons["2025-10-06"][1]
    assert "대체" in reasons["2025-10-08"][0]
    assert reasons["2025-10-09"][0] == "한글날"
    assert result.raw_last_day == date(2025, 10, 4)
    assert result.received_local_date == date(2025, 9, 24)
    assert result.ends_at().isoformat() == "2025-10-11T00:00:00+09:00"


def test_a_temporary_holiday_added_by_the_operator_moves_the_due_date():
    plain = due("2026-12-21T10:00+09:00")
    assert plain.due == date(2026, 12, 31)
    with_override = CALENDAR.with_overrides({date(2026, 12, 31): "임시공휴일"}, [])
    moved = due("2026-12-21T10:00+09:00", calendar=with_override)
    # 12-31 temporary holiday, 01-01 New Year, 01-02 Saturday, 01-03 Sunday.
    assert moved.due == date(2027, 1, 4)
    assert moved.skipped[0].reason("ko") == "임시공휴일"
    assert moved.skipped[0].source == "override"


def test_a_holiday_removed_by_the_operator_is_a_working_day():
    calendar = CALENDAR.with_overrides({}, [date(2025, 10, 9)])
    assert due("2025-09-24T10:00+09:00", calendar=calendar).due == date(2025, 10, 9)


def test_removing_a_weekend_day_does_not_make_it_a_working_day():
    calendar = CALENDAR.with_overrides({}, [date(2025, 11, 15)])
    assert due("2025-11-05T10:00+09:00", calendar=calendar).due == date(2025, 11, 17)


def test_access_postponement_is_the_only_kr_extension_besides_automated_decisions():
    # 법 §35③ 후문: postponing access is a deferral until its ground ends, not "+10 days":
    # the statutory date (of the notice with the ground) stays 10 Oct.
    assert due("2025-09-24T10:00+09:00", extensions=1).due == date(2025, 10, 10)
    with pytest.raises(ExtensionNotAllowed, match="no extension of deletion"):
        due("2025-09-24T10:00+09:00", K.DELETION, extensions=1)
    with pytest.raises(ExtensionNotAllowed, match="at most 1"):
        due("2025-09-24T10:00+09:00", extensions=2)
    # 법 §37-2: 30 days, extendable twice by 30.
    assert due("2025-09-09T10:00+09:00", K.AUTOMATED_DECISION, extensions=2).due == date(
        2025, 12, 8
    )


def test_paused_days_push_the_last_day_before_it_rolls():
    assert due("2025-11-10T10:00+09:00", paused_days=3).due == date(2025, 11, 24)


def test_a_policy_may_promise_less_but_never_more_than_the_law():
    seven = {K.ACCESS: Period(7, Unit.DAYS)}
    result = due("2025-11-10T10:00+09:00", policy=seven)
    assert result.due == date(2025, 11, 20)
    assert result.promised_due == date(2025, 11, 17)
    assert result.effective_due == date(2025, 11, 17)


def test_a_naive_timestamp_is_refused():
    with pytest.raises(NaiveTimestamp, match="no UTC offset"):
        due("2025-09-24T10:00")


def test_due_is_never_a_day_off_and_never_before_receipt_plus_ten_days():
    start = date(2024, 1, 1)
    for offset in range(0, 3 * 366):
        day = date.fromordinal(start.toordinal() + offset)
        result = due(f"{day.isoformat()}T12:00+09:00")
        assert CALENDAR.is_working_day(result.due), day
        assert (result.due - day).days >= 10
        later = due(f"{date.fromordinal(day.toordinal() + 1).isoformat()}T12:00+09:00")
        assert later.due >= result.due
