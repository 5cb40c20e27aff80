"""`rightsdesk notify digest`: one mail per admin or handler with requests due, through a real
SMTP server, naming references only, never the data subjects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from rightsdesk.cli.notify import notify_group
from rightsdesk.core.actors import Actor
from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status as S
from rightsdesk.extensions import db
from rightsdesk.models import Channel, OutboxMessage, RepresentativeRole, StaffRole
from rightsdesk.organisation.staff import create_staff, set_active
from rightsdesk.requests import decisions
from rightsdesk.requests.lifecycle import change_status, submit_request
from tests.helpers import utc

TODAY = "2026-03-20"  # a Friday: "due soon" reaches Tuesday 24 March


def _now() -> datetime:
    return datetime.now(UTC)


def _staff(email: str, role: StaffRole = StaffRole.HANDLER):
    return create_staff(
        email=email, name=email.split("@")[0], role=role, password="x" * 12, actor="t", now=_now()
    )


def _request(received: str, n: int, **kw):
    return submit_request(
        kind=kw.pop("kind", K.ACCESS),
        email=f"subject{n}@subjects.example",
        name="김민지",
        channel=Channel.WEB,
        now=utc(received),
        actor="test",
        status=S.VERIFIED,
        **kw,
    )


@pytest.fixture
def desk(app) -> dict[str, str]:
    """Staff of every kind and requests around 20 March 2026; returns references by name."""
    with app.app_context():
        boss = _staff("boss@staff.example", StaffRole.ADMIN)
        _staff("audi@staff.example", StaffRole.AUDITOR)
        hana, bora = _staff("hana@staff.example"), _staff("bora@staff.example")
        chul, gone = _staff("chul@staff.example"), _staff("gone@staff.example")
        actor = Actor.staff(boss)
        agent = (RepresentativeRole.AGENT, "정우성", "agent@subjects.example")
        made = {
            "h_over1": (_request("2026-03-05T01:00:00Z", 1, representative=agent), hana),
            "h_over2": (_request("2026-03-09T01:00:00Z", 2, kind=K.DELETION), hana),
            "h_soon": (_request("2026-03-13T01:00:00Z", 3), hana),
            "h_later": (_request("2026-03-18T01:00:00Z", 4), hana),
            "h_closed": (_request("2026-03-02T01:00:00Z", 5), hana),
            "b_soon": (_request("2026-03-12T01:00:00Z", 6), bora),
            "c_later": (_request("2026-03-18T02:00:00Z", 7), chul),
            "g_over": (_request("2026-03-03T01:00:00Z", 8), gone),
            "unassigned": (_request("2026-03-06T01:00:00Z", 9), None),
        }
        for request, assignee in made.values():
            if assignee is not None:
                decisions.assign(request, assignee, actor, request.received_at)
        change_status(made["h_closed"][0], S.COMPLETED, actor="t", now=utc("2026-03-04T01:00:00Z"))
        set_active(gone, False, actor="t", now=_now())
        due = {name: request.due_date for name, (request, _) in made.items()}
        assert due["h_over1"] == date(2026, 3, 16)
        assert due["h_over2"] == date(2026, 3, 19)
        assert due["h_soon"] == due["b_soon"] == date(2026, 3, 23)
        assert due["h_later"] == date(2026, 3, 30)
        return {name: request.reference for name, (request, _) in made.items()}


def _outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def _deliver(app) -> None:
    with app.app_context():
        report = deliver_due(now=_now(), worker="t")
        assert report.failed == 0 and report.retrying == 0, report.errors


def _whole(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return f"{message['Subject']}\n{text}\n{html}"


def test_one_digest_per_member_of_staff_with_requests_due(app, runner, smtp, desk):
    result = runner.invoke(notify_group, ["digest", "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "bora@staff.example\t1 due soon\t0 overdue",
        "boss@staff.example\t0 due soon\t1 overdue",
        "hana@staff.example\t1 due soon\t2 overdue",
        "queued 3 digest(s)",
    ]
    _deliver(app)
    mails = {str(m["To"]): m for m in smtp.messages}
    assert sorted(mails) == ["bora@staff.example", "boss@staff.example", "hana@staff.example"]
    with app.app_context():
        stored = db.session.scalars(select(OutboxMessage)).all()
        assert {(m.template, m.language, m.request_ref) for m in stored} == {("digest", "ko", None)}

    listed = {
        "hana@staff.example": {"h_over1", "h_over2", "h_soon"},
        "bora@staff.example": {"b_soon"},
        "boss@staff.example": {"unassigned"},
    }
    for address, names in listed.items():
        whole = _whole(mails[address])
        for name, reference in desk.items():
            assert (reference in whole) is (name in names), (address, name)
        for name in names:
            link = f"http://rightsdesk.test/admin/requests/{desk[name]}"
            assert whole.count(link) == 2, (address, name)  # in the text and the HTML part
        assert "subjects.example" not in whole  # neither subjects' nor agents' addresses
        assert "김민지" not in whole and "정우성" not in whole

    hana = mails["hana@staff.example"].get_body(preferencelist=("plain",)).get_content()
    # Overdue first, soonest legal date first; then what is due soon.
    positions = [hana.index(desk[name]) for name in ("h_over1", "h_over2", "h_soon")]
    assert positions == sorted(positions)
    assert "2026-03-16" in hana and "2026-03-23" in hana


def test_nothing_due_means_no_mail(app, runner, smtp, desk):
    result = runner.invoke(notify_group, ["digest", "--today", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["queued 0 digest(s)"]
    assert _outbox_count(app) == 0
    _deliver(app)
    assert smtp.messages == []


def test_dry_run_prints_and_queues_nothing(app, runner, smtp, desk):
    result = runner.invoke(notify_group, ["digest", "--dry-run", "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert "hana@staff.example\t1 due soon\t2 overdue" in result.output
    assert result.output.splitlines()[-1].startswith("dry run: 3 digest(s) would be queued")
    assert _outbox_count(app) == 0
    _deliver(app)
    assert smtp.messages == []


def test_today_defaults_to_the_operator_local_day(app, runner):
    with app.app_context():
        hana = _staff("hana@staff.example")
        request = _request((_now() - timedelta(days=40)).isoformat(), 1)
        decisions.assign(request, hana, Actor.staff(hana), _now())
    result = runner.invoke(notify_group, ["digest", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "hana@staff.example\t0 due soon\t1 overdue"


def test_a_malformed_day_is_refused(runner):
    result = runner.invoke(notify_group, ["digest", "--today", "2026-02-30"])
    assert result.exit_code == 2
