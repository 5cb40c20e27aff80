"""The operator and its privacy officer: empty names refused in the same words on the CLI and
in the console (Korean and English); the officer's title (직위) and department (소속 부서)
reach the published policy and what subjects see."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from rightsdesk.extensions import db
from rightsdesk.models import Organisation, PolicyVersion, StaffRole
from rightsdesk.policy import versions as policy
from tests.helpers import csrf, sign_in

SETUP = {
    "--slug": "shop",
    "--name-ko": "테스트 쇼핑",
    "--name-en": "Test Shop",
    "--officer-name": "홍길동",
    "--officer-email": "privacy@shop.example",
}


def setup_args(**changed: str) -> list[str]:
    options = {**SETUP, **changed}
    return ["org", "setup", *[part for pair in options.items() for part in pair]]


def organisations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Organisation))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--officer-name", "", "The privacy officer's name must not be empty."),
        ("--officer-name", "   ", "The privacy officer's name must not be empty."),
        ("--officer-email", " ", "The privacy officer's e-mail address must not be empty."),
        ("--name-ko", "\t", "The operator's Korean name must not be empty."),
        ("--name-en", "", "The operator's English name must not be empty."),
    ],
)
def test_org_setup_refuses_an_empty_name_with_one_line(app, runner, option, value, message):
    result = runner.invoke(args=setup_args(**{option: value}))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"Error: {message}"]
    assert organisations(app) == 0


def test_org_setup_stores_the_officers_title_and_department(app, runner):
    args = setup_args(
        **{"--officer-title": " 개인정보보호팀장 ", "--officer-department": "정보보호팀"}
    )
    assert runner.invoke(args=args).exit_code == 0
    with app.app_context():
        organisation = db.session.scalar(select(Organisation))
        assert organisation.privacy_officer_title == "개인정보보호팀장"
        assert organisation.privacy_officer_department == "정보보호팀"
    home = app.test_client().get("/").get_data(as_text=True)
    assert "홍길동 (개인정보보호팀장, 정보보호팀)" in home


def post_settings(client, lang: str, **changed: str):
    data = {
        "csrf_token": csrf(client, "/admin/settings"),
        "slug": "shop",
        "name_ko": "쇼핑",
        "name_en": "Shop",
        "officer_name": "홍길동",
        "officer_email": "privacy@shop.example",
        "objection_ko": "이메일로 이의신청",
        "objection_en": "Object by e-mail",
        **changed,
    }
    return client.post(f"/admin/settings?lang={lang}", data=data, follow_redirects=True)


@pytest.mark.parametrize(
    ("lang", "field", "message"),
    [
        ("ko", "officer_name", "개인정보 보호책임자의 성명은 비워 둘 수 없습니다."),
        ("en", "officer_name", "The privacy officer&#39;s name must not be empty."),
        ("ko", "officer_email", "개인정보 보호책임자의 이메일 주소는 비워 둘 수 없습니다."),
        ("en", "name_ko", "The operator&#39;s Korean name must not be empty."),
        ("ko", "name_en", "개인정보처리자의 영문 명칭은 비워 둘 수 없습니다."),
    ],
)
def test_the_settings_page_refuses_an_empty_name_in_both_languages(app, lang, field, message):
    client = sign_in(app, StaffRole.ADMIN)
    page = post_settings(client, lang, **{field: "  "}).get_data(as_text=True)
    assert message in page
    assert organisations(app) == 0


def test_the_settings_page_saves_title_and_department(app):
    client = sign_in(app, StaffRole.ADMIN)
    page = post_settings(client, "en", officer_title="CPO", officer_department="Legal")
    assert page.status_code == 200 and 'value="CPO"' in page.get_data(as_text=True)
    with app.app_context():
        organisation = db.session.scalar(select(Organisation))
        assert (organisation.privacy_officer_title, organisation.privacy_officer_department) == (
            "CPO",
            "Legal",
        )


def test_the_published_officer_section_names_title_and_department(app, runner):
    args = setup_args(
        **{"--officer-title": "개인정보보호팀장", "--officer-department": "정보보호팀"}
    )
    assert runner.invoke(args=args).exit_code == 0
    with app.app_context():
        now = datetime.now(UTC)
        draft = policy.Draft(
            label="v1",
            change="material",
            effective_date=now.date() + timedelta(days=60),
            body_ko="# 개인정보 처리방침\n\n[[officer]]\n",
            body_en="# Privacy policy\n\n[[officer]]\n",
            summary_ko="보호책임자의 직위와 부서를 적습니다.",
        )
        version = policy.create_version(draft, actor="test", now=now)
        policy.publish(version, actor="test", now=now)
        stored = db.session.get(PolicyVersion, version.id)
        assert (
            "- 성명: 홍길동\n- 직위: 개인정보보호팀장\n- 소속 부서: 정보보호팀\n" in stored.body_ko
        )
        assert "- Title: 개인정보보호팀장\n- Department: 정보보호팀\n" in stored.body_en
