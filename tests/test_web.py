"""The public home page, Korean by default and English by a visible switch."""

from __future__ import annotations

import re

from sqlalchemy import select

from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import Request


def test_home_is_korean_by_default_and_lists_every_right(client, runner):
    runner.invoke(args=["demo", "load"])
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="ko">' in html
    for label in (
        "개인정보 열람",
        "개인정보 정정",
        "개인정보 삭제",
        "개인정보 처리정지",
        "동의 철회",
    ):
        assert label in html
    assert "10일 이내 답변" in html
    assert "데모 쇼핑" in html
    assert 'href="/?lang=en"' in html


def test_english_is_chosen_by_the_switch_and_remembered(client):
    page = client.get("/?lang=en")
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Access to my data" in html and "answer within 10 days" in html
    assert "rightsdesk_lang=en" in page.headers.get("Set-Cookie", "")
    again = client.get("/")
    assert '<html lang="en">' in again.get_data(as_text=True)
    back = client.get("/?lang=ko")
    assert '<html lang="ko">' in back.get_data(as_text=True)


def test_an_unknown_language_falls_back_to_korean(client):
    html = client.get("/?lang=xx").get_data(as_text=True)
    assert '<html lang="ko">' in html


def test_health_check(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json()["database"] == "ok"
    # No worker has run in this test: degraded, not down (tests/test_deploy.py has the rest).
    assert answer.get_json()["status"] == "degraded"


def test_demo_loads_once_with_requests_in_several_states(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0 and "demo loaded: 8" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "already loaded" in second.output
    with app.app_context():
        statuses = set(db.session.scalars(select(Request.status)))
    assert len(statuses) >= 6
    assert {
        Status.RECEIVED_UNVERIFIED,
        Status.IN_PROGRESS,
        Status.EXTENDED,
        Status.COMPLETED,
    } <= statuses
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0


def test_every_page_links_an_icon_and_favicon_ico_answers(client):
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon"' in page
    linked = re.search(r'rel="icon" href="([^"]+)"', page).group(1)
    for path in (linked, "/favicon.ico"):
        response = client.get(path)
        body = response.get_data()
        response.close()  # the file it streamed
        assert response.status_code == 200, path
        assert response.mimetype == "image/svg+xml" and b"<svg" in body
