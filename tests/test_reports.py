"""Reports: monthly figures by the Seoul month of receipt, timeliness, what is overdue, the
register export, and the page as each role sees it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rightsdesk.core.actors import Actor
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status as S
from rightsdesk.models import Channel, StaffRole
from rightsdesk.organisation.staff import create_staff
from rightsdesk.reports.charts import Series, nice_top, rate_bars, stacked_bars
from rightsdesk.reports.figures import (
    REGISTER_COLUMNS,
    Timeliness,
    counts_by_channel,
    counts_by_kind,
    counts_by_status,
    month_starts,
    monthly_figures,
    overdue,
    parse_months,
    register_csv,
    safe_cell,
    timeliness,
)
from rightsdesk.requests import decisions
from rightsdesk.requests.lifecycle import change_status, submit_request
from tests.helpers import csrf, utc

TODAY = date(2026, 3, 20)
JAN, FEB, MAR, DEC = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2025, 12, 1)
PASSWORD = "correct horse battery"


def staff(email: str, role: StaffRole = StaffRole.HANDLER):
    return create_staff(
        email=email, name=email.split("@")[0], role=role, password=PASSWORD, actor="t", now=_now()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def submit(when: str, kind=K.ACCESS, channel=Channel.WEB, n: int = 0, **kw):
    return submit_request(
        kind=kind,
        email=f"subject{n}@subjects.example",
        name="김민지",
        channel=channel,
        now=utc(when),
        actor="test",
        **kw,
    )


def close(request, target: S, when: str, reason: str | None = None) -> None:
    if request.status is S.RECEIVED_UNVERIFIED and target is not S.WITHDRAWN:
        change_status(request, S.VERIFIED, actor="t", now=request.received_at)
    change_status(request, target, actor="t", now=utc(when), reason=reason)


@pytest.fixture
def book(ctx) -> dict[str, object]:
    """Requests with known Seoul-local receipt and closing dates (2025-12 to 2026-03)."""
    admin = staff("boss@staff.example", StaffRole.ADMIN)
    odd = staff("=cmd@staff.example")
    actor = Actor.staff(admin)
    r: dict[str, object] = {}
    # 23:00 on 31 December in Seoul: December, outside a three-month range. Answered in time.
    r["x"] = submit("2025-12-31T14:00:00Z", n=1)
    close(r["x"], S.COMPLETED, "2026-01-02T01:00:00Z")
    # 01:00 on 1 January in Seoul (still 2025 in UTC): January. Answered after 4 days.
    r["j1"] = submit("2025-12-31T16:00:00Z", n=2)
    close(r["j1"], S.COMPLETED, "2026-01-05T01:00:00Z")
    # Saturday 10 January, answered 20 days later: late.
    r["j2"] = submit("2026-01-10T01:00:00Z", K.DELETION, Channel.EMAIL, n=3)
    close(r["j2"], S.COMPLETED, "2026-01-30T01:00:00Z")
    # 23:30 on 31 January in Seoul; refused at 00:30 on 11 February in Seoul (10 February
    # in UTC, the due date): one day late.
    r["j3"] = submit("2026-01-31T14:30:00Z", channel=Channel.STAFF, n=4, status=S.VERIFIED)
    decisions.refuse(
        r["j3"],
        "harm_to_others",
        "다른 사람의 권리를 침해합니다.",
        actor,
        utc("2026-02-10T15:30:00Z"),
    )
    # Withdrawn: counted in January, left out of timeliness.
    r["j4"] = submit("2026-01-15T01:00:00Z", n=5)
    close(r["j4"], S.WITHDRAWN, "2026-01-16T01:00:00Z")
    # 00:30 on 1 February in Seoul (31 January in UTC): February. Answered after 2 days.
    r["f1"] = submit("2026-01-31T15:30:00Z", K.CORRECTION, n=6)
    close(r["f1"], S.COMPLETED, "2026-02-03T01:00:00Z")
    r["f2"] = submit("2026-02-02T01:00:00Z", n=7)
    close(r["f2"], S.PARTIALLY_COMPLETED, "2026-02-06T01:00:00Z", reason="일부만 삭제 가능")
    # Open in March: two overdue on 20 March, one not yet due.
    r["m1"] = submit("2026-03-02T01:00:00Z", n=8, status=S.VERIFIED)
    r["m2"] = submit("2026-03-18T01:00:00Z", K.DELETION, Channel.EMAIL, n=9)
    r["m3"] = submit("2026-03-05T01:00:00Z", n=10, status=S.VERIFIED)
    decisions.assign(r["m3"], odd, actor, utc("2026-03-05T02:00:00Z"))
    change_status(r["m3"], S.IN_PROGRESS, actor="t", now=utc("2026-03-06T01:00:00Z"))
    return r


def test_the_due_dates_behind_the_figures(book):
    due = {key: request.due_date for key, request in book.items()}
    assert due["j1"] == date(2026, 1, 12)  # 11 January is a Sunday
    assert due["j2"] == date(2026, 1, 20)
    assert due["j3"] == date(2026, 2, 10)
    assert due["m1"] == date(2026, 3, 12)
    assert due["m3"] == date(2026, 3, 16)  # 15 March is a Sunday
    assert due["m2"] == date(2026, 3, 30)  # 28 March is a Saturday


def test_month_starts_run_oldest_first_across_years():
    assert month_starts(TODAY, 3) == [JAN, FEB, MAR]
    assert month_starts(date(2026, 1, 31), 2) == [DEC, JAN]
    assert len(month_starts(TODAY, 36)) == 36
    assert month_starts(TODAY, 36)[0] == date(2023, 4, 1)


def test_counts_use_the_seoul_month_of_receipt(book):
    assert counts_by_kind(TODAY, 3) == {
        JAN: {K.ACCESS: 3, K.DELETION: 1},
        FEB: {K.CORRECTION: 1, K.ACCESS: 1},
        MAR: {K.ACCESS: 2, K.DELETION: 1},
    }
    assert counts_by_status(TODAY, 3) == {
        JAN: {S.COMPLETED: 2, S.REFUSED: 1, S.WITHDRAWN: 1},
        FEB: {S.COMPLETED: 1, S.PARTIALLY_COMPLETED: 1},
        MAR: {S.VERIFIED: 1, S.RECEIVED_UNVERIFIED: 1, S.IN_PROGRESS: 1},
    }
    assert counts_by_channel(TODAY, 3) == {
        JAN: {Channel.WEB: 2, Channel.EMAIL: 1, Channel.STAFF: 1},
        FEB: {Channel.WEB: 2},
        MAR: {Channel.WEB: 2, Channel.EMAIL: 1},
    }
    assert counts_by_kind(TODAY, 4)[DEC] == {K.ACCESS: 1}


def test_on_time_rate_and_median_count_answered_requests_only(book):
    figures = timeliness(TODAY, 3)
    # January: 4, 20 and 11 days; only the first by the due date; the withdrawal left out.
    assert figures[JAN] == Timeliness(answered=3, on_time=1, median_days=11.0, on_time_promised=1)
    assert figures[JAN].rate == pytest.approx(1 / 3)
    # February: 2 and 4 days, both in time: the median of an even count is the mean of two.
    assert figures[FEB] == Timeliness(answered=2, on_time=2, median_days=3.0, on_time_promised=2)
    assert figures[FEB].rate == 1.0
    # Without promises the promised date is the legal one: both rates agree.
    assert figures[JAN].promised_rate == figures[JAN].rate
    assert figures[MAR] == Timeliness(answered=0, on_time=0, median_days=None)
    assert figures[MAR].rate is None


def test_monthly_figures_bring_it_together(book):
    months = monthly_figures(TODAY, 4)
    assert [m.label for m in months] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert [m.total for m in months] == [1, 4, 2, 3]
    assert months[0].timeliness == Timeliness(
        answered=1, on_time=1, median_days=2.0, on_time_promised=1
    )


def test_overdue_lists_open_requests_past_the_legal_date(book):
    assert [r.reference for r in overdue(TODAY)] == [book["m1"].reference, book["m3"].reference]
    assert overdue(date(2026, 3, 12)) == []  # the due date itself is still in time
    assert [r.reference for r in overdue(date(2026, 3, 31))] == [
        book["m1"].reference,
        book["m3"].reference,
        book["m2"].reference,
    ]


def _register(chunks) -> tuple[str, list[list[str]]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return text, list(csv.reader(io.StringIO(text[1:])))


def test_the_register_has_one_row_per_request_and_no_subject_data(book):
    text, rows = _register(register_csv())
    assert rows[0] == list(REGISTER_COLUMNS)
    by_ref = {row[0]: row for row in rows[1:]}
    assert len(by_ref) == len(book) == len(rows) - 1
    assert by_ref[book["j3"].reference] == [
        book["j3"].reference,
        "access",
        "refused",
        "staff",
        "KR",
        "2026-01-31T23:30:00+09:00",
        "2026-02-10",
        "",
        "2026-02-11T00:30:00+09:00",
        "no",
        "",
        "harm_to_others",
        "no",  # on_time_promised, appended: without a promise, as against the law
    ]
    assert by_ref[book["j1"].reference][5] == "2026-01-01T01:00:00+09:00"
    assert by_ref[book["j1"].reference][9] == "yes"
    assert by_ref[book["j4"].reference][9] == ""  # withdrawn: neither on time nor late
    m3 = by_ref[book["m3"].reference]
    assert (m3[2], m3[8], m3[9]) == ("in_progress", "", "")
    assert m3[10] == "'=cmd@staff.example"  # a formula is neutralised
    assert "subjects.example" not in text and "김민지" not in text
    # Oldest receipt first.
    assert [row[0] for row in rows[1:3]] == [book["x"].reference, book["j1"].reference]


def test_formula_cells_get_an_apostrophe():
    assert [safe_cell(v) for v in ("=1+1", "+82", "-3", "@SUM(A1)", "RD-1", "")] == [
        "'=1+1",
        "'+82",
        "'-3",
        "'@SUM(A1)",
        "RD-1",
        "",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 12), ("", 12), ("abc", 12), ("0", 12), ("37", 12), ("-3", 12), ("1", 1), ("36", 36)],
)
def test_months_parameter(value, expected):
    assert parse_months(value) == expected


# --- charts ------------------------------------------------------------------------------


def test_the_volume_chart_is_svg_with_escaped_labels_and_no_style():
    svg = str(
        stacked_bars(
            ["2026-01", "2026-02"],
            [Series("<b>열람</b>", [3, 1]), Series("삭제", [1, 0]), Series("none", [0, 0])],
            title='Requests "per" month',
            chart_id="c1",
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&gt;열람&lt;/b&gt;" in svg and "<b>" not in svg
    assert "Requests &#34;per&#34; month" in svg
    assert "style" not in svg and "<script" not in svg
    assert svg.count("<rect") == 3 + 2  # three bar segments, two legend swatches
    assert "none" not in svg  # a series without any value is left out of the legend
    assert "2026-01 · &lt;b&gt;열람&lt;/b&gt;: 3" in svg


def test_the_rate_chart_leaves_months_without_answers_empty():
    svg = str(rate_bars(["a", "b", "c"], [0.5, None, 1.0], title="t", chart_id="c2"))
    assert svg.count("<rect") == 2
    assert "50%" in svg and "100%" in svg
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[1] == pytest.approx(2 * heights[0])


def test_axis_tops_are_round():
    assert nice_top(0) == (1.0, 1.0)
    assert nice_top(3) == (3, 1)
    assert nice_top(7) == (8, 2)
    assert nice_top(23) == (25, 5)
    assert nice_top(480) == (500, 100)


# --- the pages ---------------------------------------------------------------------------


def sign_in(client, email: str) -> None:
    token = csrf(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def recent(app) -> dict[str, str]:
    """Staff of every role, an overdue request and an answered one, relative to today."""
    with app.app_context():
        for role in StaffRole:
            staff(f"{role.value}@staff.example", role)
        now = _now()
        late = submit((now - timedelta(days=40)).isoformat(), n=1, status=S.VERIFIED)
        done = submit((now - timedelta(days=2)).isoformat(), K.DELETION, n=2)
        close(done, S.COMPLETED, (now - timedelta(hours=1)).isoformat())
        return {"late": late.reference, "done": done.reference}


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_role_reads_the_reports_page(client, recent, role):
    sign_in(client, f"{role.value}@staff.example")
    response = client.get("/admin/reports")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<svg") == 2
    assert 'id="chart-volume"' in page and 'id="chart-on-time"' in page
    assert "style=" not in page and "<style" not in page
    # Nothing inline and nothing from elsewhere: only the site's own script file.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/app.js" defer>']
    assert recent["late"] in page  # overdue now
    assert recent["done"] not in page
    assert "subjects.example" not in page and "김민지" not in page
    assert len(re.findall(r'<tr data-month="\d{4}-\d{2}">', page)) == 12
    this_month = datetime.now(ZoneInfo("Asia/Seoul")).strftime("%Y-%m")
    assert f'<tr data-month="{this_month}">' in page


@pytest.mark.parametrize(("query", "rows"), [("3", 3), ("36", 36), ("0", 12), ("x", 12)])
def test_the_months_query_picks_the_range(client, recent, query, rows):
    sign_in(client, "auditor@staff.example")
    page = client.get(f"/admin/reports?months={query}").get_data(as_text=True)
    assert len(re.findall(r'<tr data-month="\d{4}-\d{2}">', page)) == rows


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_role_downloads_the_register(client, recent, role):
    sign_in(client, f"{role.value}@staff.example")
    response = client.get("/admin/reports/register.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=request-reg")
    text, rows = _register([response.get_data(as_text=True)])
    assert sorted(row[0] for row in rows[1:]) == sorted(recent.values())
    assert "subjects.example" not in text


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports/register.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
