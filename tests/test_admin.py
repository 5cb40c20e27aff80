"""The admin console: sign-in, roles, the queue, every action and the notices it sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, Channel, LoginThrottle, Request, StaffRole, StaffUser
from rightsdesk.requests.lifecycle import change_status
from tests.helpers import (
    PASSWORD,
    SEOUL,
    act,
    csrf,
    make_app,
    make_staff,
    new_request,
    organisation,
    sign_in,
)


def stored(app, reference: str) -> Request:
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        db.session.expunge_all()
        return found


def send(app) -> None:
    with app.app_context():
        report = deliver_due(now=datetime.now(UTC), worker="test")
        assert report.failed == 0


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- accounts and sign-in ----------------------------------------------------------------------


def test_staff_create_command_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "Officer@Shop.example",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created admin officer@shop.example" in result.output
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    listed = runner.invoke(args=["staff", "list"])
    assert "officer@shop.example\tadmin\tactive\t-" in listed.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--email", "a@b.example", "--role", "boss"], PASSWORD, "unknown role 'boss'"),
        (["--email", "a@b.example", "--role", "handler"], "short", "at least 12 characters"),
        (["--email", "not-an-email", "--role", "handler"], PASSWORD, "not an e-mail address"),
    ],
)
def test_staff_create_refuses_bad_input(runner, args, stdin, message):
    result = runner.invoke(args=["staff", "create", *args, "--password-stdin"], input=stdin + "\n")
    assert result.exit_code == 2
    assert message in result.output


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(app):
    client = sign_in(app, StaffRole.HANDLER)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/")})
    assert client.get("/admin/").status_code == 302


def test_wrong_passwords_pause_sign_in_for_a_while(app):
    email = make_staff(app, StaffRole.HANDLER)
    client = app.test_client()
    token = csrf(client, "/admin/login")
    for _attempt in range(5):
        bad = client.post(
            "/admin/login",
            data={"csrf_token": token, "email": email, "password": "wrong password!"},
        )
        assert bad.status_code == 401
    locked = client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert locked.status_code == 401
    assert "몇 분 뒤에" in locked.get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(LoginThrottle).values(blocked_until=datetime.now(UTC)))
        db.session.commit()
    ok = client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert ok.status_code == 302


def test_unknown_and_wrong_answer_the_same(app):
    email = make_staff(app, StaffRole.HANDLER)
    client = app.test_client()
    token = csrf(client, "/admin/login")
    unknown = client.post(
        "/admin/login", data={"csrf_token": token, "email": "x@y.example", "password": PASSWORD}
    )
    wrong = client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": "not the password"}
    )
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert unknown.status_code == wrong.status_code == 401
    assert strip(unknown) == strip(wrong)


def test_totp_second_factor(app):
    client = sign_in(app, StaffRole.ADMIN)
    page = client.get("/admin/account/totp").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    assert "<svg" in page
    wrong = client.post(
        "/admin/account/totp",
        data={"csrf_token": csrf(client, "/admin/account/totp"), "code": "000000"},
    )
    assert wrong.status_code == 302
    right = client.post(
        "/admin/account/totp",
        data={"csrf_token": csrf(client, "/admin/account/totp"), "code": pyotp.TOTP(secret).now()},
    )
    assert right.status_code == 302
    fresh = app.test_client()
    token = csrf(fresh, "/admin/login")
    base = {"csrf_token": token, "email": "admin@operator.example", "password": PASSWORD}
    no_code = fresh.post("/admin/login", data=base)
    assert no_code.status_code == 401 and "autofocus" in no_code.get_data(as_text=True)
    # the code that turned it on is used: the next step's code (within the drift allowed)
    next_code = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))
    with_code = fresh.post("/admin/login", data={**base, "code": next_code})
    assert with_code.status_code == 302


def test_admins_must_set_up_totp_when_the_operator_requires_it(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        REQUIRE_ADMIN_TOTP=True,
        UPLOAD_DIR=str(tmp_path),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
    )
    admin = sign_in(app, StaffRole.ADMIN)
    assert admin.get("/admin/").headers["Location"].endswith("/admin/account/totp")
    handler = sign_in(app, StaffRole.HANDLER)
    assert handler.get("/admin/").status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(app, target):
    email = make_staff(app, StaffRole.HANDLER)
    client = app.test_client()
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf(client, "/admin/login"),
            "email": email,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.headers["Location"] == "/admin/"


def test_deactivating_an_account_ends_its_sessions(app):
    handler = sign_in(app, StaffRole.HANDLER)
    admin = sign_in(app, StaffRole.ADMIN)
    with app.app_context():
        handler_id = db.session.scalar(
            select(StaffUser.id).where(StaffUser.role == StaffRole.HANDLER)
        )
    admin.post(
        f"/admin/settings/staff/{handler_id}/deactivate",
        data={"csrf_token": csrf(admin, "/admin/settings/staff")},
    )
    assert handler.get("/admin/").status_code == 302


# --- the queue ---------------------------------------------------------------------------------


def test_queue_is_sorted_by_legal_due_date_and_marks_what_is_late(app):
    late = new_request(app, email="late@example.com", days_ago=30)
    fresh = new_request(app, email="fresh@example.com", days_ago=0)
    soon = new_request(app, email="soon@example.com", days_ago=9)
    client = sign_in(app, StaffRole.HANDLER)
    page = client.get("/admin/").get_data(as_text=True)
    order = re.findall(r'data-reference="(RD-[0-9-]+)"', page)
    assert order == [late, soon, fresh]
    row = page[page.index(f'data-reference="{late}"') :]
    assert 'class="due overdue"' in row[: row.index("</tr>")]
    row = page[page.index(f'data-reference="{soon}"') :]
    assert 'class="due soon"' in row[: row.index("</tr>")]


def test_the_queue_warns_when_form_submissions_wait_for_a_worker_that_does_not_run(app):
    from rightsdesk.requests.intake import IntakeInput, accept_submission, process_submissions

    client = sign_in(app, StaffRole.HANDLER)
    now = datetime.now(UTC)
    with app.app_context():
        accept_submission(IntakeInput(kind=K.ACCESS, name=None, email="w@example.com"), now=now)
    assert "rightsdesk worker" not in client.get("/admin/").get_data(as_text=True)  # just in
    with app.app_context():
        accept_submission(
            IntakeInput(kind=K.ACCESS, name=None, email="v@example.com"),
            now=now - timedelta(minutes=10),
        )
    page = client.get("/admin/").get_data(as_text=True)
    assert 'role="alert"' in page and "rightsdesk worker" in page
    assert "웹 양식으로 접수된 2건이" in page  # both, counted from the oldest
    with app.app_context():
        assert len(process_submissions(now=now).filed) == 2
    assert "rightsdesk worker" not in client.get("/admin/").get_data(as_text=True)


def test_queue_filters_search_and_pages(app):
    refs = [new_request(app, email=f"p{n}@example.com", days_ago=n % 5) for n in range(55)]
    deletion = new_request(app, kind=K.DELETION, email="del@example.com")
    client = sign_in(app, StaffRole.AUDITOR)
    first = client.get("/admin/").get_data(as_text=True)
    first_refs = re.findall(r'data-reference="(RD-[0-9-]+)"', first)
    assert len(first_refs) == 50
    next_link = re.search(r'href="(/admin/\?[^"]*after=[^"]+)" rel="next"', first).group(1)
    second = client.get(next_link.replace("&amp;", "&")).get_data(as_text=True)
    second_refs = re.findall(r'data-reference="(RD-[0-9-]+)"', second)
    assert sorted(first_refs + second_refs) == sorted([*refs, deletion])
    by_kind = client.get("/admin/?kind=deletion").get_data(as_text=True)
    assert re.findall(r'data-reference="(RD-[0-9-]+)"', by_kind) == [deletion]
    by_email = client.get("/admin/?q=DEL@example.com").get_data(as_text=True)
    assert re.findall(r'data-reference="(RD-[0-9-]+)"', by_email) == [deletion]
    by_ref = client.get(f"/admin/?q={deletion.lower()}").get_data(as_text=True)
    assert re.findall(r'data-reference="(RD-[0-9-]+)"', by_ref) == [deletion]
    assert client.get("/admin/?status=nonsense").status_code == 400


def test_staff_enter_a_request_taken_by_phone(app):
    client = sign_in(app, StaffRole.HANDLER)
    token = csrf(client, "/admin/requests/new")
    missing = client.post(
        "/admin/requests/new",
        data={"csrf_token": token, "kind": "access", "email": "phone@example.com"},
    )
    assert missing.status_code == 400
    response = client.post(
        "/admin/requests/new",
        data={
            "csrf_token": token,
            "kind": "deletion",
            "email": "phone@example.com",
            "name": "전화 고객",
            "received_at": "2025-09-24T10:00",
            "received_via": "phone",
            "identity_checked": "y",
            "identity_method": "회신 전화로 확인",
            "details": "전화로 접수",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        entered = db.session.scalar(select(Request))
        assert entered.channel is Channel.STAFF and entered.status is Status.VERIFIED
        assert entered.due_date.isoformat() == "2025-10-10"  # received 24 Sep in Seoul


# --- the request page and its actions ----------------------------------------------------------


def test_viewing_a_request_is_audited_with_the_staff_member_and_address(app):
    reference = new_request(app)
    client = sign_in(app, StaffRole.AUDITOR)
    page = client.get(f"/admin/requests/{reference}")
    assert page.status_code == 200 and "kim@example.com" in page.get_data(as_text=True)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.viewed")
        ).one()
        assert event.actor == "staff:auditor@operator.example"
        assert '"ip":"127.0.0.1"' in event.data and event.request_ref == reference


def test_refusal_is_previewed_then_sent_with_ground_and_objection_procedure(app, smtp):
    organisation(app)
    reference = new_request(app, kind=K.DELETION)
    client = sign_in(app, StaffRole.HANDLER)
    no_reason = act(client, reference, "refuse", ground="retention_required_by_law", explanation="")
    assert no_reason.status_code == 302
    assert stored(app, reference).status is Status.VERIFIED
    preview = act(
        client,
        reference,
        "refuse",
        ground="retention_required_by_law",
        explanation="주문·결제 기록은 전자상거래법에 따라 5년간 보관해야 합니다.",
    )
    html = preview.get_data(as_text=True)
    assert 'id="send-notice"' in html and "법 §36① 단서" in html and "118" in html
    assert stored(app, reference).status is Status.VERIFIED  # a preview changes nothing
    sent = act(
        client,
        reference,
        "refuse",
        ground="retention_required_by_law",
        explanation="주문·결제 기록은 전자상거래법에 따라 5년간 보관해야 합니다.",
        step="send",
    )
    assert sent.status_code == 302
    after = stored(app, reference)
    assert after.status is Status.REFUSED and after.refusal_ground == "retention_required_by_law"
    send(app)
    notice = text_of(smtp.messages[-1])
    assert smtp.messages[-1]["To"] == "kim@example.com"
    for expected in (
        "법 §36① 단서",
        "5년간 보관",
        "이의",
        "privacy.kisa.or.kr",
        "118",
        "1301",
        "182",
        "홍길동",
        reference,
    ):
        assert expected in notice, expected


def test_a_ground_from_another_kind_is_refused(app):
    reference = new_request(app, kind=K.ACCESS)
    client = sign_in(app, StaffRole.HANDLER)
    response = act(
        client,
        reference,
        "refuse",
        ground="retention_required_by_law",
        explanation="x",
        step="send",
    )
    assert response.status_code == 302
    assert stored(app, reference).status is Status.VERIFIED


def test_korean_access_is_postponed_until_its_ground_ends_then_due_without_delay(app, smtp):
    organisation(app)
    reference = new_request(app, kind=K.ACCESS)
    before = stored(app, reference).due_date
    client = sign_in(app, StaffRole.HANDLER)
    reason = "수사기관의 보존 요청으로 열람을 잠시 미룹니다"
    no_review = act(client, reference, "extend", reason=reason, step="send")
    assert no_review.status_code == 302 and stored(app, reference).extension_count == 0
    review = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    preview = act(client, reference, "extend", reason=reason, review_on=review)
    assert reason in preview.get_data(as_text=True)
    act(client, reference, "extend", reason=reason, review_on=review, step="send")
    after = stored(app, reference)
    assert after.status is Status.EXTENDED and after.extension_count == 1
    assert after.deferral_review_on.isoformat() == review and after.due_date.isoformat() == review
    assert after.notice_due_date == before  # the notice was due within the 10 days
    send(app)
    notice = text_of(smtp.messages[-1])
    assert reason in notice and "법 §35③ 후문" in notice and "지체 없이" in notice
    assert "이의" in notice and "118" in notice
    assert review not in notice and "기본값" not in notice and "rightsdesk 기본" not in notice
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="review-on"' in page and "do-deferral-end" in page
    again = act(client, reference, "extend", reason="또", review_on=review, step="send")
    assert again.status_code == 302 and stored(app, reference).extension_count == 1
    act(client, reference, "deferral-end")
    ended = stored(app, reference)
    assert ended.deferral_ended_at is not None
    # The operator's target (3 days in the profile) from the day the ground ended, rolled
    # off weekends and holidays: never before three days from today.
    today = datetime.now(SEOUL).date()
    assert today + timedelta(days=3) <= ended.due_date <= today + timedelta(days=10)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="deferral-due"' in page and "do-deferral-end" not in page


def test_deletion_cannot_be_postponed_under_pipa(app):
    reference = new_request(app, kind=K.DELETION)
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "extend", reason="바쁨", step="send")
    assert stored(app, reference).status is Status.VERIFIED


def test_partial_completion_names_what_was_done_and_what_was_refused(app, smtp):
    organisation(app)
    reference = new_request(app, kind=K.DELETION)
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "start")
    act(
        client,
        reference,
        "partial",
        ground="retention_required_by_law",
        step="send",
        done="회원 정보와 마케팅 수신 정보를 삭제했습니다.",
        explanation="결제 기록은 5년간 분리 보관합니다.",
    )
    assert stored(app, reference).status is Status.PARTIALLY_COMPLETED
    send(app)
    notice = text_of(smtp.messages[-1])
    assert "회원 정보와 마케팅 수신 정보를 삭제했습니다." in notice
    assert "결제 기록은 5년간 분리 보관합니다." in notice and "118" in notice


def test_completion_assignment_notes_questions_and_withdrawal(app, smtp):
    organisation(app)
    first, second = new_request(app), new_request(app, email="lee@example.com")
    client = sign_in(app, StaffRole.ADMIN)
    with app.app_context():
        admin_id = db.session.scalar(select(StaffUser.id))
    act(client, first, "assign", assignee=str(admin_id))
    act(client, first, "note", text="전화로 본인 확인 완료")
    act(client, first, "ask", question="주문 번호를 알려 주세요.", step="send")
    assert stored(app, first).status is Status.AWAITING_SUBJECT
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == first))
        change_status(found, Status.IN_PROGRESS, actor="test", now=datetime.now(UTC))
    act(client, first, "complete", outcome="열람 자료를 첨부해 보내 드렸습니다.", step="send")
    done = stored(app, first)
    assert done.status is Status.COMPLETED and done.assignee_id == admin_id
    act(client, second, "withdraw", note="전화로 철회 의사를 밝힘", step="send")
    assert stored(app, second).status is Status.WITHDRAWN
    send(app)
    subjects = [m["Subject"] for m in smtp.messages]
    assert any("문의" in s for s in subjects)
    assert any("처리" in s and first in s for s in subjects)
    assert any("철회" in s and second in s for s in subjects)
    page = client.get(f"/admin/requests/{first}").get_data(as_text=True)
    # The notice's state in the console's words.
    assert "전화로 본인 확인 완료" in page and "발송됨" in page


def test_manual_verification_after_checking_the_proof(app):
    reference = new_request(app, verified=False)
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "verify")
    assert stored(app, reference).status is Status.VERIFIED


@pytest.mark.parametrize("action", ["no-such-action", "Verify", "items", "__class__"])
def test_an_unknown_action_is_not_found_and_changes_nothing(app, action):
    reference = new_request(app, verified=False)
    before = stored(app, reference).status
    client = sign_in(app, StaffRole.HANDLER)
    for fields in ({}, {"step": "send"}):
        assert act(client, reference, action, **fields).status_code == 404
    assert stored(app, reference).status is before


def test_every_notice_action_has_a_handler():
    from rightsdesk.admin.request_views import ACTIONS, NOTICE_ACTIONS

    assert NOTICE_ACTIONS.issubset(ACTIONS)
    assert "erase-preview" not in ACTIONS  # shown by act itself: it changes nothing


# --- roles, routes and escaping ----------------------------------------------------------------

ROLE_TABLE = {
    # endpoint: (method, path, {role: expected status})
    "admin.queue": ("GET", "/admin/", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.new_request": (
        "GET",
        "/admin/requests/new",
        {"admin": 200, "handler": 200, "auditor": 403},
    ),
    "admin.dormancy_restore": (
        "POST",
        "/admin/retention/restore",
        {"admin": 302, "handler": 302, "auditor": 403},
    ),
    "admin.letters": ("GET", "/admin/letters", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.letter_pdf": (
        "GET",
        "/admin/letters/999.pdf",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.letter_posted": (
        "POST",
        "/admin/letters/999/posted",
        {"admin": 404, "handler": 404, "auditor": 403},
    ),
    "admin.request_detail": (
        "GET",
        "/admin/requests/{ref}",
        {"admin": 200, "handler": 200, "auditor": 200},
    ),
    "admin.act": (
        "POST",
        "/admin/requests/{ref}/actions/note",
        {"admin": 302, "handler": 302, "auditor": 403},
    ),
    "admin.connector_retry": (
        "POST",
        "/admin/requests/{ref}/connectors/999/retry",
        {"admin": 404, "handler": 404, "auditor": 403},
    ),
    "admin.checklist_tick": (
        "POST",
        "/admin/requests/{ref}/checklist/999/tick",
        {"admin": 404, "handler": 404, "auditor": 403},
    ),
    "admin.proof": (
        "GET",
        "/admin/requests/{ref}/proof",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.answer_file": (
        "GET",
        "/admin/requests/{ref}/answers/1",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.notice": (
        "GET",
        "/admin/requests/{ref}/notices/999",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.settings_page": (
        "GET",
        "/admin/settings",
        {"admin": 200, "handler": 403, "auditor": 403},
    ),
    "admin.save_promise": (
        "POST",
        "/admin/settings/promises",
        {"admin": 302, "handler": 403, "auditor": 403},
    ),
    "admin.save_jurisdiction": (
        "POST",
        "/admin/settings/jurisdictions/EU",
        {"admin": 302, "handler": 403, "auditor": 403},
    ),
    "admin.holidays_page": (
        "GET",
        "/admin/settings/holidays",
        {"admin": 200, "handler": 403, "auditor": 403},
    ),
    "admin.staff_page": (
        "GET",
        "/admin/settings/staff",
        {"admin": 200, "handler": 403, "auditor": 403},
    ),
    "admin.staff_action": (
        "POST",
        "/admin/settings/staff/999/activate",
        {"admin": 302, "handler": 403, "auditor": 403},
    ),
    "admin.audit_trail": ("GET", "/admin/audit", {"admin": 200, "handler": 403, "auditor": 200}),
    "admin.audit_export": (
        "GET",
        "/admin/audit.csv",
        {"admin": 200, "handler": 403, "auditor": 200},
    ),
    "admin.totp_setup": (
        "GET",
        "/admin/account/totp",
        {"admin": 200, "handler": 200, "auditor": 200},
    ),
    "admin.change_password": (
        "GET",
        "/admin/account/password",
        {"admin": 200, "handler": 200, "auditor": 200},
    ),
    "admin.logout": ("POST", "/admin/logout", {"admin": 302, "handler": 302, "auditor": 302}),
    "admin.login": ("GET", "/admin/login", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.reports": ("GET", "/admin/reports", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.retention": ("GET", "/admin/retention", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.policy_list": ("GET", "/admin/policy", {"admin": 200, "handler": 200, "auditor": 200}),
    "admin.policy_new": (
        "GET",
        "/admin/policy/new",
        {"admin": 200, "handler": 403, "auditor": 403},
    ),
    "admin.policy_show": (
        "GET",
        "/admin/policy/999",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.policy_edit": (
        "GET",
        "/admin/policy/999/edit",
        {"admin": 404, "handler": 403, "auditor": 403},
    ),
    "admin.policy_publish": (
        "POST",
        "/admin/policy/999/publish",
        {"admin": 404, "handler": 403, "auditor": 403},
    ),
    "admin.campaign_show": (
        "GET",
        "/admin/campaigns/999",
        {"admin": 404, "handler": 404, "auditor": 404},
    ),
    "admin.reports_register": (
        "GET",
        "/admin/reports/register.csv",
        {"admin": 200, "handler": 200, "auditor": 200},
    ),
}


def test_every_admin_route_is_in_the_role_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert endpoints == set(ROLE_TABLE)


def test_role_by_route(app):
    """Every admin route against every role and anonymous (one sign-in per role: scrypt is slow
    on purpose)."""
    reference = new_request(app)
    clients = {role: sign_in(app, StaffRole(role)) for role in ("admin", "handler", "auditor")}
    anonymous = app.test_client()
    failures = []
    for endpoint, (method, path, expected) in sorted(ROLE_TABLE.items()):
        path = path.format(ref=reference)
        if endpoint != "admin.login":
            response = anonymous.open(
                path, method=method, data={"csrf_token": csrf(anonymous, "/admin/login")}
            )
            response.close()  # a streamed body holds its request context until closed
            if response.status_code != 302 or "/admin/login" not in response.headers["Location"]:
                failures.append((endpoint, "anonymous", response.status_code))
        for role, status in expected.items():
            client = clients[role]
            data = {"csrf_token": csrf(client, "/admin/account/password"), "text": "memo"}
            if endpoint == "admin.logout":
                continue  # signing out would end the session the other rows need
            response = client.open(path, method=method, data=data if method == "POST" else None)
            response.close()
            if response.status_code != status:
                failures.append((endpoint, role, response.status_code))
    assert failures == []
    for role, client in clients.items():
        token = csrf(client, "/admin/account/password")
        assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302, role


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_subject_supplied_text_is_escaped_on_every_staff_page(app, client):
    reference = new_request(app, name=XSS, email="xss@example.com", details=XSS)
    with app.app_context():
        from rightsdesk.requests.intake import ask_subject

        found = db.session.scalar(select(Request).where(Request.reference == reference))
        question = ask_subject(found, "질문", actor="test", now=datetime.now(UTC))
        question.answer_text = XSS
        db.session.commit()
    staff = sign_in(app, StaffRole.ADMIN)
    act(staff, reference, "note", text=XSS)
    for path in ("/admin/", f"/admin/requests/{reference}", "/admin/audit"):
        html = staff.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
    detail = staff.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in detail


def test_admin_pages_carry_a_csp_without_inline_script(app):
    client = sign_in(app, StaffRole.ADMIN)
    reference = new_request(app)
    for path in (
        "/admin/",
        f"/admin/requests/{reference}",
        "/admin/settings",
        "/admin/audit",
        "/admin/account/totp",
    ):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script[^>]*>", html)  # only files of our own, never inline
        assert all(re.fullmatch(r'<script src="/static/[\w.]+" defer>', s) for s in scripts), path
        assert "<style" not in html and " style=" not in html, path


def test_an_uploaded_proof_is_served_only_to_staff_and_never_outside_the_folder(app):
    from pathlib import Path

    from rightsdesk.models import Representative, RepresentativeRole

    reference = new_request(app)
    upload_dir = Path(app.config["UPLOAD_DIR"])
    upload_dir.mkdir(parents=True, exist_ok=True)
    (upload_dir / "abc.pdf").write_bytes(b"%PDF-1.4 proof")
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        found.representative = Representative(
            role=RepresentativeRole.AGENT,
            name="대리인",
            email="agent@example.com",
            proof_file="abc.pdf",
            proof_content_type="application/pdf",
            proof_size=14,
        )
        db.session.commit()
    assert app.test_client().get(f"/admin/requests/{reference}/proof").status_code == 302
    staff = sign_in(app, StaffRole.HANDLER)
    download = staff.get(f"/admin/requests/{reference}/proof")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 proof"
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()
    with app.app_context():
        db.session.execute(update(Representative).values(proof_file="../../../../etc/passwd"))
        db.session.commit()
    assert staff.get(f"/admin/requests/{reference}/proof").status_code == 404


def test_settings_save_the_operator_and_refuse_a_longer_promise(app):
    client = sign_in(app, StaffRole.ADMIN)
    token = csrf(client, "/admin/settings")
    saved = client.post(
        "/admin/settings",
        data={
            "csrf_token": token,
            "slug": "shop",
            "name_ko": "쇼핑",
            "name_en": "Shop",
            "officer_name": "홍길동",
            "officer_email": "privacy@shop.example",
            "objection_ko": "이메일로 이의신청",
            "objection_en": "Object by e-mail",
        },
    )
    assert saved.status_code == 302
    longer = client.post(
        "/admin/settings/promises",
        data={"csrf_token": token, "kind": "access", "days": "30"},
        follow_redirects=True,
    )
    assert "법보다 짧은" in longer.get_data(as_text=True)
    shorter = client.post(
        "/admin/settings/promises",
        data={"csrf_token": token, "kind": "access", "days": "7"},
        follow_redirects=True,
    )
    assert shorter.status_code == 200
    with app.app_context():
        from rightsdesk.requests.deadlines import promised_periods

        assert promised_periods("KR")[K.ACCESS].amount == 7
    holiday = client.post(
        "/admin/settings/holidays",
        data={"csrf_token": token, "day": "2026-12-31", "name": "임시공휴일", "action": "add"},
        follow_redirects=True,
    )
    assert "2026-12-31" in holiday.get_data(as_text=True)


def test_a_phone_request_gets_its_mail_and_manual_verification_acknowledges(app, smtp):
    client = sign_in(app, StaffRole.HANDLER)
    token = csrf(client, "/admin/requests/new")
    client.post(
        "/admin/requests/new",
        data={
            "csrf_token": token,
            "kind": "access",
            "email": "phone2@example.com",
            "received_at": "2026-11-20T10:00",
            "received_via": "phone",
        },
    )
    client.post(
        "/admin/requests/new",
        data={
            "csrf_token": token,
            "kind": "access",
            "email": "counter@example.com",
            "received_at": "2026-11-20T11:00",
            "received_via": "in_person",
            "identity_checked": "y",
            "identity_method": "신분증 대조",
        },
    )
    send(app)
    by_recipient = {m["To"]: m["Subject"] for m in smtp.messages}
    assert "확인해 주세요" in by_recipient["phone2@example.com"]  # verification link
    assert "접수되었습니다" in by_recipient["counter@example.com"]  # acknowledgement
    with app.app_context():
        reference = db.session.scalar(
            select(Request.reference).where(Request.status == Status.RECEIVED_UNVERIFIED)
        )
    act(client, reference, "verify")
    send(app)
    assert "접수되었습니다" in smtp.messages[-1]["Subject"]
    assert smtp.messages[-1]["To"] == "phone2@example.com"


def test_a_question_is_previewed_before_it_is_sent(app, smtp):
    reference = new_request(app)
    client = sign_in(app, StaffRole.HANDLER)
    preview = act(client, reference, "ask", question="영수증 사본을 보내 주세요")
    assert "영수증 사본을 보내 주세요" in preview.get_data(as_text=True)
    assert stored(app, reference).status is Status.VERIFIED
    act(client, reference, "ask", question="영수증 사본을 보내 주세요", step="send")
    assert stored(app, reference).status is Status.AWAITING_SUBJECT
    send(app)
    assert "영수증 사본을 보내 주세요" in text_of(smtp.messages[-1])


def test_a_file_offered_by_staff_is_downloaded_from_the_status_page(app, client, smtp):
    from io import BytesIO

    from rightsdesk.requests.tokens import status_token

    organisation(app)
    reference = new_request(app)
    staff = sign_in(app, StaffRole.HANDLER)
    path = f"/admin/requests/{reference}"
    bad = staff.post(
        f"{path}/actions/offer",
        content_type="multipart/form-data",
        data={"csrf_token": csrf(staff, path), "file": (BytesIO(b"\x00\x01binary"), "x.bin")},
    )
    assert bad.status_code == 302
    zip_bytes = bytes.fromhex("504b0506") + b"\0" * 18  # an empty ZIP archive
    offered = staff.post(
        f"{path}/actions/offer",
        content_type="multipart/form-data",
        data={"csrf_token": csrf(staff, path), "file": (BytesIO(zip_bytes), "../../열람자료.zip")},
    )
    assert offered.status_code == 302
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        assert [d.filename for d in found.downloads] == ["열람자료.zip"]
        token = status_token(found)
    page = client.get(f"/requests/status/{token}").get_data(as_text=True)
    link = re.search(r'href="(/requests/status/[^"]+/downloads/\d+)"', page).group(1)
    got = client.get(link)
    assert got.status_code == 200 and got.data == zip_bytes
    got.close()
    assert client.get(link.replace(token, token[:-2] + "xx")).status_code == 404
    act(staff, reference, "complete", outcome="열람 자료를 준비했습니다.", step="send")
    send(app)
    assert "열람자료.zip" in text_of(smtp.messages[-1])
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "request.download_offered" in actions and "subject.downloaded" in actions


def test_expired_downloads_are_deleted_by_the_job(app, runner):
    from pathlib import Path

    from rightsdesk.models import Download
    from rightsdesk.requests.downloads import offer

    reference = new_request(app)
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item = offer(
            found,
            b"%PDF-1.4 x",
            "copy.pdf",
            actor="test",
            now=datetime.now(UTC) - timedelta(days=31),
        )
        path = Path(app.config["UPLOAD_DIR"]) / item.file
        assert path.exists()
    result = runner.invoke(args=["jobs", "purge-downloads"])
    assert "deleted 1 expired download(s)" in result.output
    assert not path.exists()
    with app.app_context():
        assert db.session.scalar(select(Download.deleted_at)) is not None


def test_the_jurisdiction_for_new_requests_is_a_setting(app):
    client = sign_in(app, StaffRole.ADMIN)
    token = csrf(client, "/admin/settings")
    client.post(
        "/admin/settings",
        data={
            "csrf_token": token,
            "slug": "shop",
            "name_ko": "쇼핑",
            "name_en": "Shop",
            "officer_name": "홍길동",
            "officer_email": "privacy@shop.example",
            "objection_ko": "이메일",
            "objection_en": "e-mail",
            "jurisdiction": "EU",
        },
    )
    reference = new_request(app, verified=False)
    assert stored(app, reference).jurisdiction == "EU"


def test_offered_files_are_encrypted_at_rest(app):
    from pathlib import Path

    from rightsdesk.requests.downloads import fetch, offer

    reference = new_request(app)
    secret = b"%PDF-1.4 the subject's own data"
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item = offer(found, secret, "copy.pdf", actor="test", now=datetime.now(UTC))
        on_disk = (Path(app.config["UPLOAD_DIR"]) / item.file).read_bytes()
        assert secret not in on_disk and b"PDF" not in on_disk
        _download, data = fetch(found, item.id, now=datetime.now(UTC))
        assert data == secret


def test_a_file_that_cannot_be_written_offers_nothing_and_holds_no_lock(app, tmp_path):
    """The file is written while the database answers the offer's statements: when writing
    fails, the offer is rolled back at once, so the audit chain's head (locked by the offer)
    is free for the next writer, and no download points at a missing file."""
    from rightsdesk.core import audit
    from rightsdesk.models import AuditHead, Download
    from rightsdesk.requests.downloads import offer

    reference = new_request(app)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the upload folder should be")
    app.config["UPLOAD_DIR"] = str(blocked)
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        head = db.session.get(AuditHead, 1).seq
        with pytest.raises(OSError):
            offer(found, b"%PDF-1.4 data", "copy.pdf", actor="test", now=datetime.now(UTC))
        assert not db.session().in_transaction()
        assert db.session.scalars(select(Download)).all() == []
        assert db.session.get(AuditHead, 1).seq == head
        audit.record("test.after", actor="test", now=datetime.now(UTC))  # not blocked
        db.session.commit()


def test_an_offer_the_database_refuses_leaves_no_file_and_holds_no_lock(app, tmp_path):
    """On PostgreSQL the file is written before the refused INSERT's error arrives: it is
    deleted again, so no encrypted copy of the subject's data is left without its record."""
    from rightsdesk.models import Download
    from rightsdesk.requests.downloads import offer

    new_request(app)
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    missing = Request(id=10**6, reference="RD-2025-999999", status=Status.VERIFIED)
    with app.app_context():
        with pytest.raises(IntegrityError):  # no such request: the foreign key refuses it
            offer(missing, b"%PDF-1.4 data", "copy.pdf", actor="test", now=datetime.now(UTC))
        assert not db.session().in_transaction()
        assert db.session.scalars(select(Download)).all() == []
        assert list((tmp_path / "uploads").glob("*")) == []  # (SQLite: never written)


def test_a_refused_action_keeps_what_the_staff_member_typed(app):
    """Refused for a missing explanation, the partial refusal's form comes back with the text
    typed into it, once; another request's page does not show it."""
    organisation(app)
    reference = new_request(app, kind=K.DELETION)
    other = new_request(app, kind=K.ACCESS, email="other@example.com")
    client = sign_in(app, StaffRole.HANDLER)
    act(client, reference, "start")
    done = "회원 정보와 마케팅 수신 정보를 삭제했습니다 <b>"
    refused = act(
        client, reference, "partial", ground="retention_required_by_law", done=done,
        explanation="  ", step="send",
    )
    assert refused.status_code == 302 and stored(app, reference).status is Status.IN_PROGRESS
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    form = page.split('id="form-partial"')[1].split("</form>")[0]
    assert "회원 정보와 마케팅 수신 정보를 삭제했습니다 &lt;b&gt;" in form  # kept, escaped
    again = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "마케팅 수신 정보를 삭제했습니다" not in again  # taken once
    act(client, reference, "partial", ground="retention_required_by_law", done=done,
        explanation=" ", step="send")
    elsewhere = client.get(f"/admin/requests/{other}").get_data(as_text=True)
    assert "마케팅 수신 정보를 삭제했습니다" not in elsewhere
