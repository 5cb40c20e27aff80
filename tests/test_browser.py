"""Journeys in a real browser (Playwright driving Debian's Chromium) against the served app,
with the mail going through a real SMTP server on loopback.

Skipped, saying so, where Chromium is not installed (`apt-get install chromium`; .ci/run does).
A failing journey leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from rightsdesk.extensions import db
from rightsdesk.mail.outbox import deliver_due
from rightsdesk.models import StaffRole
from rightsdesk.services.organisation import set_up_organisation
from rightsdesk.services.staff import create_staff

from .conftest import free_port, make_app

CHROMIUM = os.environ.get("RIGHTSDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"

if os.environ.get("RIGHTSDESK_REQUIRE_BROWSER") and not Path(CHROMIUM).exists():
    raise RuntimeError(f"RIGHTSDESK_REQUIRE_BROWSER is set but there is no Chromium at {CHROMIUM}")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"browser journeys need Chromium at {CHROMIUM}: apt-get install chromium",
)


@pytest.fixture
def served(database_url, smtp_port, tmp_path) -> Iterator[dict]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(
        database_url,
        BASE_URL=base,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        WTF_CSRF_SSL_STRICT=False,
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
    yield {"app": app, "base": base}
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@contextmanager
def screenshot_on_failure(page, name: str):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def send_mail(app) -> None:
    with app.app_context():
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
        staff.set_input_files("#form-offer input[name=file]", str(export))
        staff.click("#do-offer")
        staff.fill(
            "#form-complete textarea[name=outcome]", "요청하신 개인정보 사본을 준비했습니다."
        )
        staff.click("#do-complete")
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
        staff.select_option("#form-partial select[name=ground]", "retention_required_by_law")
        staff.fill(
            "#form-partial textarea[name=done]", "회원 정보와 마케팅 수신 정보를 삭제했습니다."
        )
        staff.fill("#form-partial textarea[name=explanation]", "결제 기록은 5년간 분리 보관합니다.")
        staff.click("#do-partial")
        assert "법 §36① 단서" in staff.inner_text("#preview")
        staff.click("#send-notice")

        send_mail(app)
        notice = text_of(smtp.messages[-1])
        assert smtp.messages[-1]["To"] == "lee@example.com"
        for expected in ("결제 기록은 5년간 분리 보관합니다.", "§36", "privacy.kisa.or.kr", "118"):
            assert expected in notice
        subject.goto(status_url)
        assert "Partly completed" in subject.inner_text("#status")


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
