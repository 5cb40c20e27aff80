"""Outside Korea: the operator's region (EU Member State, UK nation), the supervisory authority
its refusal notices name, what each law requires a refusal to say, and UK GDPR Art. 12A."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import func, select, text

from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import JurisdictionSetting, Request, StaffRole
from rightsdesk.requests.deadlines import apply_deadline
from rightsdesk.requests.lifecycle import change_status
from tests.helpers import (
    act,
    body_of,
    csrf,
    make_app,
    make_request,
    new_request,
    organisation,
    send_mail,
    sign_in,
)


def _setting_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(JurisdictionSetting))


# --- setting the region ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["org", "jurisdiction", "EU", "--region", "XX"], "AT, BE, BG"),
        (["org", "jurisdiction", "EU", "--region", "DE-XX"], "DE-BY"),
        (["org", "jurisdiction", "UK", "--region", "london"], "ENG, NIR, SCT, WLS"),
        (["org", "jurisdiction", "KR", "--region", "SEOUL"], "takes no region"),
        (["org", "jurisdiction", "JP"], "accepted: BR, EU, KR, UK, US-CA"),
    ],
)
def test_an_unknown_region_is_refused_with_the_valid_codes_and_nothing_is_written(
    app, runner, args, listed
):
    organisation(app)
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert listed in result.output and len(result.output.strip().splitlines()) == 1
    assert _setting_rows(app) == 0


def test_org_setup_refuses_an_unknown_member_state_before_writing_anything(app, runner):
    base = ["org", "setup", "--slug", "s", "--name-ko", "가", "--name-en", "A"]
    base += ["--officer-name", "홍길동", "--officer-email", "p@s.example"]
    refused = runner.invoke(args=[*base, "--eu-member-state", "EN"])
    assert refused.exit_code == 2 and "valid: AT, BE" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Request)) == 0
    assert runner.invoke(args=["org", "jurisdiction", "EU", "--json"]).output.count("FR") == 0
    accepted = runner.invoke(args=[*base, "--eu-member-state", "fr", "--uk-subdivision", "sct"])
    assert accepted.exit_code == 0, accepted.output
    shown = runner.invoke(args=["org", "jurisdiction", "UK"]).output
    assert "calendar\tGB-SCT" in shown and "region\tSCT" in shown


def test_choosing_a_member_state_re_dates_open_requests_on_its_holidays(app, runner):
    organisation(app)
    with app.app_context():
        # Fri 6 Mar 2026, 10:00 in Paris: one month is Mon 6 Apr, Easter Monday in France.
        request = make_request(jurisdiction="EU", received="2026-03-06T09:00:00Z")
        reference = request.reference
        assert request.due_date == date(2026, 4, 6)  # no Member State yet: weekends only
    result = runner.invoke(args=["org", "jurisdiction", "EU", "--region", "FR"])
    assert result.exit_code == 0 and "re-dated 1 of 1" in result.output
    with app.app_context():
        moved = db.session.scalar(select(Request).where(Request.reference == reference))
        assert moved.due_date == date(2026, 4, 7)


# --- refusal notices per jurisdiction ----------------------------------------------------------


def _refuse(app, smtp, reference: str, ground: str, explanation: str = "Reasons.") -> tuple:
    client = sign_in(app, StaffRole.HANDLER)
    preview = act(client, reference, "refuse", ground=ground, explanation=explanation)
    assert preview.status_code == 200
    sent = act(
        client, reference, "refuse", ground=ground, explanation=explanation, step="send"
    )
    assert sent.status_code == 302
    send_mail(app)
    return preview.get_data(as_text=True), body_of(smtp.messages[-1])


def test_an_eu_refusal_names_the_configured_authority_and_the_judicial_remedy(app, runner, smtp):
    organisation(app)
    configured = runner.invoke(
        args=[
            "org", "jurisdiction", "EU", "--region", "FR",
            "--authority-name", "CNIL", "--authority-contact", "www.cnil.fr/fr/plaintes",
        ]
    )
    assert configured.exit_code == 0, configured.output
    reference = new_request(app, jurisdiction="EU", language="en", kind=K.ACCESS)
    preview, notice = _refuse(app, smtp, reference, "rights_of_others")
    for shown in (preview, notice):
        assert "CNIL (www.cnil.fr/fr/plaintes)" in shown
        assert "GDPR Art. 12(4), 77" in shown and "GDPR Art. 12(4), 79" in shown
        assert "judicial remedy" in shown
    assert "KISA" not in notice  # the Korean outside bodies are for Korean requests


def test_a_uk_refusal_names_the_ico_by_default(app, smtp):
    organisation(app)
    reference = new_request(app, jurisdiction="UK", language="en", kind=K.DELETION)
    _preview, notice = _refuse(app, smtp, reference, "manifestly_unfounded_or_excessive")
    assert "Information Commissioner's Office (ICO)" in notice
    assert "judicial remedy" in notice and "Data Protection Act 2018 s.167" in notice


def test_a_california_deletion_denial_says_what_happens_to_the_rest(app, smtp):
    organisation(app)
    reference = new_request(app, jurisdiction="US-CA", language="en", kind=K.DELETION)
    _preview, notice = _refuse(app, smtp, reference, "other", "An exception applies: tax records.")
    assert "CCPA Regs §7022(f)" in notice and "only for the purpose of that exception" in notice
    assert "§7023(f)" not in notice  # the correction sentence is for corrections
    assert "California Privacy Protection Agency" in notice


def test_a_california_access_denial_says_the_rest_is_still_disclosed(app, smtp):
    organisation(app)
    reference = new_request(app, jurisdiction="US-CA", language="en", kind=K.ACCESS)
    _preview, notice = _refuse(app, smtp, reference, "other", "A conflict with state law.")
    assert "CCPA Regs §7024(e)" in notice and "still disclose the rest" in notice
    assert "§7022(f)" not in notice and "California Privacy Protection Agency" in notice


def test_a_brazilian_refusal_cites_art_18_and_the_anpd_in_korean(app, smtp):
    organisation(app)
    reference = new_request(app, jurisdiction="BR", language="ko", kind=K.CORRECTION)
    _preview, notice = _refuse(app, smtp, reference, "not_processing_agent")
    assert "LGPD Art. 18 §4, I" in notice and "LGPD Art. 18 §1" in notice
    assert "ANPD" in notice and "청원" in notice


def test_a_korean_refusal_keeps_the_korean_bodies_and_no_foreign_rights(app, smtp):
    organisation(app)
    reference = new_request(app, kind=K.DELETION)
    _preview, notice = _refuse(app, smtp, reference, "retention_required_by_law")
    assert "118" in notice and "GDPR" not in notice and "감독기관" not in notice


def test_a_retention_duty_is_no_ground_for_refusing_a_korean_correction(app):
    organisation(app)
    reference = new_request(app, kind=K.CORRECTION)
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "refuse", ground="retention_required_by_law", explanation="x")
    with app.app_context():
        kept = db.session.scalar(select(Request).where(Request.reference == reference))
        assert kept.status is Status.VERIFIED  # 법 §36① 단서 covers deletion only


# --- UK GDPR Art. 12A --------------------------------------------------------------------------


def test_uk_clock_starts_again_when_the_subject_answers(app):
    with app.app_context():
        # Received Mon 2 Mar 2026: due Thu 2 Apr. Asked 5 Mar, answered Fri 20 Mar:
        # the month now runs from 20 Mar to Mon 20 Apr (not 2 Apr + the 15 days paused).
        received = datetime(2026, 3, 2, 10, tzinfo=UTC)
        request = make_request(jurisdiction="UK", received=received)
        assert request.due_date == date(2026, 4, 2)
        request.awaiting_purpose = "clarification"
        change_status(
            request, Status.AWAITING_SUBJECT, actor="t", now=received + timedelta(days=3),
            reason="Which account do you mean?",
        )
        answered = datetime(2026, 3, 20, 12, tzinfo=UTC)
        change_status(request, Status.IN_PROGRESS, actor="t", now=answered)
        assert request.clock_restarted_at is not None
        assert request.due_date == date(2026, 4, 20) and request.paused_days == 0


def test_eu_still_pauses_while_waiting_for_the_subject(app):
    with app.app_context():
        received = datetime(2026, 3, 2, 10, tzinfo=UTC)
        request = make_request(jurisdiction="EU", received=received)
        change_status(
            request, Status.AWAITING_SUBJECT, actor="t", now=received + timedelta(days=3),
            reason="Which account do you mean?",
        )
        change_status(request, Status.IN_PROGRESS, actor="t", now=received + timedelta(days=10))
        assert request.paused_days == 7 and request.clock_restarted_at is None
        # 2 Apr + 7 paused days = Thu 9 Apr (Azores date 2 Mar; weekends only without a state)
        assert request.due_date == date(2026, 4, 9)


# --- requests postponed the old way ----------------------------------------------------------


def test_a_korean_access_postponed_the_old_way_keeps_its_date_as_the_review_date(tmp_path):
    """Upgrading keeps the date an old "+10 days" postponement was given, as the internal
    review date of a deferral, so the request neither turns overdue nor loses its date."""
    app = make_app(f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        request = make_request(received="2025-09-24T01:00:00Z")
        reference = request.reference
        flask_migrate.downgrade(revision="5d2b7e91c4a0")
        with db.engine.begin() as connection:  # as the old code stored a postponement
            connection.execute(
                text(
                    "UPDATE requests SET status = 'extended', extension_count = 1, "
                    "due_date = '2025-10-14' WHERE reference = :r"
                ),
                {"r": reference},
            )
        flask_migrate.upgrade()
        db.session.expire_all()
        kept = db.session.scalar(select(Request).where(Request.reference == reference))
        assert kept.deferral_review_on == date(2025, 10, 14)
        apply_deadline(kept)  # a later re-dating (e.g. a holiday change) keeps it
        assert kept.due_date == date(2025, 10, 14) and kept.deferral_ended_at is None
        db.session.remove()
        db.engine.dispose()


# --- the settings page -----------------------------------------------------------------------


def test_an_admin_sets_the_member_state_and_authority_on_the_settings_page(app):
    organisation(app)
    client = sign_in(app, StaffRole.ADMIN)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'id="jurisdiction-EU"' in page and 'id="jurisdiction-UK"' in page
    assert 'id="jurisdiction-KR"' not in page
    token = csrf(client, "/admin/settings")
    refused = client.post(
        "/admin/settings/jurisdictions/EU",
        data={"csrf_token": token, "region": "EN", "authority_name": "X"},
        follow_redirects=True,
    )
    assert "valid: AT, BE" in refused.get_data(as_text=True)
    assert _setting_rows(app) == 0
    client.post(
        "/admin/settings/jurisdictions/EU",
        data={"csrf_token": token, "region": "de-by", "authority_name": "BayLDA"},
    )
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="DE-BY"' in page and 'value="BayLDA"' in page
    with app.app_context():
        row = db.session.scalar(select(JurisdictionSetting))
        assert (row.jurisdiction, row.region, row.authority_name) == ("EU", "DE-BY", "BayLDA")


def test_a_handler_cannot_change_jurisdiction_settings(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    token = csrf(client, f"/admin/requests/{new_request(app)}")
    response = client.post(
        "/admin/settings/jurisdictions/EU", data={"csrf_token": token, "region": "FR"}
    )
    assert response.status_code == 403
    assert _setting_rows(app) == 0


def test_the_deadline_command_says_when_no_member_state_is_set(app, runner):
    organisation(app)
    args = ["deadline", "--received", "2026-03-06T10:00+01:00", "--kind", "access"]
    args += ["--jurisdiction", "EU", "--lang", "en"]
    unset = runner.invoke(args=args)
    # Fri 6 Mar → Mon 6 Apr; Easter Monday is not known without a Member State.
    assert unset.output.splitlines()[0] == "2026-04-06" and "No Member State is set" in unset.output
    runner.invoke(args=["org", "jurisdiction", "EU", "--region", "FR"])
    chosen = runner.invoke(args=args)
    assert chosen.output.splitlines()[0] == "2026-04-07" and "Easter Monday" in chosen.output
    assert "No Member State" not in chosen.output


def test_the_uk_ask_form_says_the_clock_starts_again(app):
    reference = new_request(app, jurisdiction="UK", language="en")
    client = sign_in(app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}?lang=en").get_data(as_text=True)
    assert "starts again when the subject answers" in page and "Art. 12A" in page


def test_the_settings_page_shows_consent_withdrawal_as_without_delay_not_ten_days(app):
    organisation(app)
    client = sign_in(app, StaffRole.ADMIN)
    page = client.get("/admin/settings").get_data(as_text=True)
    row = re.search(r"<tr><td>[^<]*동의[^<]*</td><td>([^<]*)", page)
    assert row and row.group(1).startswith("지체 없이 (법에 기간 없음; 처리 목표 10일)"), row


def test_a_uk_question_for_something_else_does_not_restart_the_clock(app):
    with app.app_context():
        received = datetime(2026, 3, 2, 10, tzinfo=UTC)
        request = make_request(jurisdiction="UK", received=received)
        request.awaiting_purpose = "other"
        change_status(
            request, Status.AWAITING_SUBJECT, actor="t", now=received + timedelta(days=3),
            reason="May we call you?",
        )
        answered = datetime(2026, 3, 20, 12, tzinfo=UTC)
        change_status(request, Status.IN_PROGRESS, actor="t", now=answered)
        assert request.clock_restarted_at is None and request.due_date == date(2026, 4, 2)


def test_staff_say_what_they_ask_a_uk_subject_for(app):
    reference = new_request(app, jurisdiction="UK", language="en")
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "ask", question="Which account?", purpose="bribe", step="send")
    with app.app_context():
        kept = db.session.scalar(select(Request).where(Request.reference == reference))
        assert kept.status is Status.VERIFIED and kept.awaiting_purpose is None
    act(client, reference, "ask", question="Which account?", purpose="identity", step="send")
    act(client, reference, "ask", question="And a phone number?", purpose="other", step="send")
    with app.app_context():
        asked = db.session.scalar(select(Request).where(Request.reference == reference))
        assert asked.status is Status.AWAITING_SUBJECT and asked.awaiting_purpose == "identity"
