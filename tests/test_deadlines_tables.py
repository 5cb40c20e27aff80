"""Due dates per jurisdiction, worked out by hand (the comment above each case), at month ends,
public holidays and receipt-time boundaries. The operator is in Seoul throughout: a request
abroad is dated where its date is earlier (the jurisdiction's zone), never later."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from rightsdesk.domain.deadlines import compute_deadline
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import builtin_profiles
from rightsdesk.domain.regions import calendar_of, with_region

SEOUL = ZoneInfo("Asia/Seoul")


def due(code: str, region: str | None, kind: K, received: str, **kw) -> date:
    profile = with_region(builtin_profiles()[code], region)
    return compute_deadline(
        received_at=datetime.fromisoformat(received),
        kind=kind,
        profile=profile,
        calendar=calendar_of(profile),
        tz=SEOUL,
        **kw,
    ).due


def cases(rows):
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


KR = [
    # Wed 24 Sep 2025: day 1 is 25 Sep, day 10 Sat 4 Oct; 추석 5–7, 대체 8, 한글날 9 → Fri 10 Oct.
    ("chuseok-block", K.ACCESS, "2025-09-24T10:00+09:00", "2025-10-10"),
    # 16:30 UTC on 21 Dec is 01:30 on 22 Dec in Seoul: day 1 23 Dec, day 10 Thu 1 Jan (신정)
    # → Fri 2 Jan 2026.
    ("utc-evening-is-next-day-in-seoul", K.ACCESS, "2025-12-21T16:30:00Z", "2026-01-02"),
    # 00:00 sharp on Mon 3 Mar 2025 (대체공휴일): the day counts (민법 §157 단서),
    # day 10 Wed 12 Mar.
    ("midnight-counts-its-day", K.ACCESS, "2025-03-03T00:00+09:00", "2025-03-12"),
    # 00:30 the same day: day 1 is 4 Mar, day 10 Thu 13 Mar.
    ("half-past-midnight-does-not", K.ACCESS, "2025-03-03T00:30+09:00", "2025-03-13"),
    # 23:30 on Sun 2 Mar: day 1 Mon 3 Mar (a holiday inside the period counts), day 10 Wed 12 Mar.
    ("half-past-eleven-the-day-before", K.ACCESS, "2025-03-02T23:30+09:00", "2025-03-12"),
    # Tue 21 Apr 2026: day 1 22 Apr, day 10 Fri 1 May — 노동절, a 공휴일 from 2026 (공휴일에 관한
    # 법률 as amended 2026) — then Sat 2, Sun 3 → Mon 4 May.
    ("labour-day-2026", K.ACCESS, "2026-04-21T10:00+09:00", "2026-05-04"),
    # Mon 21 Apr 2025: day 10 Thu 1 May 2025, then only a workers' day off (근로기준법), not a
    # 관공서 공휴일: due that day.
    ("labour-day-2025-is-no-holiday", K.ACCESS, "2025-04-21T10:00+09:00", "2025-05-01"),
    # Sun 24 May 2026: day 1 Mon 25 May (대체공휴일), day 10 Wed 3 Jun, the local election day
    # → Thu 4 Jun.
    ("election-day-2026", K.ACCESS, "2026-05-24T10:00+09:00", "2026-06-04"),
    # Tue 7 Jul 2026: day 10 Fri 17 Jul, 제헌절 again a 공휴일 from 2026 → Sat, Sun → Mon 20 Jul.
    ("constitution-day-2026", K.ACCESS, "2026-07-07T10:00+09:00", "2026-07-20"),
    # Fri 31 Jan 2025: day 1 1 Feb, day 10 Mon 10 Feb.
    ("month-end", K.ACCESS, "2025-01-31T10:00+09:00", "2025-02-10"),
    # Fri 17 Jan 2025: day 10 Mon 27 Jan, 임시공휴일; 설 28–30 → Fri 31 Jan.
    ("temporary-holiday-before-seollal", K.ACCESS, "2025-01-17T10:00+09:00", "2025-01-31"),
    # 30 days for an automated decision from Wed 31 Dec 2025: day 1 1 Jan, day 30 Fri 30 Jan.
    ("automated-decision-30-days", K.AUTOMATED_DECISION, "2025-12-31T10:00+09:00", "2026-01-30"),
]


@pytest.mark.parametrize(("kind", "received", "expected"), cases(KR))
def test_korea(kind, received, expected):
    assert due("KR", None, kind, received) == date.fromisoformat(expected)


EU = [
    # Fri 6 Mar 2026 in Paris: one month is Mon 6 Apr, Easter Monday in France → Tue 7 Apr.
    ("fr-easter-monday", "FR", "2026-03-06T10:00+01:00", "2026-04-07"),
    # 23:30 on Fri 31 Jan 2025 in Berlin (already 1 Feb in Seoul): received 31 Jan → Fri 28 Feb.
    ("de-late-evening-month-end", "DE", "2025-01-31T23:30+01:00", "2025-02-28"),
    # 23:30 on Fri 28 Feb 2025 in Berlin: received 28 Feb → Fri 28 Mar.
    ("de-feb-28-evening", "DE", "2025-02-28T23:30+01:00", "2025-03-28"),
    # Tue 1 Apr 2025: Thu 1 May is Fête du Travail → Fri 2 May.
    ("fr-may-day", "FR", "2025-04-01T10:00+02:00", "2025-05-02"),
    # Tue 8 Apr 2025: Thu 8 May is Victoire 1945 → Fri 9 May.
    ("fr-victory-day", "FR", "2025-04-08T10:00+02:00", "2025-05-09"),
    # Wed 3 Sep 2025: Fri 3 Oct is German Unity Day → Sat, Sun → Mon 6 Oct.
    ("de-unity-day", "DE", "2025-09-03T10:00+02:00", "2025-10-06"),
    # Sat 6 Dec 2025: Tue 6 Jan 2026 is Epiphany in Bavaria → Wed 7 Jan ...
    ("de-by-epiphany", "DE-BY", "2025-12-06T10:00+01:00", "2026-01-07"),
    # ... and a working day in Germany as a whole: Tue 6 Jan.
    ("de-national-no-epiphany", "DE", "2025-12-06T10:00+01:00", "2026-01-06"),
    # Mon 17 Feb 2025: Mon 17 Mar is St Patrick's Day in Ireland → Tue 18 Mar.
    ("ie-st-patrick", "IE", "2025-02-17T10:00+00:00", "2025-03-18"),
    # Wed 31 Dec 2025: 31 Jan 2026 is a Saturday → Mon 2 Feb.
    ("fr-across-the-year", "FR", "2025-12-31T10:00+01:00", "2026-02-02"),
    # 00:00 on Mon 3 Mar 2025 in Paris: the receipt day is not counted (no §157 rule) → Thu 3 Apr.
    ("fr-midnight", "FR", "2025-03-03T00:00+01:00", "2025-04-03"),
    # Wed 31 Jan 2024, a leap year → Thu 29 Feb.
    ("fr-leap-year", "FR", "2024-01-31T10:00+01:00", "2024-02-29"),
    # No Member State set: dated in the Azores (21:30 on 31 Jan), weekends only → Fri 28 Feb.
    ("no-member-state", None, "2025-01-31T23:30+01:00", "2025-02-28"),
]


@pytest.mark.parametrize(("region", "received", "expected"), cases(EU))
def test_eu(region, received, expected):
    assert due("EU", region, K.ACCESS, received) == date.fromisoformat(expected)


UK = [
    # Fri 21 Mar 2025: Mon 21 Apr is Easter Monday in England → Tue 22 Apr.
    ("eng-easter-monday", "ENG", "2025-03-21T10:00+00:00", "2025-04-22"),
    # Fri 25 Jul 2025: Mon 25 Aug is the summer bank holiday in England → Tue 26 Aug.
    ("eng-august-bank-holiday", "ENG", "2025-07-25T10:00+01:00", "2025-08-26"),
    # Fri 4 Jul 2025: Mon 4 Aug is Scotland's summer bank holiday → Tue 5 Aug ...
    ("sct-first-monday-august", "SCT", "2025-07-04T10:00+01:00", "2025-08-05"),
    # ... and a working day in England.
    ("eng-first-monday-august", "ENG", "2025-07-04T10:00+01:00", "2025-08-04"),
    # Tue 25 Nov 2025: Christmas Thu 25, Boxing Day Fri 26, weekend → Mon 29 Dec.
    ("eng-christmas", "ENG", "2025-11-25T10:00+00:00", "2025-12-29"),
    # 23:30 on Fri 31 Jan 2025 in London (1 Feb in Seoul): received 31 Jan → Fri 28 Feb.
    ("london-late-evening", "ENG", "2025-01-31T23:30+00:00", "2025-02-28"),
    # Sat 5 Apr 2025: Mon 5 May is the early May bank holiday → Tue 6 May.
    ("eng-early-may", "ENG", "2025-04-05T10:00+01:00", "2025-05-06"),
    # Sat 26 Apr 2025: Mon 26 May is the spring bank holiday → Tue 27 May.
    ("eng-spring-bank-holiday", "ENG", "2025-04-26T10:00+01:00", "2025-05-27"),
    # Sun 1 Dec 2024: Wed 1 Jan 2025 → Thu 2 Jan.
    ("eng-new-year", "ENG", "2024-12-01T10:00+00:00", "2025-01-02"),
    # 23:30 BST on Mon 30 Jun 2025 (Tue 1 Jul in Seoul): received 30 Jun → Wed 30 Jul.
    ("bst-late-evening", "ENG", "2025-06-30T23:30+01:00", "2025-07-30"),
    # Mon 17 Feb 2025: Mon 17 Mar is St Patrick's Day in Northern Ireland → Tue 18 Mar ...
    ("nir-st-patrick", "NIR", "2025-02-17T10:00+00:00", "2025-03-18"),
    # ... and a working day in England.
    ("eng-no-st-patrick", "ENG", "2025-02-17T10:00+00:00", "2025-03-17"),
]


@pytest.mark.parametrize(("region", "received", "expected"), cases(UK))
def test_uk(region, received, expected):
    assert due("UK", region, K.ACCESS, received) == date.fromisoformat(expected)


def test_uk_defaults_to_england():
    # Fri 25 Jul 2025 without a setting: England's August bank holiday applies → Tue 26 Aug.
    assert due("UK", None, K.ACCESS, "2025-07-25T10:00+01:00") == date(2025, 8, 26)


US_CA = [
    # §7021(b): Mon 3 Mar 2025 is day 1, day 45 is 3 Mar + 44 days = Wed 16 Apr.
    ("day-of-receipt-is-day-1", K.ACCESS, "2025-03-03T10:00-08:00", "2025-04-16"),
    # 23:30 on 3 Mar in Los Angeles (4 Mar in Seoul): received 3 Mar → Wed 16 Apr.
    ("la-late-evening", K.ACCESS, "2025-03-03T23:30-08:00", "2025-04-16"),
    # Wed 1 Jan 2025 + 44 days = Fri 14 Feb.
    ("new-year", K.ACCESS, "2025-01-01T10:00-08:00", "2025-02-14"),
    # Wed 31 Dec 2025 + 44 days = Fri 13 Feb 2026 (31 Dec + 31 = 31 Jan, + 13).
    ("across-the-year", K.ACCESS, "2025-12-31T10:00-08:00", "2026-02-13"),
    # Sat 4 Jan 2025 + 44 days = Mon 17 Feb, Presidents' Day: no roll-forward in the CCPA.
    ("ends-on-a-holiday-stays", K.ACCESS, "2025-01-04T10:00-08:00", "2025-02-17"),
    # Opt-out, 15 business days from Thu 20 Nov 2025 (day 1): 20, 21, 24–26 (5), Thanksgiving
    # 27 and the day after 28 skipped, 1–5 Dec (10), 8–12 Dec (15) → Fri 12 Dec.
    ("opt-out-over-thanksgiving", K.SUSPENSION, "2025-11-20T10:00-08:00", "2025-12-12"),
    # Received Sat 22 Nov: day 1 is Mon 24; 24–26 (3), 27–28 off, 1–5 Dec (8), 8–12 (13),
    # 15–16 (15) → Tue 16 Dec.
    ("opt-out-received-on-saturday", K.SUSPENSION, "2025-11-22T10:00-08:00", "2025-12-16"),
    # Fri 19 Dec 2025: 19, 22–24 (4), Christmas off, 26 (5), 29–31 (8), 1 Jan off, 2 Jan (9),
    # 5–9 Jan (14), 12 Jan (15) → Mon 12 Jan 2026.
    ("opt-out-over-christmas", K.SUSPENSION, "2025-12-19T10:00-08:00", "2026-01-12"),
    # Limit sensitive PI, Mon 30 Mar 2026: 30 (1), Cesar Chavez Day 31 off, 1–3 Apr (4),
    # 6–10 (9), 13–17 (14), 20 (15) → Mon 20 Apr.
    ("limit-over-cesar-chavez-day", K.CONSENT_WITHDRAWAL, "2026-03-30T10:00-07:00", "2026-04-20"),
    # Thu 18 Jun 2026: 18 (1), Juneteenth 19 off, 22–26 (6), 29 Jun–2 Jul (10), 3 Jul (observed)
    # off, 6–10 Jul (15) → Fri 10 Jul.
    ("opt-out-over-juneteenth-and-july-4", K.SUSPENSION, "2026-06-18T10:00-07:00", "2026-07-10"),
    # Tue 1 Feb 2028: 1–4 Feb (4), 7–11 (9), Lincoln's birthday is no day off, 14 Feb (10),
    # Tue 15 Feb (Susan B. Anthony Day, a day of observance) counts (11), 16–18 (14), Mon 21 Feb
    # Presidents' Day off, Tue 22 Feb (15).
    ("susan-b-anthony-day-is-a-business-day", K.SUSPENSION, "2028-02-01T10:00-08:00", "2028-02-22"),
]


@pytest.mark.parametrize(("kind", "received", "expected"), cases(US_CA))
def test_california(kind, received, expected):
    assert due("US-CA", None, kind, received) == date.fromisoformat(expected)


def test_california_extension_is_ninety_days_with_day_one_on_receipt():
    # 1 Jan 2025 is day 1: day 90 is 1 Jan + 89 days = Mon 31 Mar.
    extended = due("US-CA", None, K.ACCESS, "2025-01-01T10:00-08:00", extensions=1)
    assert extended == date(2025, 3, 31)


BR = [
    # Wed 5 Nov 2025: day 15 Thu 20 Nov, Black Awareness Day (national since 2024) → Fri 21 Nov.
    ("black-awareness-day", "2025-11-05T10:00-03:00", "2025-11-21"),
    # 23:30 on Fri 31 Jan 2025 in São Paulo (1 Feb in Seoul): received 31 Jan, day 15 Sat 15 Feb
    # → Mon 17 Feb.
    ("sao-paulo-late-evening", "2025-01-31T23:30-03:00", "2025-02-17"),
    # Thu 3 Apr 2025: day 15 Fri 18 Apr (Good Friday), weekend, Mon 21 Apr (Tiradentes)
    # → Tue 22 Apr.
    ("good-friday-and-tiradentes", "2025-04-03T10:00-03:00", "2025-04-22"),
    # Wed 10 Dec 2025: day 15 Thu 25 Dec → Fri 26 Dec.
    ("christmas", "2025-12-10T10:00-03:00", "2025-12-26"),
    # Wed 17 Dec 2025: day 15 Thu 1 Jan → Fri 2 Jan.
    ("new-year", "2025-12-17T10:00-03:00", "2026-01-02"),
    # Sat 23 Aug 2025: day 15 Sun 7 Sep (Independence Day) → Mon 8 Sep.
    ("independence-day-on-sunday", "2025-08-23T10:00-03:00", "2025-09-08"),
    # Sat 27 Sep 2025: day 15 Sun 12 Oct (Aparecida) → Mon 13 Oct.
    ("aparecida", "2025-09-27T10:00-03:00", "2025-10-13"),
    # Sat 18 Oct 2025: day 15 Sun 2 Nov (Finados) → Mon 3 Nov.
    ("finados", "2025-10-18T10:00-03:00", "2025-11-03"),
    # Fri 31 Oct 2025: day 15 Sat 15 Nov (Republic Day) → Mon 17 Nov.
    ("republic-day-month-end", "2025-10-31T10:00-03:00", "2025-11-17"),
    # Wed 16 Apr 2025: day 15 Thu 1 May (Labour Day) → Fri 2 May.
    ("labour-day", "2025-04-16T10:00-03:00", "2025-05-02"),
]


@pytest.mark.parametrize(("received", "expected"), cases(BR))
def test_brazil_access(received, expected):
    assert due("BR", None, K.ACCESS, received) == date.fromisoformat(expected)
