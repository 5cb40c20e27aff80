"""Journeys in a real browser (Playwright driving Debian's Chromium) against the served app,
with the mail going through a real SMTP server on loopback.

Skipped, saying so, where Chromium is not installed (`apt-get install chromium`; .ci/run does).
A failing journey leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.demo import shop as demo_shop
from rightsdesk.extensions import db
from rightsdesk.models import StaffRole
from rightsdesk.organisation.setup import set_up_organisation
from rightsdesk.organisation.staff import create_staff
from rightsdesk.requests.intake import process_submissions
from tests.helpers import chromium, free_port, make_app, needs_chromium, open_action

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"

pytestmark = needs_chromium("browser journeys")


@contextmanager
def serve(database_url: str, smtp_port: int, tmp_path: Path, **config) -> Iterator[dict]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(
        database_url,
        BASE_URL=base,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        WTF_CSRF_SSL_STRICT=False,
        **config,
    )
    with app.app_context():
        now = datetime.now(UTC)
        set_up_organisation(
            slug="shop",
            name_ko="테스트 쇼핑",
            name_en="Test Shop",
            officer_name="홍길동",
            officer_email="privacy@shop.example",
            officer_phone=None,
            actor="test",
            now=now,
        )
        create_staff(
            email="handler@shop.example",
            name="담당자",
            role=StaffRole.HANDLER,
            password=PASSWORD,
            actor="test",
            now=now,
        )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"app": app, "base": base}
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def served(database_url, smtp_port, tmp_path) -> Iterator[dict]:
    with serve(database_url, smtp_port, tmp_path) as running:
        yield running


@pytest.fixture
def shop_url(tmp_path, monkeypatch) -> str:
    """The demo shop's database, which the demo data map's SQL system reads and corrects."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    demo_shop.create_demo_shop(url, users=30)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
    return url


@pytest.fixture
def served_with_shop(database_url, smtp_port, tmp_path, shop_url) -> Iterator[dict]:
    datamap = Path(demo_shop.__file__).with_name("demo_datamap.toml")
    with serve(database_url, smtp_port, tmp_path, DATAMAP_FILE=str(datamap)) as running:
        yield running


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


@contextmanager
def screenshot_on_failure(page, name: str):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def send_mail(app) -> None:
    """One round of the worker: the form's submissions become requests, the outbox is sent."""
    with app.app_context():
        assert process_submissions(now=datetime.now(UTC)).failed == []
        assert deliver_due(now=datetime.now(UTC), worker="browser-test").failed == 0


def link(message, base: str, path: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(re.escape(base) + re.escape(path) + r"\S+", body).group(0)


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def file_and_confirm(page, served, smtp, *, kind: str, lang: str, email: str) -> str:
    """The subject's side: the form, the mail, the confirm button. Returns the status URL."""
    base, app = served["base"], served["app"]
    page.goto(f"{base}/requests/new?kind={kind}&lang={lang}")
    page.fill("#name", "김민지" if lang == "ko" else "Minji Kim")
    page.fill("#email", email)
    page.fill("#details", "주문 내역을 보고 싶습니다" if lang == "ko" else "Please act on my data")
    page.click("#submit")
    page.wait_for_url(f"{base}/requests/sent*")
    sent_before = len(smtp.messages)
    send_mail(app)
    assert len(smtp.messages) == sent_before + 1
    page.goto(link(smtp.messages[-1], base, "/requests/verify/"))
    page.click("#confirm")
    page.wait_for_url(re.compile(r".*/requests/status/.*"))
    send_mail(app)
    return link(smtp.messages[-1], base, "/requests/status/")


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", "handler@shop.example")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/admin/")


def test_korean_access_request_from_form_to_download(served, smtp, browser, tmp_path):
    base, app = served["base"], served["app"]
    subject = browser.new_page()
    staff = browser.new_page()
    with (
        screenshot_on_failure(subject, "korean-access-subject"),
        screenshot_on_failure(staff, "korean-access-staff"),
    ):
        status_url = file_and_confirm(
            subject, served, smtp, kind="access", lang="ko", email="kim.minji@example.com"
        )
        assert "확인되어 처리 대기 중" in subject.inner_text("#status")
        reference = re.search(r"RD-\d{4}-\d{6}", text_of(smtp.messages[-1])).group(0)

        sign_in(staff, base)
        staff.click(f"text={reference}")
        export = tmp_path / "열람자료.csv"
        export.write_text("항목,값\n이메일,kim.minji@example.com\n", encoding="utf-8")
        staff.set_input_files(open_action(staff, "#form-offer input[name=file]"), str(export))
        staff.click(open_action(staff, "#do-offer"))
        outcome = open_action(staff, "#form-complete textarea[name=outcome]")
        staff.fill(outcome, "요청하신 개인정보 사본을 준비했습니다.")
        staff.click(open_action(staff, "#do-complete"))
        assert "요청하신 개인정보 사본을 준비했습니다." in staff.inner_text("#preview")
        staff.click("#send-notice")
        assert "처리 완료" in staff.inner_text("#status")

        send_mail(app)
        notice = text_of(smtp.messages[-1])
        assert reference in notice and "열람자료.csv" in notice
        subject.goto(status_url)
        assert "처리 완료" in subject.inner_text("#status")
        with subject.expect_download() as download_info:
            subject.click("text=열람자료.csv")
        downloaded = download_info.value
        assert Path(downloaded.path()).read_text(encoding="utf-8").startswith("항목,값")


def test_english_deletion_with_a_partial_refusal(served, smtp, browser):
    base, app = served["base"], served["app"]
    subject = browser.new_page()
    staff = browser.new_page()
    with (
        screenshot_on_failure(subject, "english-deletion-subject"),
        screenshot_on_failure(staff, "english-deletion-staff"),
    ):
        status_url = file_and_confirm(
            subject, served, smtp, kind="deletion", lang="en", email="lee@example.com"
        )
        assert "Confirmed" in subject.inner_text("#status")
        assert "Please confirm your request" in smtp.messages[0]["Subject"]
        reference = re.search(r"RD-\d{4}-\d{6}", text_of(smtp.messages[-1])).group(0)

        sign_in(staff, base)
        staff.click(f"text={reference}")
        open_action(staff, "#form-partial select[name=ground]")
        staff.select_option("#form-partial select[name=ground]", "retention_required_by_law")
        done = open_action(staff, "#form-partial textarea[name=done]")
        staff.fill(done, "회원 정보와 마케팅 수신 정보를 삭제했습니다.")
        open_action(staff, "#form-partial textarea[name=explanation]")
        staff.fill("#form-partial textarea[name=explanation]", "결제 기록은 5년간 분리 보관합니다.")
        staff.click(open_action(staff, "#do-partial"))
        assert "법 §36① 단서" in staff.inner_text("#preview")
        staff.click("#send-notice")

        send_mail(app)
        notice = text_of(smtp.messages[-1])
        assert smtp.messages[-1]["To"] == "lee@example.com"
        for expected in ("결제 기록은 5년간 분리 보관합니다.", "§36", "privacy.kisa.or.kr", "118"):
            assert expected in notice
        subject.goto(status_url)
        assert "Partly completed" in subject.inner_text("#status")


def test_korean_correction_with_one_item_approved_into_the_shop_and_one_rejected(
    served_with_shop, shop_url, smtp, browser
):
    base, app = served_with_shop["base"], served_with_shop["app"]
    subject_email = "jihoon.park@example.com"  # a demo subject: a customer of the shop

    def shop_user() -> tuple[str, str | None]:
        engine = create_engine(shop_url)
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT name, phone FROM users WHERE email = :e"), {"e": subject_email}
            ).one()
        engine.dispose()
        return row.name, row.phone

    name_before, phone_before = shop_user()
    assert phone_before != "010-7777-1234"
    subject = browser.new_page()
    staff = browser.new_page()
    with (
        screenshot_on_failure(subject, "korean-correction-subject"),
        screenshot_on_failure(staff, "korean-correction-staff"),
    ):
        subject.goto(f"{base}/requests/new?kind=correction&lang=ko")
        subject.fill("#name", "박지훈")
        subject.fill("#email", subject_email)
        subject.fill("#corrections-0-item", "전화번호")
        subject.fill("#corrections-0-current_value", phone_before or "")
        subject.fill("#corrections-0-correct_value", "010-7777-1234")
        subject.click("#add_item")  # a second item: the form comes back with one more row
        subject.fill("#corrections-1-item", "이름")
        subject.fill("#corrections-1-correct_value", "박지운")
        assert subject.input_value("#corrections-0-correct_value") == "010-7777-1234"
        subject.click("#submit")
        subject.wait_for_url(f"{base}/requests/sent*")
        send_mail(app)
        verify_mail = smtp.messages[-1]
        assert verify_mail["To"] == subject_email
        subject.goto(link(verify_mail, base, "/requests/verify/"))
        subject.click("#confirm")
        subject.wait_for_url(re.compile(r".*/requests/status/.*"))
        send_mail(app)
        status_url = link(smtp.messages[-1], base, "/requests/status/")
        reference = re.search(r"RD-\d{4}-\d{6}", text_of(smtp.messages[-1])).group(0)

        sign_in(staff, base)
        staff.click(f"text={reference}")
        items = staff.locator("td[id^=correction-]")
        assert items.count() == 2
        phone_item = items.filter(has_text="전화번호")
        assert "010-7777-1234" in phone_item.inner_text()
        phone_item.locator("select[name=target]").select_option("shop.users.phone")
        phone_item.locator("button[value=approve]").click()
        staff.wait_for_load_state()
        approved = staff.locator("td[id^=correction-]").filter(has_text="전화번호").inner_text()
        assert "shop.users.phone" in approved
        name_item = staff.locator("td[id^=correction-]").filter(has_text="이름:")
        name_item.locator("input[name=note]").fill("가족관계증명서의 이름과 다릅니다")
        name_item.locator("button[value=reject]").click()
        staff.wait_for_load_state()
        decided = staff.inner_text("td[id^=correction-] >> nth=1")
        assert "가족관계증명서의 이름과 다릅니다" in decided
        assert staff.locator("td[id^=correction-] button").count() == 0  # both are decided
        # Applied to the operator's database: the phone changed, the name did not.
        assert shop_user() == (name_before, "010-7777-1234")

        staff.fill(
            open_action(staff, "#form-complete textarea[name=outcome]"),
            "전화번호를 정정했습니다. 이름은 증빙과 달라 정정하지 않았습니다.",
        )
        staff.click(open_action(staff, "#do-complete"))
        assert "전화번호를 정정했습니다." in staff.inner_text("#preview")
        staff.click("#send-notice")
        assert "처리 완료" in staff.inner_text("#status")

        send_mail(app)
        notice = smtp.messages[-1]
        assert notice["To"] == subject_email and reference in text_of(notice)
        assert "전화번호를 정정했습니다." in text_of(notice)
        subject.goto(status_url)
        assert "처리 완료" in subject.inner_text("#status")
        table = subject.inner_text("#corrections")
        with app.test_request_context(), force_locale("ko"):
            corrected, not_corrected = _("Corrected"), _("Not corrected")
        rows = {line.split("\t")[0]: line for line in table.splitlines()[1:]}
        assert "010-7777-1234" in rows["전화번호"] and corrected in rows["전화번호"]
        assert not_corrected not in rows["전화번호"] and not_corrected in rows["이름"]
        assert "가족관계증명서의 이름과 다릅니다" in rows["이름"]


@pytest.fixture
def served_for_erasure(database_url, smtp_port, tmp_path, shop_url) -> Iterator[dict]:
    """The demo data map without its app (no app answers in this test): the shop and the paper
    files, whose checklist staff tick in the browser."""
    text_value = Path(demo_shop.__file__).with_name("demo_datamap.toml").read_text("utf-8")
    start, end = text_value.index("# --- the mobile app"), text_value.index("# --- what only")
    datamap = tmp_path / "shop-and-paper.toml"
    datamap.write_text(text_value[:start] + text_value[end:], encoding="utf-8")
    with serve(database_url, smtp_port, tmp_path, DATAMAP_FILE=str(datamap)) as running:
        yield running


def test_korean_erasure_keeps_the_statutory_records_apart_and_says_until_when(
    served_for_erasure, shop_url, smtp, browser
):
    base, app = served_for_erasure["base"], served_for_erasure["app"]
    subject_email = "jihoon.park@example.com"  # a customer of the demo shop

    def shop_rows(sql: str) -> list:
        engine = create_engine(shop_url)
        with engine.connect() as connection:
            rows = connection.execute(text(sql), {"e": subject_email}).all()
        engine.dispose()
        return rows

    [(user_id,)] = shop_rows("SELECT id FROM users WHERE email = :e")
    subject = browser.new_page()
    staff = browser.new_page()
    with (
        screenshot_on_failure(subject, "korean-erasure-subject"),
        screenshot_on_failure(staff, "korean-erasure-staff"),
    ):
        status_url = file_and_confirm(
            subject, served_for_erasure, smtp, kind="deletion", lang="ko", email=subject_email
        )
        reference = re.search(r"RD-\d{4}-\d{6}", text_of(smtp.messages[-1])).group(0)
        sign_in(staff, base)
        staff.click(f"text={reference}")
        staff.click(open_action(staff, "#do-erase-preview"))
        preview = staff.inner_text("#erasure-preview")
        assert "shop.payments" in preview and "시행령 §6①3" in preview
        staff.click(open_action(staff, "#do-erase"))
        assert "step-pending" in staff.inner_html("#erasure-steps")  # the paper files wait
        staff.locator("#connectors input[name=note]").fill("2026-11-22 종이 신청서 세단 (담당자)")
        staff.locator("#connectors button[id^=tick-]").click()
        staff.wait_for_load_state()
        staff.click(open_action(staff, "#do-erase"))
        steps = staff.inner_html("#erasure-steps")
        assert "step-pending" not in steps and "step-failed" not in steps
        staff.click(open_action(staff, "#do-erase-finish"))
        notice_text = staff.inner_text("#preview")
        assert "분리하여 보관" in notice_text and "전자상거래법" in notice_text
        staff.click("#send-notice")

        send_mail(app)
        notice = smtp.messages[-1]
        assert notice["To"] == subject_email and "결제 기록" in text_of(notice)
        subject.goto(status_url)
        assert "결제 기록" in subject.inner_text("#outcome-refused")
        assert "회원 정보" in subject.inner_text("#outcome-done")
    # The shop no longer knows the customer; their payments are gone from it.
    assert shop_rows("SELECT id FROM users WHERE email = :e") == []
    assert (
        shop_rows(
            f"SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id "
            f"WHERE o.user_id = {int(user_id)}"
        )
        == []
    )


def test_korean_access_package_built_from_the_shop_and_downloaded(
    served_for_erasure, shop_url, smtp, browser
):
    import io
    import json
    import zipfile

    base, app = served_for_erasure["base"], served_for_erasure["app"]
    subject_email = "jihoon.park@example.com"
    subject = browser.new_page()
    staff = browser.new_page()
    with (
        screenshot_on_failure(subject, "korean-package-subject"),
        screenshot_on_failure(staff, "korean-package-staff"),
    ):
        status_url = file_and_confirm(
            subject, served_for_erasure, smtp, kind="access", lang="ko", email=subject_email
        )
        reference = re.search(r"RD-\d{4}-\d{6}", text_of(smtp.messages[-1])).group(0)
        sign_in(staff, base)
        staff.click(f"text={reference}")
        staff.click(open_action(staff, "#do-collect"))
        open_action(staff, "#form-complete textarea[name=outcome]")
        staff.fill("#form-complete textarea[name=outcome]", "보유한 개인정보 전체를 준비했습니다.")
        staff.click(open_action(staff, "#do-complete"))
        staff.click("#send-notice")
        send_mail(app)
        assert f"{reference}-personal-data.zip" in text_of(smtp.messages[-1])
        subject.goto(status_url)
        with subject.expect_download() as download_info:
            subject.click(f"text={reference}-personal-data.zip")
        archive = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    users = json.loads(archive.read("shop/users.json"))
    assert [u["email"] for u in users] == [subject_email]
    assert "shop.payments" in archive.read("summary.html").decode()


def test_the_form_keeps_what_was_typed_and_shows_errors_beside_fields(served, browser):
    page = browser.new_page()
    with screenshot_on_failure(page, "form-errors"):
        page.goto(f"{served['base']}/requests/new?kind=correction")
        assert page.is_visible("#correction-items")  # the correction section is shown …
        assert not page.is_visible("#scope")  # … the deletion scope is not
        page.fill("#name", "박지훈")
        page.fill("#email", "not-an-address")
        page.fill("#details", "주소를 고쳐 주세요")
        page.click("#submit")
        assert page.input_value("#name") == "박지훈"
        assert page.input_value("#details") == "주소를 고쳐 주세요"
        assert "올바른 이메일 주소" in page.inner_text("#field-email")


# --- requests by phone or letter, answered on paper -----------------------------------------

POSTAL = "서울특별시 중구 세종대로 110\n101동 1203호 (04524)"


def _enter_by_phone(page, base: str, **fields) -> None:
    page.goto(f"{base}/admin/requests/new")
    page.check("input[name=kind][value=access]")
    page.check("input[name=received_via][value=phone]")
    page.fill("#received_at", "2025-09-24T10:00")
    page.fill("#name", "김영희")
    for selector, value in fields.items():
        page.fill(f"#{selector}", value)
    if fields.get("identity_method"):
        page.check("#identity_checked")
    page.click("#enter-request")


def test_a_phone_request_with_only_a_postal_address_answered_by_a_letter_marked_posted(
    served, smtp, browser
):
    import io

    import pypdf

    base = served["base"]
    page = browser.new_page()
    with screenshot_on_failure(page, "phone-letter"):
        sign_in(page, base)
        # Nothing to reach the person by: refused beside the field, what was typed kept.
        _enter_by_phone(page, base, postal_address="   ")
        assert "우편 주소" in page.inner_text("#error-contact")
        assert page.input_value("#name") == "김영희"
        _enter_by_phone(page, base, postal_address=POSTAL, identity_method="주소·생년월일 대조")
        page.wait_for_url(re.compile(r".*/admin/requests/RD-.*"))
        reference = re.search(r"RD-\d{4}-\d{6}", page.url).group(0)
        assert "우편으로 답변" in page.inner_text("#subject")
        assert "주소·생년월일 대조" in page.inner_text("#identity-method")
        # A question goes on paper too; the answer given by phone is taken down by staff.
        question = open_action(page, "#form-ask textarea[name=question]")
        page.fill(question, "어느 회원 계정인지 알려 주세요")
        page.click(open_action(page, "#do-ask"))
        page.click("#send-notice")
        page.fill("input[name=answer]", "010-1234-5678로 가입한 계정입니다")
        page.click("button[id^=answer-]")
        assert "010-1234-5678로 가입한 계정입니다" in page.content()
        # The letters to post: open the PDF, post it, record the day.
        page.click("text=발송할 서면")
        rows = page.locator("#letters tr[id^=letter-]")
        assert rows.count() == 2
        href = page.get_attribute("a[id^=pdf-]", "href")
        pdf = page.request.get(f"{base}{href}")
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.body())).pages)
        assert reference in text and "세종대로 110" in text and "김영희" in text
        page.click("button[id^=posted-] >> nth=0")
        assert "발송한 것으로 기록" in page.inner_text(".flash")
        assert page.locator("#letters tr[id^=letter-]").count() == 1
        page.goto(f"{base}/admin/requests/{reference}")
        posted = page.inner_text("#letters")
        assert "handler@shop.example" in posted and "아직 발송 안 함" not in posted.split("\n")[1]
    with served["app"].app_context():
        assert not [m for m in smtp.messages if "김영희" in text_of(m)]  # no e-mail at all
