"""Privacy policy versions: the notice rule, publishing, /privacy, diffs, generated sections."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from rightsdesk.demo.loader import load_demo
from rightsdesk.domain.datamap import check_structure, load_datamap
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import SUBJECT_KINDS
from rightsdesk.domain.policy import (
    SECTIONS,
    ChangeKind,
    NoticeTooShort,
    Officer,
    PolicyFacts,
    check_effective_date,
    diff,
    expand,
    generated_sections,
    md_escape,
    notice_period,
    retention_section,
)
from rightsdesk.domain.profiles import builtin_profiles
from rightsdesk.domain.retention import Schedule, load_schedule
from rightsdesk.domain.right_periods import right_periods
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, NoticeCampaign, PolicyVersion, StaffRole
from rightsdesk.policy import versions as policy
from tests.helpers import csrf, organisation, sign_in

SEOUL = ZoneInfo("Asia/Seoul")
KR = HolidayCalendar("KR")


def period(at: str, change: ChangeKind):
    return notice_period(notice_at=datetime.fromisoformat(at), change=change, calendar=KR, tz=SEOUL)


# --- the notice rule -------------------------------------------------------------------------


def test_a_minor_change_announced_on_a_working_day_needs_seven_full_days():
    p = period("2025-09-24T10:00+09:00", ChangeKind.MINOR)
    assert (p.first_day, p.last_day) == (date(2025, 9, 25), date(2025, 10, 1))
    assert p.earliest_effective == date(2025, 10, 2)


def test_a_material_change_needs_thirty_days():
    p = period("2025-09-24T10:00+09:00", ChangeKind.MATERIAL)
    assert p.last_day == date(2025, 10, 24) and p.earliest_effective == date(2025, 10, 25)


def test_a_period_ending_on_chuseok_runs_to_the_next_working_day():
    """Announced Sat 27 Sep: day 7 is Sat 4 Oct, then 추석, its substitute day and 한글날."""
    p = period("2025-09-27T10:00+09:00", ChangeKind.MINOR)
    assert p.raw_last_day == date(2025, 10, 4)
    assert [off.day.day for off in p.skipped] == [4, 5, 6, 7, 8, 9]
    assert p.earliest_effective == date(2025, 10, 11)


def test_the_day_is_taken_in_seoul_and_midnight_counts():
    late_utc = period("2025-09-23T16:30Z", ChangeKind.MINOR)  # 01:30 on the 24th in Seoul
    assert late_utc.first_day == date(2025, 9, 25)
    midnight = period("2025-09-24T00:00+09:00", ChangeKind.MINOR)
    assert midnight.first_day == date(2025, 9, 24)
    assert midnight.earliest_effective == date(2025, 10, 1)


def test_an_effective_date_a_day_short_is_refused_naming_the_earliest_date():
    p = period("2025-09-24T10:00+09:00", ChangeKind.MINOR)
    check_effective_date(date(2025, 10, 2), p)
    with pytest.raises(NoticeTooShort) as refused:
        check_effective_date(date(2025, 10, 1), p)
    assert "2025-10-02 at the earliest" in str(refused.value)
    assert "7 days' notice" in str(refused.value)


# --- diff and generated sections -----------------------------------------------------------


def test_the_diff_pairs_changed_lines_and_marks_the_words():
    old = "# 방침\n\n보유 기간은 3년입니다.\n\n끝\n"
    new = "# 방침\n\n보유 기간은 5년입니다.\n\n추가 조항\n\n끝\n"
    lines = diff(old, new, context=None)
    changed = [line for line in lines if line.op == "change"]
    assert len(changed) == 1
    ops = {(s.op, s.text) for s in changed[0].segments}
    assert ("delete", "3년입니다.") in ops and ("insert", "5년입니다.") in ops
    assert sorted(line.segments[0].text for line in lines if line.op == "insert") == [
        "",
        "추가 조항",
    ]
    assert not [line for line in diff(old, old) if line.op != "equal"]


def test_markers_are_replaced_and_missing_sections_appended():
    sections = {name: f"## {name}" for name in SECTIONS}
    text = expand("intro\n[[rights]]\noutro", sections)
    assert text.index("## rights") < text.index("outro") < text.index("## retention")
    assert text.count("## officer") == 1 and "[[rights]]" not in text
    assert text.index("## third_parties") < text.index("## processors") < text.index("## officer")


def test_the_old_recipients_marker_stands_for_third_parties_and_processors():
    sections = {name: f"## {name}" for name in SECTIONS}
    text = expand("intro\n[[recipients]]\noutro", sections)
    assert text.index("## third_parties") < text.index("## processors") < text.index("outro")
    assert text.count("## processors") == 1 and "[[recipients]]" not in text


ROLES_MAP = """
[systems.shop]
kind = "manual"
categories = ["contact", "order", "payment"]
instructions = { ko = "찾기", en = "Find" }

[[recipients]]
name = "CJ대한통운"
role = "processor"
categories = ["order", "contact"]
purpose = "상품 배송"

[[recipients]]
name = "KG이니시스"
role = "processor"
categories = ["payment"]
purpose = "결제 대행"
contact = "privacy@inicis.example"

[[recipients]]
name = "제휴보험사"
role = "third_party"
categories = ["contact"]
purpose = "보험 상품 안내"
retention = "제공 후 1년"
"""


def _facts(recipients) -> PolicyFacts:
    return PolicyFacts(
        organisation_ko="데모",
        organisation_en="Demo",
        officer=Officer("김보호", "privacy@demo.example"),
        rules=(),
        recipients=recipients,
        request_url="https://demo.example/requests/new",
        periods={
            right.kind.value: right
            for right in right_periods(builtin_profiles()["KR"], SUBJECT_KINDS, {})
        },
        objection_ko="이의",
        objection_en="Object",
    )


def _section(text: str, title: str) -> str:
    return text.split(title, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    ("language", "third_title", "processor_title", "third_row", "processor_rows"),
    [
        (
            "ko",
            "## 개인정보의 제3자 제공",
            "## 개인정보 처리업무의 위탁",
            "| 제휴보험사 | 보험 상품 안내 | 연락처(이메일·전화번호·주소) | 제공 후 1년 | - |",
            (
                "| KG이니시스 | 결제 대행 | 결제 정보 | privacy@inicis.example |",
                "| CJ대한통운 | 상품 배송 | 주문·배송 정보, 연락처(이메일·전화번호·주소) | - |",
            ),
        ),
        (
            "en",
            "## Provision to third parties",
            "## Processing entrusted to others",
            "| 제휴보험사 | 보험 상품 안내 | contact details (e-mail, phone, address) | "
            "제공 후 1년 | - |",
            (
                "| KG이니시스 | 결제 대행 | payments | privacy@inicis.example |",
                "| CJ대한통운 | 상품 배송 | orders and deliveries, contact details (e-mail, phone, "
                "address) | - |",
            ),
        ),
    ],
)
def test_processors_and_third_parties_each_have_their_own_section(
    language, third_title, processor_title, third_row, processor_rows
):
    """Each section in its own place, the items in the policy's words, not the map's codes."""
    datamap = load_datamap(ROLES_MAP, "roles.toml")
    assert check_structure(datamap) == []
    text = expand(
        "# 방침\n\n[[recipients]]\n", generated_sections(_facts(datamap.recipients), language)
    )
    third, processors = _section(text, third_title), _section(text, processor_title)
    assert third_row in third and "CJ대한통운" not in third and "KG이니시스" not in third
    assert all(row in processors for row in processor_rows), processors
    assert "제휴보험사" not in processors
    assert text.index(third_title) < text.index(processor_title)


def test_without_recipients_both_sections_say_so():
    ko = generated_sections(_facts(()), "ko")
    assert "개인정보를 제3자에게 제공하지 않습니다." in ko["third_parties"]
    assert "개인정보 처리업무를 위탁하지 않습니다." in ko["processors"]
    en = generated_sections(_facts(()), "en")
    assert "We entrust the processing of personal data to no one." in en["processors"]


def test_values_written_into_the_policy_are_escaped_markdown():
    assert md_escape("<script>|x") == r"\<script\>\|x"
    assert md_escape("# not a heading") == r"\# not a heading"


# --- publishing ----------------------------------------------------------------------------


def _draft(change="material", effective: date | None = None, label="v2", body="새 방침 본문"):
    today = datetime.now(SEOUL).date()
    return policy.Draft(
        label=label,
        change=change,
        effective_date=effective or today + timedelta(days=60),
        body_ko=f"# 개인정보 처리방침\n\n{body}\n\n[[retention]]\n\n[[officer]]\n",
        body_en=f"# Privacy policy\n\n{body} (en)\n",
        summary_ko="제3자 제공 항목이 바뀝니다.",
    )


def test_publishing_with_too_little_notice_writes_nothing(ctx):
    organisation(ctx)
    now = datetime.now(UTC)
    earliest = policy.notice_for(ChangeKind.MATERIAL, now).earliest_effective
    version = policy.create_version(
        _draft(effective=earliest - timedelta(days=1)), actor="test", now=now
    )
    with pytest.raises(NoticeTooShort) as refused:
        policy.publish(version, actor="test", now=now)
    db.session.rollback()
    assert earliest.isoformat() in str(refused.value)
    assert db.session.get(PolicyVersion, version.id).published_at is None
    assert db.session.scalar(select(func.count()).select_from(NoticeCampaign)) == 0
    published = select(func.count()).where(AuditEvent.action == "policy.published")
    assert db.session.scalar(published) == 0


def _tables(section: str, title: str) -> list[list[str]]:
    """The rows (cells) of the table under ``title`` in a generated section."""
    part = section.split(title)[1].split("###")[0]
    rows = [line.strip("|").split("|") for line in part.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]


def test_the_retention_section_splits_statutory_from_policy_keeps_in_both_languages():
    schedule = load_schedule(
        '[rules.payment]\nperiod = "7 years"\nreason = "분쟁 대비, 가입 시 동의"\n\n'
        '[rules.membership]\nperiod = "1 year"\nstart = "account_closed"\nkind = "policy"\n'
        'basis = "재가입 방지, 탈퇴 후 1년, 가입 시 동의"\nlabel_ko = "회원 정보"\n'
        'label_en = "membership records"\n',
        "r.toml",
    )
    ko = retention_section(list(schedule), "ko")
    by_law = _tables(ko, "### 법령에 따른 보존")
    assert [
        "대금결제 및 재화 등의 공급에 관한 기록",
        "5년",
        "전자상거래법 §6, 시행령 §6①3",
    ] in by_law
    assert ["로그기록·접속지 추적자료", "3개월", "통신비밀보호법 §15의2, 시행령 §41②"] in by_law
    assert all("회원" not in row[0] and "권리 행사" not in row[0] for row in by_law)
    assert _tables(ko, "### 내부 방침에 따른 보존") == [
        ["대금결제 및 재화 등의 공급에 관한 기록", "7년", "분쟁 대비, 가입 시 동의"],
        [
            "권리 행사 요구 처리 기록",
            "3년",
            "운영 방침: 권리 행사 처리 기록 (법정 기간 없음, 통상 3년)",
        ],
        ["회원 정보", "1년", "재가입 방지, 탈퇴 후 1년, 가입 시 동의"],
    ]
    en = retention_section(list(schedule), "en")
    assert ["membership records", "1 years", "재가입 방지, 탈퇴 후 1년, 가입 시 동의"] in _tables(
        en, "### Kept under our own policy"
    )
    assert ["payment and supply records", "5 years", "전자상거래법 §6, 시행령 §6①3"] in _tables(
        en, "### Kept because a law requires it"
    )
    # Nothing kept by policy: the heading stays, saying so.
    only_law = Schedule.of(r for r in schedule if r.statutory and not r.reason)
    assert "### 내부 방침에 따른 보존\n\n해당 없음." in retention_section(list(only_law), "ko")


def test_a_published_version_is_frozen_with_its_generated_sections(ctx):
    organisation(ctx)
    now = datetime.now(UTC)
    version = policy.create_version(_draft(), actor="test", now=now)
    result = policy.publish(version, actor="test", now=now)
    assert result.campaign is None and "data map" in result.warning  # no data map here
    body = db.session.get(PolicyVersion, version.id).body_ko
    assert "[[retention]]" not in body and "전자상거래법" in body  # the retention table
    # rightsdesk's own request records are its policy, not "다른 법령에 따라 보존하는 기록".
    by_law, by_policy = body.split("### 법령에 따른 보존")[1].split("### 내부 방침에 따른 보존")
    assert "전자상거래법" in by_law and "권리 행사 요구 처리 기록" not in by_law
    assert "| 권리 행사 요구 처리 기록 | 3년 |" in by_policy and "전자상거래법" not in by_policy
    assert "## 개인정보 보호책임자" in body and "## 정보주체의 권리와 행사 방법" in body
    with pytest.raises(policy.PolicyError):
        policy.update_version(version, _draft(body="고침"), actor="test", now=now)
    db.session.rollback()
    # The officer changes: the policy in force would drift only once it is in force.
    assert policy.drift(version.effective_date) == []
    from rightsdesk.core.context import current_organisation

    current_organisation().privacy_officer_email = "new-officer@shop.example"
    assert "officer" in policy.drift(version.effective_date)


def test_a_new_version_must_come_after_every_published_one(ctx):
    organisation(ctx)
    now = datetime.now(UTC)
    first = policy.create_version(_draft(label="a"), actor="test", now=now)
    policy.publish(first, actor="test", now=now)
    earlier = policy.create_version(
        _draft(label="b", effective=first.effective_date - timedelta(days=1)), actor="t", now=now
    )
    with pytest.raises(policy.PolicyError, match="a"):
        policy.publish(earlier, actor="test", now=now)


def test_an_import_must_be_older_than_every_version_published_here(ctx):
    organisation(ctx)
    announced = datetime(2024, 1, 2, 10, tzinfo=UTC)
    here = policy.create_version(
        _draft(label="here", effective=date(2024, 3, 1)), actor="test", now=announced
    )
    policy.publish(here, actor="test", now=announced)
    late = policy.Draft("late", "material", date(2024, 6, 1), "# 방침\n\n다른 곳에 게시\n")
    with pytest.raises(policy.PolicyError, match="게시되었고 2024-03-01에"):
        policy.import_version(late, "https://example.com", actor="test", now=datetime.now(UTC))
    db.session.rollback()
    early = policy.Draft("early", "material", date(2023, 6, 1), "# 방침\n\n다른 곳에 게시\n")
    version = policy.import_version(early, "https://example.com", actor="t", now=datetime.now(UTC))
    assert version.imported_from == "https://example.com" and policy.by_label("late") is None
    assert [v.label for v in policy.published()] == ["early", "here"]


# --- the console ---------------------------------------------------------------------------


def _form(client, **fields):
    data = {"csrf_token": csrf(client, "/admin/policy/new"), "summary_ko": "", "body_en": ""}
    return {**data, **fields}


def test_an_admin_drafts_sees_the_diff_and_is_refused_too_little_notice(app):
    organisation(app)
    with app.app_context():
        load_versions = policy.Draft(
            label="2020-01-01",
            change="minor",
            effective_date=date(2020, 1, 1),
            body_ko="# 방침\n\n보유 기간은 3년입니다.\n",
        )
        old = policy.create_version(load_versions, actor="test", now=datetime.now(UTC))
        old.published_at, old.published_by = datetime(2019, 12, 1, tzinfo=UTC), "test"
        db.session.commit()
    admin = sign_in(app, StaffRole.ADMIN)
    today = datetime.now(SEOUL).date()
    thirty = today + timedelta(days=30)
    response = admin.post(
        "/admin/policy/new",
        data=_form(
            admin,
            label="next",
            change="material",
            effective_date=thirty.isoformat(),
            body_ko="# 방침\n\n보유 기간은 5년입니다.\n",
        ),
    )
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "<del>3년입니다.</del>" in page and "<ins>5년입니다.</ins>" in page
    with app.app_context():
        version = policy.by_label("next", published_only=False)
        earliest = policy.notice_for(ChangeKind.MATERIAL, datetime.now(UTC)).earliest_effective
        version_id = version.id
    assert earliest > thirty  # 30 days ahead is one day short: the 30 days must run in full
    assert earliest.isoformat() in page
    token = csrf(admin, f"/admin/policy/{version_id}")
    refused = admin.post(
        f"/admin/policy/{version_id}/publish", data={"csrf_token": token}, follow_redirects=True
    )
    text = refused.get_data(as_text=True)
    assert "30" in text and earliest.isoformat() in text and thirty.isoformat() in text
    with app.app_context():
        assert db.session.get(PolicyVersion, version_id).published_at is None
    # The earliest allowed date is accepted.
    token = csrf(admin, f"/admin/policy/{version_id}/edit")
    admin.post(
        f"/admin/policy/{version_id}/edit",
        data={
            "csrf_token": token,
            "label": "next",
            "change": "material",
            "effective_date": earliest.isoformat(),
            "body_ko": "# 방침\n\n보유 기간은 5년입니다.\n",
        },
    )
    token = csrf(admin, f"/admin/policy/{version_id}")
    admin.post(f"/admin/policy/{version_id}/publish", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(PolicyVersion, version_id).published_at is not None
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert {"policy.drafted", "policy.edited", "policy.published"} <= set(actions)


def test_handlers_and_auditors_cannot_publish(app):
    organisation(app)
    with app.app_context():
        version = policy.create_version(_draft(), actor="test", now=datetime.now(UTC))
        version_id = version.id
    for role in (StaffRole.HANDLER, StaffRole.AUDITOR):
        client = sign_in(app, role)
        token = csrf(client, "/admin/account/password")
        response = client.post(f"/admin/policy/{version_id}/publish", data={"csrf_token": token})
        assert response.status_code == 403
        assert client.get(f"/admin/policy/{version_id}").status_code == 200
    with app.app_context():
        assert db.session.get(PolicyVersion, version_id).published_at is None


# --- /privacy ------------------------------------------------------------------------------


def _published(label, effective, change="minor", body="본문", body_en="Body"):
    version = PolicyVersion(
        label=label,
        change=change,
        effective_date=effective,
        body_ko=f"# 방침 {label}\n\n{body}\n",
        body_en=f"# Policy {label}\n\n{body_en}\n" if body_en else "",
        created_by="test",
        created_at=datetime.now(UTC),
        published_by="test",
        published_at=datetime.now(UTC) - timedelta(days=400),
    )
    db.session.add(version)
    return version


def test_privacy_shows_the_version_in_force_the_upcoming_one_and_the_history(app, client):
    today = datetime.now(SEOUL).date()
    with app.app_context():
        _published("v1", date(2023, 1, 1), body="첫 판")
        _published("v2", date(2024, 6, 1), body="둘째 판")
        _published("v3", today, change="material", body="셋째 판")
        _published("v4", today + timedelta(days=40), change="material", body="넷째 판")
        db.session.commit()
    page = client.get("/privacy").get_data(as_text=True)
    assert 'data-current="v3"' in page and "셋째 판" in page and "넷째 판" not in page
    assert 'data-upcoming="v4"' in page and (today + timedelta(days=40)).isoformat() in page
    history = re.findall(r'data-history="([^"]+)"', page)
    assert history == ["v2", "v1"]
    last_day = (today - timedelta(days=1)).isoformat()
    assert f"2024-06-01 to {last_day}" in client.get("/privacy?lang=en").get_data(as_text=True)
    assert "from=v3&amp;to=v4" in page
    english = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "# Policy v3" not in english and "<h1>Policy v3</h1>" in english
    old = client.get("/privacy/v1?lang=ko").get_data(as_text=True)
    assert "첫 판" in old
    assert client.get("/privacy/nope").status_code == 404


def test_users_can_open_the_diff_between_two_versions(app, client):
    with app.app_context():
        _published("v1", date(2023, 1, 1), body="보유 기간은 3년입니다.")
        _published("v2", date(2024, 1, 1), body="보유 기간은 5년입니다.")
        db.session.commit()
    page = client.get("/privacy/diff?from=v1&to=v2").get_data(as_text=True)
    assert "<del>3년입니다.</del>" in page and "<ins>5년입니다.</ins>" in page
    assert client.get("/privacy/diff?from=v1&to=zz").status_code == 404


def test_markdown_cannot_inject_html_or_script_links(app, client):
    with app.app_context():
        _published(
            "x",
            date(2023, 1, 1),
            body="<script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=a>",
        )
        db.session.commit()
    page = client.get("/privacy").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page and "&lt;script&gt;" in page


def test_a_version_without_english_text_falls_back_to_korean(app, client):
    with app.app_context():
        _published("k", date(2023, 1, 1), body="한국어만", body_en="")
        db.session.commit()
    page = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "한국어만" in page and "the Korean text applies" in page


def test_the_demo_has_a_policy_in_force_and_its_history(app, client):
    with app.app_context():
        load_demo(now=datetime.now(UTC), actor="test")
    page = client.get("/privacy").get_data(as_text=True)
    assert 'data-current="2025-03-15"' in page
    assert re.findall(r'data-history="([^"]+)"', page) == ["2024-03-15"]
    assert "privacy@demo-shop.example" in page and "고객 문의 처리" in page
