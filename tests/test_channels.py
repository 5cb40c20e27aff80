"""Requests by phone, letter and in person, and notices on paper (printed PDF letters)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pypdf
from sqlalchemy import func, select

from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    Letter,
    OutboxMessage,
    Question,
    Request,
    StaffRole,
    Subject,
)
from tests.helpers import SEOUL, act, csrf, organisation, sign_in

ADDRESS = "서울특별시 중구 세종대로 110, 101동 1203호 (04524)"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _enter(client, **fields):
    data = {
        "csrf_token": csrf(client, "/admin/requests/new"),
        "kind": "access",
        "received_via": "phone",
        "received_at": "2025-09-24T10:00",
        "name": "김영희",
        **fields,
    }
    return client.post("/admin/requests/new", data=data, content_type="multipart/form-data")


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Request.id))),
            db.session.scalar(select(func.count(Letter.id))),
            db.session.scalar(select(func.count(OutboxMessage.id))),
        )


def test_a_phone_request_with_only_a_postal_address_is_answered_by_a_printed_letter(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    response = _enter(
        client,
        postal_address=ADDRESS,
        identity_checked="y",
        identity_method="가입 시 등록한 주소·생년월일 대조 (전화)",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert request.status is Status.VERIFIED and request.received_via == "phone"
        assert request.identity_method.startswith("가입 시 등록한")
        assert request.subject.email is None and request.subject.postal_address == ADDRESS
        assert request.due_date.isoformat() == "2025-10-10"  # from the real receipt time
        letter = db.session.scalar(select(Letter))
        assert letter.template == "acknowledge" and letter.posted_at is None
        reference, due, letter_id = request.reference, request.due_date, letter.id
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    listing = client.get("/admin/letters").get_data(as_text=True)
    assert reference in listing and "세종대로 110" in listing
    pdf = client.get(f"/admin/letters/{letter_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = _pdf_text(pdf.data)
    assert pdf.data.startswith(b"%PDF") and "/FontFile2" in pdf.data.decode("latin-1")
    for expected in (reference, due.isoformat(), "김영희", "세종대로", "테스트 쇼핑", "접수번호"):
        assert expected in text, expected


def test_marking_a_letter_posted_is_the_delivery_evidence_audited_once(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    _enter(client, postal_address=ADDRESS, identity_checked="y", identity_method="신분증 대조")
    with app.app_context():
        letter_id = db.session.scalar(select(Letter.id))
    today = datetime.now(UTC).astimezone(SEOUL).date().isoformat()
    token = csrf(client, "/admin/letters")
    future = client.post(
        f"/admin/letters/{letter_id}/posted", data={"csrf_token": token, "posted_on": "2999-01-01"}
    )
    assert future.status_code == 302
    with app.app_context():
        assert db.session.get(Letter, letter_id).posted_at is None
    posted = {"csrf_token": token, "posted_on": today}
    client.post(f"/admin/letters/{letter_id}/posted", data=posted)
    again = client.post(
        f"/admin/letters/{letter_id}/posted",
        data={"csrf_token": token, "posted_on": today},
        follow_redirects=True,
    )
    assert "already marked posted" in again.get_data(as_text=True)
    with app.app_context():
        letter = db.session.get(Letter, letter_id)
        assert letter.posted_at is not None and letter.posted_by.startswith("staff:")
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "letter.posted")
        ).all()
        assert len(events) == 1 and f'"letter":{letter_id}' in events[0].data.replace(" ", "")
    assert f'id="letter-{letter_id}"' not in client.get("/admin/letters").get_data(as_text=True)


def test_a_request_without_any_contact_is_refused_and_nothing_is_written(app):
    client = sign_in(app, StaffRole.HANDLER)
    response = _enter(client, phone="  ", postal_address="   ", email="")
    assert response.status_code == 400
    assert 'id="error-contact"' in response.get_data(as_text=True)
    assert _counts(app) == (0, 0, 0)


def test_a_postal_address_of_spaces_or_paper_asked_without_an_address_is_refused(app):
    client = sign_in(app, StaffRole.HANDLER)
    for fields in (
        {"phone": "010-1234-5678", "postal_address": "    "},
        {"phone": "02-123-4567", "reply_by_post": "y"},
    ):
        response = _enter(client, **fields)
        assert response.status_code == 400
        assert 'id="error-postal_address"' in response.get_data(as_text=True)
    assert _counts(app) == (0, 0, 0)


def test_a_phone_number_alone_gets_each_notice_read_out_and_the_day_recorded(app, runner):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    response = _enter(
        client, phone="010-9876-5432", identity_checked="y", identity_method="회신 전화로 확인"
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        letter = db.session.scalars(select(Letter)).one()
        assert (letter.by_phone, letter.phone, letter.postal_address) == (
            True,
            "010-9876-5432",
            "",
        )
        letter_id, reference = letter.id, letter.request_ref
        text = _pdf_text(letter.pdf)
    assert "010-9876-5432" in text and reference in text
    assert runner.invoke(args=["letters", "list"]).output.rstrip().endswith("\tphone")
    page = client.get("/admin/letters").get_data(as_text=True)
    row = page.split(f'id="letter-{letter_id}"')[1].split("</tr>")[0]
    assert "010-9876-5432" in row and "전화로 안내" in row
    client.post(
        f"/admin/letters/{letter_id}/posted",
        data={"csrf_token": csrf(client, "/admin/letters"), "posted_on": _today(app)},
    )
    with app.app_context():
        assert db.session.get(Letter, letter_id).posted_at is not None
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "letter.told_by_phone" in actions and "letter.posted" not in actions


def test_identity_confirmed_without_saying_how_is_refused(app):
    client = sign_in(app, StaffRole.HANDLER)
    response = _enter(client, postal_address=ADDRESS, identity_checked="y", identity_method=" ")
    assert response.status_code == 400 and 'id="error-identity_method"' in response.get_data(
        as_text=True
    )
    assert _counts(app) == (0, 0, 0)


def test_a_letter_by_a_representative_with_proof_and_correction_items(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    without_proof = _enter(
        client,
        kind="correction",
        received_via="letter",
        postal_address=ADDRESS,
        rep_role="legal_guardian",
        rep_name="김철수",
        rep_postal_address="부산광역시 해운대구 센텀로 1",
        item_0="phone",
        current_0="010-0000-0000",
        correct_0="010-2222-3333",
    )
    assert without_proof.status_code == 400
    assert 'id="error-rep_proof"' in without_proof.get_data(as_text=True)
    response = _enter(
        client,
        kind="correction",
        received_via="letter",
        postal_address=ADDRESS,
        rep_role="legal_guardian",
        rep_name="김철수",
        rep_postal_address="부산광역시 해운대구 센텀로 1",
        rep_proof=(io.BytesIO(PNG), "proof.png"),
        item_0="phone",
        current_0="010-0000-0000",
        correct_0="010-2222-3333",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert request.status is Status.RECEIVED_UNVERIFIED  # identity still to be confirmed
        assert request.received_via == "letter"
        assert request.representative.proof_content_type == "image/png"
        assert request.representative.email is None
        assert [(c.item, c.current_value, c.correct_value) for c in request.corrections] == [
            ("phone", "010-0000-0000", "010-2222-3333")
        ]
        assert _counts(app)[1:] == (0, 0)  # no verification link without an e-mail
        reference = request.reference
    act(client, reference, "verify", method="법정대리인 가족관계증명서 확인")
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert request.status is Status.VERIFIED and request.identity_method.startswith("법정")
        letter = db.session.scalar(select(Letter))
        assert letter.addressee == "김철수" and letter.postal_address.startswith("부산")


def test_a_request_without_e_mail_goes_through_its_whole_life_on_paper(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    _enter(
        client,
        kind="access",
        received_via="in_person",
        postal_address=ADDRESS,
        phone="010-1234-5678",
        identity_checked="y",
        identity_method="주민등록증 대조 (창구)",
    )
    with app.app_context():
        reference = db.session.scalar(select(Request.reference))
    assert client.get(f"/admin/requests/{reference}").status_code == 200
    act(client, reference, "ask", question="어느 계정인지 알려 주세요", step="send")
    with app.app_context():
        question = db.session.scalar(select(Question.id))
    assert act(client, reference, "answer", question=str(question), answer=" ").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Request.status)) is Status.AWAITING_SUBJECT
    act(client, reference, "answer", question=str(question), answer="쇼핑몰 회원 계정입니다")
    act(
        client,
        reference,
        "extend",
        reason="수사 중인 사건과 관련되어 열람을 미룹니다",
        review_on="2025-12-31",
        step="send",
    )
    act(client, reference, "complete", outcome="회원 정보 사본을 우편으로 보냅니다", step="send")
    with app.app_context():
        request = db.session.scalar(select(Request))
        assert request.status is Status.COMPLETED
        templates = db.session.scalars(select(Letter.template).order_by(Letter.id)).all()
        assert templates == ["acknowledge", "question", "extended", "completed"]
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
        completed = db.session.scalar(select(Letter).where(Letter.template == "completed"))
        assert "회원 정보 사본을 우편으로" in _pdf_text(completed.pdf)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert page.count('id="letter-') == 4 and "010-1234-5678" in page


def test_with_an_e_mail_notices_stay_mail_unless_paper_is_asked_for(app):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    _enter(client, email="Mail@Example.com", identity_checked="y", identity_method="회신 전화")
    _enter(
        client,
        email="paper@example.com",
        postal_address=ADDRESS,
        reply_by_post="y",
        identity_checked="y",
        identity_method="회신 전화",
    )
    with app.app_context():
        mails = db.session.scalars(select(OutboxMessage.recipient)).all()
        letters = db.session.scalars(select(Letter.template)).all()
        assert mails == ["mail@example.com"] and letters == ["acknowledge"]
        emails = db.session.scalars(select(Subject.email).order_by(Subject.id)).all()
        assert emails == ["mail@example.com", "paper@example.com"]


def test_the_letters_page_lists_nothing_for_an_auditor_to_mark(app):
    organisation(app)
    handler = sign_in(app, StaffRole.HANDLER)
    _enter(handler, postal_address=ADDRESS, identity_checked="y", identity_method="신분증")
    auditor = sign_in(app, StaffRole.AUDITOR)
    page = auditor.get("/admin/letters").get_data(as_text=True)
    assert re.search(r'id="letter-\d+"', page) and "posted-" not in page
    with app.app_context():
        letter_id = db.session.scalar(select(Letter.id))
    token = csrf(auditor, "/admin/letters")
    refused = auditor.post(
        f"/admin/letters/{letter_id}/posted", data={"csrf_token": token, "posted_on": "2025-01-01"}
    )
    assert refused.status_code == 403


def test_purging_a_requests_personal_data_blanks_its_letters_too(app):
    from rightsdesk.requests.intake import purge_personal_data

    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    _enter(client, postal_address=ADDRESS, identity_checked="y", identity_method="신분증 대조")
    with app.app_context():
        request = db.session.scalar(select(Request))
        purge_personal_data(request, now=datetime.now(UTC))
        db.session.commit()
        letter = db.session.scalar(select(Letter))
        assert (letter.addressee, letter.postal_address, letter.body_text, letter.pdf) == (
            "purged",
            "purged",
            "",
            None,
        )
        assert letter.template == "acknowledge" and letter.created_at is not None
    assert client.get(f"/admin/letters/{letter.id}.pdf").status_code == 404
    assert f'id="letter-{letter.id}"' not in client.get("/admin/letters").get_data(as_text=True)


def test_the_letters_commands_list_save_and_record_posting(app, runner, tmp_path):
    organisation(app)
    client = sign_in(app, StaffRole.HANDLER)
    _enter(client, postal_address=ADDRESS, identity_checked="y", identity_method="신분증 대조")
    with app.app_context():
        letter_id, reference = db.session.execute(select(Letter.id, Letter.request_ref)).one()
    listed = runner.invoke(args=["letters", "list"])
    assert listed.exit_code == 0 and listed.output.startswith(f"{letter_id}\t{reference}\t")
    saved = runner.invoke(args=["letters", "save", str(tmp_path / "print")])
    assert saved.exit_code == 0, saved.output
    files = list((tmp_path / "print").glob("*.pdf"))
    assert [f.name for f in files] == [f"{reference}-{letter_id}-acknowledge.pdf"]
    assert reference in _pdf_text(files[0].read_bytes())
    bad = runner.invoke(args=["letters", "posted", str(letter_id), "--on", "30/11/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    assert runner.invoke(args=["letters", "posted", "9999"]).exit_code == 2
    with app.app_context():
        assert db.session.get(Letter, letter_id).posted_at is None  # nothing written
    done = runner.invoke(args=["letters", "posted", str(letter_id)])
    assert done.exit_code == 0 and "posted on" in done.output
    assert runner.invoke(args=["letters", "list"]).output == ""
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("letter.%"))
        ).all()
        assert sorted(actions) == ["letter.downloaded", "letter.posted"]


def test_a_paper_request_waiting_for_staff_to_confirm_identity_never_expires_unseen(app):
    from datetime import timedelta

    from rightsdesk.requests.intake import expire_unverified

    client = sign_in(app, StaffRole.HANDLER)
    _enter(client, postal_address=ADDRESS)  # identity still to be confirmed by staff
    _enter(client, email="web-like@example.com")  # got a verification link
    with app.app_context():
        report = expire_unverified(now=datetime.now(UTC) + timedelta(days=3000))
        statuses = db.session.scalars(select(Request.status).order_by(Request.id)).all()
    assert len(report.expired) == 1
    assert statuses == [Status.RECEIVED_UNVERIFIED, Status.EXPIRED]


def _today(app) -> str:
    return datetime.now(SEOUL).date().isoformat()
