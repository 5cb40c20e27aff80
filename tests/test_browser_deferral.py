"""In a real browser (Playwright driving Debian's Chromium): a Korean access request postponed
until its ground ends (법 §35③ 후문), as staff and the subject see it, then the ground ends.
Skipped, saying so, where Chromium is not installed. A failure leaves a screenshot in
test-artifacts/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from rightsdesk.extensions import db
from rightsdesk.models import StaffRole
from rightsdesk.organisation.setup import set_up_organisation
from rightsdesk.organisation.staff import create_staff
from tests.helpers import (
    body_of,
    chromium,
    free_port,
    make_app,
    make_request,
    needs_chromium,
    open_action,
    send_mail,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"

pytestmark = needs_chromium("browser journeys")


@pytest.fixture
def served(database_url, smtp_port) -> Iterator[dict]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(
        database_url,
        BASE_URL=base,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
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
    try:
        yield {"app": app, "base": base}
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def page():
    with chromium() as launched:
        yield launched.new_page()


def test_a_korean_access_postponed_until_its_ground_ends(served, smtp, page):
    base, app = served["base"], served["app"]
    with app.app_context():
        reference = make_request(email="kim@example.com", mail=True).reference
    send_mail(app)
    status_path = re.search(r"(/requests/status/\S+)", body_of(smtp.messages[-1])).group(1)
    review = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    try:
        page.goto(f"{base}/admin/login")
        page.fill("#email", "handler@shop.example")
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/admin/")
        page.goto(f"{base}/admin/requests/{reference}")
        reason = open_action(page, "#form-extend textarea[name=reason]")
        page.fill(reason, "수사기관의 자료 보존 요청이 있습니다")
        page.fill(open_action(page, "#review-on-input"), review)
        page.click(open_action(page, "#do-extend"))
        preview = page.inner_text("#preview")
        assert "지체 없이" in preview and review not in preview
        page.click("#send-notice")
        assert review in page.inner_text("#review-on")
        assert "법정 기한 없음" in page.inner_text("#due")

        send_mail(app)
        notice = body_of(smtp.messages[-1])
        assert "수사기관의 자료 보존 요청이 있습니다" in notice and "이의" in notice
        page.goto(f"{base}{status_path}")
        assert "지체 없이" in page.inner_text("#due") and review not in page.inner_text("#due")

        page.goto(f"{base}/admin/requests/{reference}")
        page.click(open_action(page, "#do-deferral-end"))
        target = page.inner_text("#deferral-due")
        assert date_after_today(target, days=3)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "korean-deferral.png"), full_page=True)
        raise


def date_after_today(text: str, *, days: int) -> bool:
    shown = datetime.fromisoformat(text.strip()).date()
    return shown >= datetime.now(UTC).date() + timedelta(days=days - 1)
