"""A period the operator's policy promises (seed 003: access answered within 7 days) is kept
everywhere the law's is: queue marks, the digest, the reports, the refusal-notice due date, the
home page and the published rights section; the statute stays visible beside it. Without a
promise nothing changes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from rightsdesk.cli.notify import notify_group
from rightsdesk.core.actors import Actor
from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import SUBJECT_KINDS
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status as S
from rightsdesk.domain.policy import generated_sections
from rightsdesk.domain.profiles import Period, Unit, builtin_profiles
from rightsdesk.domain.right_periods import period_text, right_periods
from rightsdesk.models import StaffRole
from rightsdesk.organisation.setup import promise_period
from rightsdesk.organisation.staff import create_staff
from rightsdesk.policy.versions import facts
from rightsdesk.reports.figures import overdue, register_csv, timeliness
from rightsdesk.requests import decisions
from rightsdesk.requests.lifecycle import change_status
from rightsdesk.requests.queue import due_marks
from tests.helpers import make_request, organisation, sign_in, utc

TODAY = date(2026, 3, 20)  # a Friday
# Received Thursday 12 March (10:00 in Seoul): the law's 10 days end on Sunday 22 March, so
# Monday 23 March; the promised 7 days end on Thursday 19 March.
RECEIVED = "2026-03-12T01:00:00Z"
LEGAL, PROMISED = date(2026, 3, 23), date(2026, 3, 19)


def _promise(days: int | None, kind: K = K.ACCESS) -> None:
    promise_period(
        kind=kind, days=days, jurisdiction=None, actor=Actor("test"), now=datetime.now(UTC)
    )


@pytest.fixture
def promised(ctx):
    """The operator, with seed 003's promise: access requests answered within 7 days."""
    organisation(ctx)
    _promise(7)
    return ctx


@pytest.fixture
def unpromised(ctx):
    organisation(ctx)
    return ctx


# --- the dates of one request ------------------------------------------------------------------


def test_past_the_promise_but_not_the_law_is_overdue_in_the_queue(promised):
    request = make_request(received=RECEIVED)
    assert (request.due_date, request.promised_due_date) == (LEGAL, PROMISED)
    assert due_marks([request], TODAY) == {request.id: "overdue"}
    assert due_marks([request], PROMISED) == {request.id: "soon"}  # the promised day itself
    # A kind without a promise keeps the law's date.
    deletion = make_request(K.DELETION, received=RECEIVED, email="lee@example.com")
    assert deletion.promised_due_date is None
    assert due_marks([deletion], TODAY) == {deletion.id: "soon"}


def test_without_a_promise_the_same_request_is_only_due_soon(unpromised):
    request = make_request(received=RECEIVED)
    assert (request.due_date, request.promised_due_date) == (LEGAL, None)
    assert due_marks([request], TODAY) == {request.id: "soon"}
    assert due_marks([request], LEGAL + timedelta(days=1)) == {request.id: "overdue"}


def test_the_refusal_notice_is_due_by_the_promise_too(promised):
    request = make_request(received=RECEIVED)
    assert request.notice_due_date == PROMISED
    _promise(None)  # dropped: the statute's notice period again
    assert request.notice_due_date == LEGAL
    _promise(9)
    assert request.notice_due_date == date(2026, 3, 23)  # 21 March is a Saturday


def test_an_extension_keeps_the_notice_within_the_original_promise(ctx):
    organisation(ctx)
    _promise(25, K.AUTOMATED_DECISION)
    request = make_request(K.AUTOMATED_DECISION, received=RECEIVED)
    notice = request.notice_due_date
    assert notice == LEGAL  # the statute's 10-day notice comes before a 25-day promise
    _promise(5, K.AUTOMATED_DECISION)
    assert request.notice_due_date == date(2026, 3, 17)
    change_status(request, S.IN_PROGRESS, actor="test", now=utc("2026-03-13T01:00:00Z"))
    decisions.extend(
        request,
        reason="복잡한 설명 요구",
        actor=Actor("test"),
        now=utc("2026-03-14T01:00:00Z"),
    )
    assert request.extension_count == 1 and request.promised_due_date > date(2026, 4, 1)
    assert request.notice_due_date == date(2026, 3, 17)


def test_the_request_page_shows_the_notice_date_and_the_statute_beside_it(app):
    organisation(app)
    with app.app_context():
        _promise(7)
        reference = make_request(received=RECEIVED).reference
        _promise(None, K.DELETION)
        other = make_request(K.DELETION, received=RECEIVED, email="lee@example.com").reference
    client = sign_in(app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert '<span id="notice-due">2026-03-19</span>' in page
    assert '<span id="legal-notice-due">(법정 기한 2026-03-23)</span>' in page
    page = client.get(f"/admin/requests/{other}").get_data(as_text=True)
    assert '<span id="notice-due">2026-03-23</span>' in page and "legal-notice-due" not in page


# --- the digest --------------------------------------------------------------------------------


def _assigned_request(app) -> str:
    with app.app_context():
        hana = create_staff(
            email="hana@staff.example",
            name="hana",
            role=StaffRole.HANDLER,
            password="x" * 12,
            actor="t",
            now=datetime.now(UTC),
        )
        request = make_request(received=RECEIVED)
        decisions.assign(request, hana, Actor.staff(hana), request.received_at)
        return request.reference


@pytest.mark.parametrize(
    ("days", "line"), [(7, "0 due soon\t1 overdue"), (None, "1 due soon\t0 overdue")]
)
def test_the_digest_judges_by_the_promise_and_shows_both_dates(app, runner, smtp, days, line):
    organisation(app)
    if days:
        with app.app_context():
            _promise(days)
    reference = _assigned_request(app)
    result = runner.invoke(notify_group, ["digest", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"hana@staff.example\t{line}"
    with app.app_context():
        report = deliver_due(now=datetime.now(UTC), worker="t")
        assert report.failed == 0, report.errors
    (mail,) = smtp.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert reference in text and "법정 기한 2026-03-23" in text
    assert ("(약속 2026-03-19)" in text) is bool(days)
    assert ("기한 경과: 약속한 기한 또는 법정 기한이 지난 요청" in text) is bool(days)


# --- reports -----------------------------------------------------------------------------------


def _answered(closed: str):
    request = make_request(received=RECEIVED, email=f"{closed[:10]}@example.com")
    change_status(request, S.COMPLETED, actor="test", now=utc(closed))
    return request


def test_the_on_time_rate_is_counted_against_the_promise_and_the_law(promised):
    _answered("2026-03-18T01:00:00Z")  # in time for both
    _answered("2026-03-21T01:00:00Z")  # Saturday: past the promise, within the law
    _answered("2026-03-24T01:00:00Z")  # late for both
    march = timeliness(date(2026, 3, 31), 1)[date(2026, 3, 1)]
    assert (march.answered, march.on_time_promised, march.on_time) == (3, 1, 2)
    assert march.promised_rate == pytest.approx(1 / 3) and march.rate == pytest.approx(2 / 3)
    rows = [line.split(",") for line in "".join(register_csv()).splitlines()[1:]]
    # on_time against the law stays in its column; against the promise is appended last.
    assert [(row[9], row[-1]) for row in rows] == [("yes", "yes"), ("yes", "no"), ("no", "no")]


def test_without_promises_both_rates_are_the_same(unpromised):
    _answered("2026-03-21T01:00:00Z")
    march = timeliness(date(2026, 3, 31), 1)[date(2026, 3, 1)]
    assert (march.answered, march.on_time_promised, march.on_time) == (1, 1, 1)


def test_overdue_now_goes_by_the_promise(promised):
    late = make_request(received=RECEIVED)
    make_request(K.DELETION, received=RECEIVED, email="lee@example.com")  # no promise: 23 March
    assert [r.reference for r in overdue(TODAY)] == [late.reference]
    assert overdue(PROMISED) == []


def test_the_reports_page_shows_both_rates_and_both_dates(app):
    organisation(app)
    now = datetime.now(UTC)
    with app.app_context():
        _promise(1)
        # Answered after 9 days: within the law's 10, past the promised 1.
        done = make_request(received=now - timedelta(days=12))
        change_status(done, S.COMPLETED, actor="test", now=now - timedelta(days=3))
        late = make_request(received=now - timedelta(days=40), email="lee@example.com")
        dates = (late.promised_due_date.isoformat(), late.due_date.isoformat())
    client = sign_in(app, StaffRole.AUDITOR)
    page = client.get("/admin/reports?months=3").get_data(as_text=True)
    assert "약속한 기한 준수율" in page and "법정 기한 준수율" in page
    on_time = page[page.index('id="on-time"') :]
    assert re.findall(r'<td class="number promised-rate">([^<]*)</td>', on_time).count("0.0%") == 1
    assert "100.0%" in on_time
    overdue_table = page[page.index("report-overdue") : page.index('id="volume"')]
    assert late.reference in overdue_table
    assert f'<td class="due overdue promised">{dates[0]}</td>' in overdue_table
    assert f'<td class="due legal overdue">{dates[1]}</td>' in overdue_table


# --- the home page and the published rights section -------------------------------------------


def _period_of(html: str, kind: str) -> str:
    match = re.search(rf'data-kind="{kind}">.*?<span class="muted period">(.*?)</span>', html, re.S)
    assert match, kind
    return " ".join(match.group(1).split())


def test_the_home_page_gives_each_right_its_period_and_the_promise(app, client):
    organisation(app)
    with app.app_context():
        _promise(7)
    html = client.get("/").get_data(as_text=True)
    assert _period_of(html, "access").startswith("— 7일 이내 답변 (법정 기간 10일)")
    assert _period_of(html, "correction").startswith("— 10일 이내 답변 (")
    assert _period_of(html, "automated_decision").startswith("— 30일 이내 답변 (")
    assert _period_of(html, "consent_withdrawal").startswith("— 지체 없이 답변 (처리 목표 10일")
    english = client.get("/?lang=en").get_data(as_text=True)
    assert _period_of(english, "access").startswith(
        "— answer within 7 days (the law allows 10 days)"
    )
    assert _period_of(english, "automated_decision").startswith("— answer within 30 days (")


def test_without_a_promise_the_home_page_gives_the_law_s_periods(app, client):
    organisation(app)
    html = client.get("/").get_data(as_text=True)
    assert _period_of(html, "access").startswith("— 10일 이내 답변 (법")
    assert "법정 기간" not in html
    assert _period_of(html, "automated_decision").startswith("— 30일 이내 답변 (")


def test_the_published_rights_section_states_each_period(promised):
    ko = generated_sections(facts(), "ko")["rights"]
    en = generated_sections(facts(), "en")["rights"]
    assert "kind=access&lang=ko>): 7일 이내 (법정 기간: 10일)" in ko
    assert "kind=correction&lang=ko>): 10일 이내\n" in ko
    assert "kind=automated_decision&lang=ko>): 30일 이내\n" in ko
    assert "kind=consent_withdrawal&lang=ko>): 지체 없이 (처리 목표: 10일 이내)" in ko
    intro = ko.split("\n")[2]  # no longer one period for every right
    assert "권리별로 아래 기간 이내에" in intro and "10일" not in intro
    assert "kind=access&lang=en>): within 7 days (statutory period: 10 days)" in en
    assert "kind=automated_decision&lang=en>): within 30 days\n" in en
    assert "{days}" not in en


def test_without_promises_the_rights_section_gives_the_law_s_periods(unpromised):
    ko = generated_sections(facts(), "ko")["rights"]
    assert "kind=access&lang=ko>): 10일 이내\n" in ko and "법정 기간" not in ko


def test_right_periods_drop_a_promise_equal_to_the_law():
    profiles = builtin_profiles()
    profile = profiles["KR"]
    promises = {K.ACCESS: Period(10, Unit.DAYS), K.DELETION: Period(3, Unit.DAYS)}
    rights = {r.kind: r for r in right_periods(profile, SUBJECT_KINDS, promises)}
    assert rights[K.ACCESS].promised is None
    assert rights[K.DELETION].working == Period(3, Unit.DAYS)
    assert period_text(rights[K.DELETION], "en") == "within 3 days (statutory period: 10 days)"
    eu = right_periods(profiles["EU"], [K.ACCESS], {})[0]
    assert period_text(eu, "ko") == "1개월 이내" and period_text(eu, "en") == "within 1 month"


@pytest.mark.parametrize(
    ("kind", "legal"),
    [(K.CONSENT_WITHDRAWAL, False), (K.ACCESS, True)],
)
def test_the_acknowledgement_calls_a_target_a_target_and_a_statutory_period_the_law(
    ctx, smtp, kind, legal
):
    """Consent withdrawal has no number in the law ("지체 없이", legal.md §1): its 10 days are
    the operator's working target and the acknowledgement must not call them a legal deadline."""
    organisation(ctx)
    make_request(kind, email="ack@example.com", mail=True)
    deliver_due(now=datetime.now(UTC), worker="t")
    acknowledgement = [m for m in smtp.messages if "접수" in str(m["Subject"])][-1]
    body = acknowledgement.get_body(preferencelist=("plain",)).get_content()
    assert ("법정 처리 기한" in body) is legal
    assert ("지체 없이" in body) is not legal
