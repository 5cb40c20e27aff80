"""Stored requests: references, due dates, lifecycle moves, and `rightsdesk requests list`."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import inspect, select

from rightsdesk.domain.deadlines import ExtensionNotAllowed
from rightsdesk.domain.identity import InvalidEmail
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import IllegalTransition, Status
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, Channel, RepresentativeRole, Request, Subject
from rightsdesk.requests.lifecycle import change_status, submit_request
from rightsdesk.requests.lookup import by_reference
from tests.helpers import make_app, utc


def submit(kind=K.ACCESS, email="Kim.MinJi@Example.COM ", when="2025-09-24T01:00:00Z", **kw):
    return submit_request(
        kind=kind,
        email=email,
        name=kw.pop("name", "김민지"),
        channel=kw.pop("channel", Channel.WEB),
        now=utc(when),
        actor="test",
        **kw,
    )


def test_a_request_gets_a_yearly_reference_its_due_dates_and_an_audit_event(ctx):
    first = submit()
    second = submit(K.DELETION, when="2025-09-25T01:00:00Z")
    assert first.reference == "RD-2025-000001"
    assert second.reference == "RD-2025-000002"
    assert first.due_date == date(2025, 10, 10)
    assert first.notice_due_date == date(2025, 10, 10)
    assert first.status is Status.RECEIVED_UNVERIFIED
    assert first.subject.email == "kim.minji@example.com"
    assert first.subject is second.subject
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["request.received", "request.received"]
    assert "example.com" not in events[0].data and "김민지" not in events[0].data


def test_a_request_is_found_by_its_reference_and_only_by_a_string(ctx):
    first, second = submit(), submit(K.DELETION, when="2025-09-25T01:00:00Z")
    db.session.commit()
    known = {r.reference: (r.id, r.kind) for r in (first, second)}
    db.session.expunge_all()  # found by the statement, not from the session's memory
    for reference, (request_id, kind) in known.items():
        found = by_reference(reference)
        assert (found.id, found.kind, found.reference) == (request_id, kind, reference)
    assert by_reference("RD-2025-999999") is None
    assert by_reference(None) is None  # a status token whose payload names no reference
    assert by_reference(["RD-2025-000001"]) is None


def _columns(request: Request) -> dict:
    return {c.key: getattr(request, c.key) for c in inspect(Request).column_attrs}


def test_a_request_found_by_reference_is_the_one_the_orm_loads_and_the_session_tracks_it(ctx):
    request = submit(scope={"tables": ["orders"]}, details="주문 내역")
    change_status(request, Status.VERIFIED, actor="test", now=utc("2025-09-24T02:00:00Z"))
    db.session.commit()
    reference = request.reference
    db.session.expunge_all()
    by_orm = _columns(db.session.scalars(select(Request).where(Request.id == request.id)).one())
    db.session.expunge_all()

    found = by_reference(reference)
    assert _columns(found) == by_orm  # every column, with its type (enums, UTC times, JSON)
    assert found.received_at.tzinfo is not None and found.kind is K.ACCESS
    state = inspect(found)
    assert state.persistent and not state.modified and found not in db.session.dirty
    assert found.subject.email == "kim.minji@example.com"  # relationships load on access
    found.status_reason = "checked"
    db.session.commit()  # an UPDATE of the changed column, as for any loaded object
    db.session.expunge_all()
    again = by_reference(reference)
    assert again.status_reason == "checked" and _columns(again) | {"status_reason": None} == (
        by_orm | {"status_reason": None}
    )


def test_a_request_found_by_reference_sees_the_sessions_unflushed_changes_and_instances(ctx):
    request = submit()
    db.session.commit()
    request.status_reason = "not yet flushed"
    # The ORM's query flushes first: so does the lookup, and returns the very instance.
    assert by_reference(request.reference) is request
    assert db.session.scalar(select(Request.status_reason)) == "not yet flushed"
    db.session.commit()
    db.session.expire(request)
    assert by_reference(request.reference) is request  # the session's instance, reloaded
    assert request.status_reason == "not yet flushed"
    added = Request(
        **{k: v for k, v in _columns(request).items() if k != "id"}
        | {"reference": "RD-2025-000099", "status_secret": "s" * 64}
    )
    db.session.add(added)  # not flushed: the ORM's query flushes it, and so finds it
    assert by_reference("RD-2025-000099") is added


def test_the_reference_year_is_the_seoul_year(ctx):
    request = submit(when="2025-12-31T16:00:00Z")  # 2026-01-01 01:00 in Seoul
    assert request.reference == "RD-2026-000001"


def test_a_representative_is_stored_with_a_normalised_address(ctx):
    request = submit(
        representative=(RepresentativeRole.LEGAL_GUARDIAN, "정우성", " Guardian@Example.com")
    )
    assert request.representative.role is RepresentativeRole.LEGAL_GUARDIAN
    assert request.representative.email == "guardian@example.com"


def test_a_bad_email_is_refused_and_nothing_is_stored(ctx):
    with pytest.raises(InvalidEmail):
        submit(email="not an address")
    db.session.rollback()
    assert db.session.scalars(select(Subject)).all() == []
    assert db.session.scalars(select(Request)).all() == []


def test_moving_through_the_lifecycle_and_extending_moves_the_due_date(ctx):
    request = submit()
    change_status(request, Status.VERIFIED, actor="test", now=utc("2025-09-24T02:00:00Z"))
    change_status(request, Status.IN_PROGRESS, actor="test", now=utc("2025-09-25T02:00:00Z"))
    # 법 §35③ 후문: access deferred until its ground ends; the request then carries the
    # operator's internal review date, and the notice date stays the statutory 10 Oct.
    request.deferral_review_on = date(2025, 10, 20)
    change_status(
        request,
        Status.EXTENDED,
        actor="test",
        now=utc("2025-09-26T02:00:00Z"),
        reason="archived order records must be restored first",
    )
    assert request.extension_count == 1
    assert request.due_date == date(2025, 10, 20)
    assert request.notice_due_date == date(2025, 10, 10)
    assert request.verified_at == utc("2025-09-24T02:00:00Z")
    change_status(request, Status.COMPLETED, actor="test", now=utc("2025-10-01T02:00:00Z"))
    assert request.closed_at == utc("2025-10-01T02:00:00Z")
    actions = db.session.scalars(select(AuditEvent.data).order_by(AuditEvent.seq)).all()
    assert json.loads(actions[-1])["to"] == "completed"


def test_illegal_moves_and_extensions_change_nothing(ctx):
    request = submit(K.DELETION)
    with pytest.raises(IllegalTransition):
        change_status(request, Status.COMPLETED, actor="test", now=utc("2025-09-24T02:00:00Z"))
    change_status(request, Status.VERIFIED, actor="test", now=utc("2025-09-24T02:00:00Z"))
    with pytest.raises(ExtensionNotAllowed):
        change_status(
            request, Status.EXTENDED, actor="test", now=utc("2025-09-24T03:00:00Z"), reason="busy"
        )
    db.session.rollback()
    stored = db.session.get(Request, request.id)
    assert stored.status is Status.VERIFIED
    assert stored.extension_count == 0


def test_requests_list_prints_one_line_per_request_sorted_by_due_date(app, runner):
    with app.app_context():
        late = submit(K.ACCESS, when="2025-09-24T01:00:00Z")
        early = submit(
            K.DELETION, email="park@example.com", when="2025-09-01T01:00:00Z", channel=Channel.EMAIL
        )
        change_status(early, Status.VERIFIED, actor="t", now=utc("2025-09-01T02:00:00Z"))
        refs = (early.reference, late.reference)
    result = runner.invoke(args=["requests", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(refs)
    assert lines[0].split("\t") == [
        refs[0],
        "deletion",
        "verified",
        "email",
        "2025-09-01T10:00+09:00",
        "2025-09-11",
    ]

    filtered = runner.invoke(args=["requests", "list", "--status", "received-unverified"])
    assert [line.split("\t")[0] for line in filtered.output.splitlines()] == [refs[1]]
    by_kind = runner.invoke(args=["requests", "list", "--kind", "deletion"])
    assert [line.split("\t")[0] for line in by_kind.output.splitlines()] == [refs[0]]

    as_json = json.loads(runner.invoke(args=["requests", "list", "--json"]).output)
    assert as_json[0]["reference"] == refs[0]
    assert set(as_json[0]) >= {"reference", "kind", "status", "channel", "received", "due", "email"}
    assert as_json[1]["email"] == "kim.minji@example.com"


def test_requests_list_rejects_unknown_filters(runner):
    result = runner.invoke(args=["requests", "list", "--status", "pending"])
    assert result.exit_code == 2
    assert "unknown status 'pending'; accepted:" in result.output
    result = runner.invoke(args=["requests", "list", "--kind", "erase"])
    assert result.exit_code == 2


def test_waiting_on_the_subject_pauses_the_clock_only_where_the_profile_allows(ctx):
    kr = submit(K.ACCESS, when="2025-11-03T01:00:00Z")
    eu = submit(K.ACCESS, email="eu@example.com", when="2025-11-03T01:00:00Z", jurisdiction="EU")
    assert (kr.due_date, eu.due_date) == (date(2025, 11, 13), date(2025, 12, 3))
    for request in (kr, eu):
        change_status(request, Status.VERIFIED, actor="t", now=utc("2025-11-03T02:00:00Z"))
        change_status(request, Status.AWAITING_SUBJECT, actor="t", now=utc("2025-11-04T02:00:00Z"))
        change_status(request, Status.IN_PROGRESS, actor="t", now=utc("2025-11-09T02:00:00Z"))
    assert kr.paused_days == 0 and kr.due_date == date(2025, 11, 13)
    # Five days waiting: 3 Dec + 5 = 8 Dec (a Monday).
    assert eu.paused_days == 5 and eu.due_date == date(2025, 12, 8)
    assert eu.awaiting_since is None


def test_an_extension_says_by_when_the_subject_must_be_told(runner):
    result = runner.invoke(
        args=[
            "deadline",
            "--received",
            "2025-09-24T10:00+09:00",
            "--kind",
            "access",
            "--extended",
            "--json",
        ]
    )
    data = json.loads(result.output)
    assert data["due"] == "2025-10-10"  # a deferral until the ground ends moves no date
    assert data["extension_notice_by"] == "2025-10-10"


def test_a_profile_may_start_the_clock_at_verification(database_url, tmp_path):
    from rightsdesk.extensions import db as database

    periods = "\n".join(f'{k.value} = {{ amount = 14, unit = "days" }}' for k in K)
    profile_file = tmp_path / "profiles.toml"
    profile_file.write_text(
        '[XV]\nname = "verification clock"\ncalendar = "KR"\nroll_forward = true\n'
        f'clock_starts = "verification"\n[XV.periods]\n{periods}\n'
        '[XV.notice]\namount = 14\nunit = "days"\n'
    )
    app = make_app(database_url, PROFILES_FILE=str(profile_file))
    with app.app_context():
        request = submit(K.ACCESS, when="2025-11-03T01:00:00Z", jurisdiction="XV")
        assert request.due_date == date(2025, 11, 17)  # provisional: from receipt
        change_status(request, Status.VERIFIED, actor="t", now=utc("2025-11-06T01:00:00Z"))
        assert request.due_date == date(2025, 11, 20)
        database.session.remove()
        database.engine.dispose()
