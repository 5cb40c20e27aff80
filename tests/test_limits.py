"""Rate limits that protect without locking people out: only accepted submissions count
against SUBMIT_LIMIT, every attempt against a higher ATTEMPT_LIMIT, and the 429 answer is a
page in the site's layout and the person's language, with Retry-After."""

from __future__ import annotations

import pytest

from rightsdesk.extensions import db
from tests.helpers import file_access_request, make_app


@pytest.fixture
def limited(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        SUBMIT_LIMIT="3 per hour",
        ATTEMPT_LIMIT="12 per hour",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_person_who_mistypes_five_times_can_still_file(limited):
    client = limited.test_client()
    typos = [
        file_access_request(client, email="kim.minji@example").status_code for _ in range(5)
    ]
    assert typos == [400] * 5
    filed = [file_access_request(client, email=f"p{n}@example.com").status_code for n in range(4)]
    assert filed == [302, 302, 302, 429]  # three accepted, then the limit


def test_every_attempt_counts_against_the_higher_bound(limited):
    client = limited.test_client()
    codes = [file_access_request(client, email="nobody@").status_code for _ in range(13)]
    assert codes == [400] * 12 + [429]


def test_the_429_page_is_in_the_layout_and_the_language_with_retry_after(limited):
    client = limited.test_client()
    for n in range(3):
        assert file_access_request(client, email=f"p{n}@example.com").status_code == 302
    korean = file_access_request(client, email="p9@example.com")
    assert korean.status_code == 429
    wait = int(korean.headers["Retry-After"])
    assert 0 < wait <= 3601  # the window's end, rounded up to the second
    page = korean.get_data(as_text=True)
    assert "시도 횟수가 너무 많습니다" in page and 'class="brand"' in page
    assert f"{-(-wait // 60)}분 뒤에 다시 시도해 주세요" in page
    assert "Too Many Requests" not in page
    english = file_access_request(client, lang="en", email="p9@example.com")
    assert english.status_code == 429 and "Retry-After" in english.headers
    assert "Too many attempts" in english.get_data(as_text=True)


def test_the_api_keeps_answering_json_when_limited(limited):
    # The same handler serves /api/: JSON with the header, not the page.
    with limited.test_request_context("/api/v1/requests"):
        from werkzeug.exceptions import TooManyRequests

        from rightsdesk.app import too_many_requests

        response, status = too_many_requests(TooManyRequests())
    assert status == 429 and response.is_json
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0


def test_a_name_of_only_spaces_is_refused_and_the_rest_kept(limited):
    client = limited.test_client()
    response = file_access_request(client, name="   ", email="kim@example.com")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "이 항목을 입력해 주세요" in page
    assert 'value="kim@example.com"' in page  # what they typed is kept
