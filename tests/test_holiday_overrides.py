"""An operator's holiday override re-dates every open request, and only open ones."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, Request
from tests.helpers import make_request


def _open_and_closed(app) -> tuple[str, str]:
    with app.app_context():
        open_request = make_request(
            email="a@example.com", name=None, received="2026-12-21T01:00:00Z", verified=False
        )
        closed = make_request(
            email="b@example.com",
            name=None,
            received="2026-12-21T02:00:00Z",
            verified=False,
            status=Status.WITHDRAWN,
            at="2026-12-22T01:00:00Z",
        )
        assert open_request.due_date == closed.due_date == date(2026, 12, 31)
        return open_request.reference, closed.reference


def _due(app, reference: str) -> date:
    with app.app_context():
        return db.session.scalar(select(Request.due_date).where(Request.reference == reference))


def test_adding_a_temporary_holiday_re_dates_open_requests(app, runner):
    open_ref, closed_ref = _open_and_closed(app)
    result = runner.invoke(args=["holidays", "add", "2026-12-31", "--name", "임시공휴일"])
    assert result.exit_code == 0, result.output
    assert "re-dated 1 of 1 open request(s)" in result.output
    assert f"{open_ref}: 2026-12-31 -> 2027-01-04" in result.output
    assert _due(app, open_ref) == date(2027, 1, 4)
    assert _due(app, closed_ref) == date(2026, 12, 31)

    listed = runner.invoke(args=["holidays", "list", "--year", "2026"])
    assert "2026-12-31\toverride\t임시공휴일" in listed.output
    assert "2026-09-25\tholidays\t추석" in listed.output

    cleared = runner.invoke(args=["holidays", "clear", "2026-12-31"])
    assert cleared.exit_code == 0
    assert _due(app, open_ref) == date(2026, 12, 31)
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions.count("request.redated") == 2
    assert "holiday.add" in actions and "holiday.cleared" in actions


def test_removing_a_listed_holiday_makes_it_a_working_day(app, runner):
    with app.app_context():
        request = make_request(
            email="a@example.com", name=None, received="2025-09-24T01:00:00Z", verified=False
        )
        reference = request.reference
    result = runner.invoke(
        args=["holidays", "remove", "2025-10-09", "--reason", "정부 발표 정정 (test)"]
    )
    assert result.exit_code == 0
    assert _due(app, reference) == date(2025, 10, 9)


def test_bad_holiday_input_is_refused(runner):
    assert runner.invoke(args=["holidays", "add", "2026-02-30", "--name", "x"]).exit_code == 2
    assert runner.invoke(args=["holidays", "add", "2026-03-03", "--name", " "]).exit_code == 2
    missing = runner.invoke(args=["holidays", "clear", "2026-03-03"])
    assert missing.exit_code == 2
    assert "no override for 2026-03-03" in missing.output


def test_a_policy_promise_sets_a_shorter_working_date_but_never_a_longer_one(app, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    with app.app_context():
        request = make_request(
            email="c@example.com", name=None, received="2025-11-10T01:00:00Z", verified=False
        )
        reference = request.reference
    result = runner.invoke(args=["policy", "promise", "--kind", "access", "--days", "7"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = db.session.scalar(select(Request).where(Request.reference == reference))
        assert stored.due_date == date(2025, 11, 20)
        assert stored.promised_due_date == date(2025, 11, 17)
    longer = runner.invoke(args=["policy", "promise", "--kind", "access", "--days", "30"])
    assert longer.exit_code == 2
    assert "never lengthen" in longer.output
    shown = runner.invoke(args=["policy", "show"])
    assert "access\t10 days" in shown.output and "promised: 7 days" in shown.output
