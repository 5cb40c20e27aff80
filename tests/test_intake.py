"""The subject's journey over HTTP, with mail through a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from werkzeug.test import encode_multipart

from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import IntakeSubmission, OutboxMessage, Request, VerificationNonce
from tests.helpers import (
    PDF,
    body_of,
    csrf,
    file_access_request,
    link_in,
    make_app,
    send_mail,
    take_in,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def only_request(app) -> Request:
    with app.app_context():
        rows = db.session.scalars(select(Request)).all()
        assert len(rows) == 1
        db.session.expunge_all()
        return rows[0]


def test_the_form_is_korean_and_deep_linkable(client):
    page = client.get("/requests/new?kind=deletion").get_data(as_text=True)
    assert '<html lang="ko">' in page
    assert '<input checked id="kind-2" name="kind" required type="radio" value="deletion">' in page
    for label in (
        "개인정보 열람",
        "이름",
        "이메일 주소",
        "다른 사람을 대신하여 요청합니다",
        "위임장",
    ):
        assert label in page
    english = client.get("/requests/new?kind=access&lang=en").get_data(as_text=True)
    assert "I am acting for someone else" in english
    assert "kind=access" in english  # the language switch keeps the deep link


def test_korean_access_request_end_to_end(app, client, smtp):
    response = file_access_request(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/requests/sent")
    # Stored before answered, and nothing has been sent yet: the outbox holds the mail.
    stored = only_request(app)
    assert stored.status is Status.RECEIVED_UNVERIFIED
    assert stored.language == "ko"
    assert smtp.messages == []

    send_mail(app)
    assert len(smtp.messages) == 1
    verify_mail = smtp.messages[0]
    assert verify_mail["To"] == "kim.minji@example.com"
    assert stored.reference in verify_mail["Subject"] and "확인" in verify_mail["Subject"]
    assert verify_mail["Auto-Submitted"] == "auto-generated"
    verify_path = link_in(verify_mail, "/requests/verify/")

    # A mail scanner's GET confirms nothing.
    page = client.get(verify_path)
    assert page.status_code == 200 and 'id="confirm"' in page.get_data(as_text=True)
    assert only_request(app).status is Status.RECEIVED_UNVERIFIED

    confirmed = client.post(verify_path, data={"csrf_token": csrf(client, verify_path)})
    assert confirmed.status_code == 302
    assert only_request(app).status is Status.VERIFIED

    send_mail(app)
    ack = smtp.messages[1]
    ack_text = body_of(ack)
    assert stored.reference in ack_text
    assert stored.due_date.isoformat() in ack_text
    status_path = link_in(ack, "/requests/status/")
    status_page = client.get(status_path).get_data(as_text=True)
    assert stored.reference in status_page
    assert stored.due_date.isoformat() in status_page
    assert "확인되어 처리 대기 중" in status_page or "Confirmed" in status_page

    # The link works once.
    again = client.post(verify_path, data={"csrf_token": csrf(client, "/requests/resend")})
    assert again.status_code == 400
    assert "이미 사용된 링크" in again.get_data(as_text=True)


def test_english_request_gets_english_mail(app, client, smtp):
    client.get("/?lang=en")
    assert file_access_request(client, lang="en").status_code == 302
    assert only_request(app).language == "en"
    send_mail(app)
    assert "Please confirm your request" in smtp.messages[0]["Subject"]
    assert "press the button" in body_of(smtp.messages[0])


def test_the_due_date_in_the_acknowledgement_is_the_legal_one(app, client, smtp):
    file_access_request(client)
    stored = only_request(app)
    received_local = stored.received_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Seoul"))
    assert stored.due_date >= received_local.date() + timedelta(days=10)
    assert stored.due_date.weekday() != 5


def test_errors_sit_beside_their_field_and_nothing_typed_is_lost(client):
    form = {
        "csrf_token": csrf(client, "/requests/new"),
        "kind": "access",
        "name": "박지훈",
        "email": "not-an-address",
        "details": "제 주문 기록을 보여 주세요",
    }
    page = client.post("/requests/new", data=form)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "박지훈" in html and "제 주문 기록을 보여 주세요" in html and "not-an-address" in html
    email_field = html[html.index('id="field-email"') :]
    assert "올바른 이메일 주소를 입력해 주세요" in email_field[: email_field.index("</div>")]


def test_missing_csrf_token_is_refused(app, client):
    response = client.post("/requests/new", data={"kind": "access", "name": "x", "email": "a@b.co"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(IntakeSubmission)).all() == []


def test_the_form_library_s_own_messages_are_in_the_person_s_language(client):
    for lang, message in (("ko", "올바르지 않은 선택값입니다"), ("en", "Not a valid choice")):
        form = {"csrf_token": csrf(client, f"/requests/new?lang={lang}"), "kind": "teleport"}
        refused = client.post(f"/requests/new?lang={lang}", data={**form, "name": "x"})
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)


def test_correction_with_several_items_and_the_add_button(app, client, smtp):
    token = csrf(client, "/requests/new")
    base = {"csrf_token": token, "kind": "correction", "name": "이서연", "email": "lee@example.com"}
    grown = client.post(
        "/requests/new",
        data={**base, "corrections-0-item": "주소", "add_item": "1"},
    ).get_data(as_text=True)
    assert 'name="corrections-1-item"' in grown and 'value="주소"' in grown
    missing = client.post(
        "/requests/new", data={**base, "corrections-0-item": "주소"}
    )  # no correct value
    assert missing.status_code == 400
    ok = client.post(
        "/requests/new",
        data={
            **base,
            "corrections-0-item": "주소",
            "corrections-0-current_value": "서울시 강남구",
            "corrections-0-correct_value": "서울시 마포구",
            "corrections-1-item": "전화번호",
            "corrections-1-correct_value": "010-1234-5678",
        },
    )
    assert ok.status_code == 302
    take_in(app)
    with app.app_context():
        stored = db.session.scalars(select(Request)).one()
        items = [(c.item, c.current_value, c.correct_value) for c in stored.corrections]
    assert items == [
        ("주소", "서울시 강남구", "서울시 마포구"),
        ("전화번호", None, "010-1234-5678"),
    ]


def test_deletion_limited_to_chosen_purposes(app, client):
    token = csrf(client, "/requests/new")
    base = {"csrf_token": token, "kind": "deletion", "name": "윤동민", "email": "yoon@example.com"}
    none_chosen = client.post("/requests/new", data={**base, "scope": "purposes"})
    assert none_chosen.status_code == 400
    assert "목적을 하나 이상 선택해 주세요" in none_chosen.get_data(as_text=True)
    chosen = client.post(
        "/requests/new",
        data={**base, "scope": "purposes", "purposes": ["marketing", "third_party"]},
    )
    assert chosen.status_code == 302
    take_in(app)
    assert only_request(app).scope == {"purposes": ["marketing", "third_party"]}


def _representative_form(client, proof: bytes, filename: str) -> dict:
    from io import BytesIO

    return {
        "csrf_token": csrf(client, "/requests/new"),
        "kind": "access",
        "name": "정하윤",
        "email": "child.jung@example.com",
        "on_behalf": "y",
        "representative_role": "legal_guardian",
        "representative_name": "정우성",
        "representative_email": "guardian@example.com",
        "proof": (BytesIO(proof), filename),
    }


def test_a_legal_representative_uploads_proof_and_verifies_their_own_email(app, client, smtp):
    response = client.post(
        "/requests/new",
        data=_representative_form(client, PDF, "가족관계증명서.pdf"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    take_in(app)  # the proof file waits with the submission and passes to the request
    stored = only_request(app)
    with app.app_context():
        rep = db.session.scalars(select(Request)).one().representative
        assert rep.role.value == "legal_guardian" and rep.email == "guardian@example.com"
        assert rep.proof_content_type == "application/pdf"
        stored_file = Path(app.config["UPLOAD_DIR"]) / rep.proof_file
        assert stored_file.read_bytes() == PDF
        assert "가족관계증명서" not in rep.proof_file  # a random name
        assert oct(stored_file.stat().st_mode & 0o777) == "0o600"
    assert client.get(f"/uploads/{rep.proof_file}").status_code == 404
    send_mail(app)
    assert smtp.messages[0]["To"] == "guardian@example.com"
    assert stored.reference in smtp.messages[0]["Subject"]


def test_proof_is_checked_by_content_and_size(app, client):
    fake = client.post(
        "/requests/new",
        data=_representative_form(client, b"just text", "proof.pdf"),
        content_type="multipart/form-data",
    )
    assert fake.status_code == 400
    assert "PDF, JPEG, PNG 파일만" in fake.get_data(as_text=True)
    assert "정우성" in fake.get_data(as_text=True)  # kept
    big = PNG + b"\0" * (10 * 1024 * 1024)
    # Encoded in memory: the test client would spool a body this size to a file it never closes.
    boundary, body = encode_multipart(_representative_form(client, big, "scan.png"))
    too_big = client.post(
        "/requests/new", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert too_big.status_code == 400
    assert "10MB" in too_big.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(IntakeSubmission)).all() == []
    assert not any(Path(app.config["UPLOAD_DIR"]).glob("*"))


def test_tampered_and_expired_links_get_a_clear_page_with_a_resend_form(app, client, smtp):
    file_access_request(client)
    send_mail(app)
    verify_path = link_in(smtp.messages[0], "/requests/verify/")
    tampered = client.get(verify_path[:-3] + "abc")
    assert tampered.status_code == 400
    html = tampered.get_data(as_text=True)
    assert "유효하지 않은 링크" in html and 'action="/requests/resend"' in html
    with app.app_context():
        db.session.execute(
            update(VerificationNonce).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()
    expired = client.get(verify_path)
    assert expired.status_code == 400 and "만료" in expired.get_data(as_text=True)


def test_resend_answers_the_same_for_known_and_unknown_addresses(app, client, smtp):
    file_access_request(client)
    token = csrf(client, "/requests/resend")
    known = client.post(
        "/requests/resend", data={"csrf_token": token, "email": "kim.minji@example.com"}
    )
    unknown = client.post(
        "/requests/resend", data={"csrf_token": token, "email": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    send_mail(app)
    assert [m["To"] for m in smtp.messages] == ["kim.minji@example.com", "kim.minji@example.com"]


def test_rate_limits_on_submit_and_resend(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        SUBMIT_LIMIT="2 per hour",
        RESEND_LIMIT="1 per hour",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    client = app.test_client()
    codes = [file_access_request(client, email=f"p{n}@example.com").status_code for n in range(3)]
    assert codes == [302, 302, 429]
    token = csrf(client, "/requests/resend")
    first = client.post("/requests/resend", data={"csrf_token": token, "email": "p0@example.com"})
    second = client.post("/requests/resend", data={"csrf_token": token, "email": "p0@example.com"})
    assert (first.status_code, second.status_code) == (200, 429)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_name_with_line_breaks_cannot_inject_headers(app, client, smtp):
    token = csrf(client, "/requests/new")
    response = client.post(
        "/requests/new",
        data={
            "csrf_token": token,
            "kind": "access",
            "email": "kim@example.com",
            "name": "Kim\r\nBcc: attacker@evil.example\r\nSubject: pwned",
        },
    )
    assert response.status_code == 302
    send_mail(app)
    envelope = smtp.envelopes[0]
    assert envelope.rcpt_tos == ["kim@example.com"]
    message = smtp.messages[0]
    assert message["Bcc"] is None and "pwned" not in message["Subject"]


def test_withdrawing_from_the_status_page(app, client, smtp):
    file_access_request(client)
    send_mail(app)
    verify_path = link_in(smtp.messages[0], "/requests/verify/")
    client.post(verify_path, data={"csrf_token": csrf(client, verify_path)})
    send_mail(app)
    status_path = link_in(smtp.messages[1], "/requests/status/")
    withdraw = client.post(
        status_path + "/withdraw", data={"csrf_token": csrf(client, status_path)}
    )
    assert withdraw.status_code == 302
    assert only_request(app).status is Status.WITHDRAWN
    send_mail(app)
    assert "철회" in smtp.messages[2]["Subject"]
    assert 'id="withdraw"' not in client.get(status_path).get_data(as_text=True)


def test_a_question_is_answered_on_the_status_page(app, client, smtp):
    from rightsdesk.requests.intake import ask_subject
    from rightsdesk.requests.tokens import status_token

    file_access_request(client)
    with app.app_context():
        stored = db.session.scalars(select(Request)).one()
        from rightsdesk.requests.lifecycle import change_status

        change_status(stored, Status.VERIFIED, actor="t", now=datetime.now(UTC))
        question = ask_subject(
            stored, "주문하신 이메일 주소를 알려 주세요.", actor="staff:kim", now=datetime.now(UTC)
        )
        token, question_id = status_token(stored), question.id
    path = f"/requests/status/{token}"
    page = client.get(path).get_data(as_text=True)
    assert "주문하신 이메일 주소를 알려 주세요." in page
    empty = client.post(f"{path}/questions/{question_id}", data={"csrf_token": csrf(client, path)})
    assert empty.status_code == 400
    answered = client.post(
        f"{path}/questions/{question_id}",
        data={"csrf_token": csrf(client, path), "answer": "kim.minji@example.com 입니다"},
    )
    assert answered.status_code == 302
    with app.app_context():
        stored = db.session.scalars(select(Request)).one()
        assert stored.status is Status.IN_PROGRESS
        assert stored.questions[0].answer_text == "kim.minji@example.com 입니다"


def test_a_forged_or_revoked_status_link_is_not_found(app, client):
    from rightsdesk.requests.tokens import new_status_secret, status_token

    file_access_request(client)
    with app.app_context():
        stored = db.session.scalars(select(Request)).one()
        token = status_token(stored)
        assert client.get(f"/requests/status/{token}").status_code == 200
        stored.status_secret = new_status_secret()
        db.session.commit()
    assert client.get(f"/requests/status/{token}").status_code == 404
    assert client.get("/requests/status/garbage").status_code == 404


def test_unverified_requests_expire_and_lose_their_personal_data(app, client, runner):
    from io import BytesIO

    file_access_request(client)
    client.post(
        "/requests/new",
        data={**_representative_form(client, PDF, "p.pdf"), "proof": (BytesIO(PDF), "p.pdf")},
        content_type="multipart/form-data",
    )
    take_in(app)
    with app.app_context():
        rows = db.session.scalars(select(Request).order_by(Request.id)).all()
        proof = Path(app.config["UPLOAD_DIR"]) / rows[1].representative.proof_file
        assert proof.exists()
        db.session.execute(
            update(Request).values(received_at=datetime.now(UTC) - timedelta(days=8))
        )
        db.session.commit()
    dry = runner.invoke(args=["jobs", "expire-unverified", "--dry-run"])
    assert "would expire 2 unverified request(s)" in dry.output
    result = runner.invoke(args=["jobs", "expire-unverified"])
    assert result.exit_code == 0 and "expired 2 unverified request(s)" in result.output
    with app.app_context():
        for row in db.session.scalars(select(Request)):
            assert row.status is Status.EXPIRED
            assert row.subject is None and row.details is None and row.representative is None
            assert row.personal_data_purged_at is not None
        outbox = db.session.scalars(select(OutboxMessage)).all()
        assert all(m.recipient == "purged" and m.body_text == "" for m in outbox)
    assert not proof.exists()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_home_page_links_each_right_to_the_form(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/requests/new?kind=access"' in html
    assert 'href="/requests/new?kind=correction"' in html


def test_revoke_link_command_kills_old_links_and_mails_a_new_one(app, client, runner, smtp):
    from rightsdesk.requests.tokens import status_token

    file_access_request(client)
    with app.app_context():
        stored = db.session.scalars(select(Request)).one()
        old, reference = status_token(stored), stored.reference
    assert client.get(f"/requests/status/{old}").status_code == 200
    result = runner.invoke(args=["requests", "revoke-link", reference, "--send-new"])
    assert result.exit_code == 0, result.output
    assert client.get(f"/requests/status/{old}").status_code == 404
    send_mail(app)
    new_link = link_in(smtp.messages[-1], "/requests/status/")
    assert "새 링크" in smtp.messages[-1]["Subject"]
    assert client.get(new_link).status_code == 200
    missing = runner.invoke(args=["requests", "revoke-link", "RD-1999-000001"])
    assert missing.exit_code == 2 and "no request" in missing.output


def test_rate_limits_can_be_shared_through_redis(database_url, smtp_port, tmp_path):
    """Two web nodes (two apps) count against one limit when they share Redis."""
    import os
    import uuid

    import pytest

    redis_url = os.environ.get("RIGHTSDESK_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("set RIGHTSDESK_TEST_REDIS_URL (CI does) to test Redis-backed rate limits")
    prefix = f"rd-test-{uuid.uuid4().hex[:8]}"
    config = dict(
        SUBMIT_LIMIT="2 per hour",
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=prefix,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    codes = []
    for n in range(3):
        node = make_app(database_url, **config)  # a fresh process's worth of state each time
        codes.append(file_access_request(node.test_client(), email=f"r{n}@example.com").status_code)
        with node.app_context():
            db.session.remove()
            db.engine.dispose()
    assert codes == [302, 302, 429]


def test_behind_a_proxy_links_and_limits_use_the_forwarded_client(
    database_url, smtp_port, tmp_path
):
    app = make_app(
        database_url,
        PROXY_HOPS=1,
        SUBMIT_LIMIT="1 per hour",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    client = app.test_client()
    first = file_access_request(
        client,
        email="a@example.com",
    )
    assert first.status_code == 302
    token = csrf(client, "/requests/new")
    form = {"csrf_token": token, "kind": "access", "name": "x", "email": "b@example.com"}
    other_client = client.post(
        "/requests/new", data=form, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert other_client.status_code == 302  # another client address: its own limit
    same_client = client.post(
        "/requests/new", data=form, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert same_client.status_code == 429
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_links_in_a_mail_carry_the_request_s_language(app, client, smtp):
    file_access_request(client, lang="en", email="lee@example.com")
    send_mail(app)
    body = body_of(smtp.messages[0])
    verify = re.search(r"http://rightsdesk\.test(/requests/verify/\S+)", body).group(1)
    assert verify.endswith("?lang=en")
    assert "http://rightsdesk.test/requests/resend?lang=en" in body
    fresh = app.test_client()  # another browser: no language cookie
    page = fresh.get(verify).get_data(as_text=True)
    assert '<html lang="en">' in page
