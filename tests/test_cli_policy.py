"""`rightsdesk policy add|list|publish|campaigns` run in the app's context, like every command
of the group: the runner pushes none, as the installed ``rightsdesk`` script does not."""

from __future__ import annotations

from pathlib import Path


def test_a_draft_is_added_listed_and_refused_publication_in_one_line(runner, tmp_path: Path):
    text = tmp_path / "policy.ko.md"
    text.write_text("# 개인정보 처리방침\n\n내용\n", encoding="utf-8")

    added = runner.invoke(
        args=["policy", "add", "--ko", str(text), "--change", "minor", "--effective", "2031-01-01"]
    )
    assert added.exit_code == 0, added.output
    assert "2031-01-01, minor, effective 2031-01-01" in added.output

    listed = runner.invoke(args=["policy", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == "2031-01-01\tminor\t2031-01-01\tdraft\n"

    unknown = runner.invoke(args=["policy", "publish", "nope"])
    assert unknown.exit_code == 2, unknown.output
    assert "no version labelled 'nope'" in unknown.output

    campaigns = runner.invoke(args=["policy", "campaigns"])
    assert campaigns.exit_code == 0, campaigns.output
    assert campaigns.output == ""


# --- importing versions already published elsewhere ------------------------------------------

SEED_2018 = """밀리의 서재 개인정보처리방침
3. 개인정보의 제3자 제공
회사는 정보주체의 사전 동의 없이는 개인정보를 외부에 공개하지 않습니다.
4. 개인정보 처리의 위탁
CJ대한통운택배 상품 배송업무
공고 일자 : 2018년 11월 9일
시행 일자 : 2018년 11월 19일
"""
SEED_2023 = SEED_2018.replace("2018년 11월 19일", "2023년 9월 15일").replace(
    "상품 배송업무", "상품 배송업무, 반품 회수"
)
SOURCE_2018 = "https://www.millie.co.kr/v3/privacy/20181119"


def _import(runner, path: Path, effective: str, source: str, *extra: str):
    return runner.invoke(
        args=[
            *("policy", "import", "--ko", str(path), "--effective", effective),
            *("--source", source, *extra),
        ]
    )


def _counts(app) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from rightsdesk.extensions import db
    from rightsdesk.models import AuditEvent, NoticeCampaign, PolicyVersion

    with app.app_context():
        imported = select(func.count()).where(AuditEvent.action == "policy.imported")
        return (
            db.session.scalar(select(func.count()).select_from(PolicyVersion)),
            db.session.scalar(select(func.count()).select_from(NoticeCampaign)),
            db.session.scalar(imported),
        )


def test_past_versions_are_imported_with_their_dates_and_source_without_notice(
    mapped_app, tmp_path: Path
):
    from tests.helpers import organisation

    organisation(mapped_app)  # with a data map and an organisation a campaign could start
    runner = mapped_app.test_cli_runner()
    old, new = tmp_path / "2018.txt", tmp_path / "2023.txt"
    old.write_text(SEED_2018, encoding="utf-8")
    new.write_text(SEED_2023, encoding="utf-8")

    later = _import(runner, new, "2023-09-15", "홈페이지 공지사항 (2023-09-05 공고)")
    assert later.exit_code == 0, later.output
    earlier = _import(runner, old, "2018-11-19", SOURCE_2018)
    assert earlier.exit_code == 0, earlier.output
    assert (
        f"imported 2018-11-19: effective 2018-11-19, published at {SOURCE_2018}" in earlier.output
    )
    assert _counts(mapped_app) == (2, 0, 2)  # two versions, no notice campaign, two audit events

    listed = runner.invoke(args=["policy", "list"])
    assert listed.output == (
        "2023-09-15\timported\t2023-09-15\tin force\n"
        "2018-11-19\timported\t2018-11-19\tuntil 2023-09-14\n"
    )
    page = mapped_app.test_client().get("/privacy").get_data(as_text=True)
    assert 'data-current="2023-09-15"' in page and "반품 회수" in page
    assert page.index('data-history="2018-11-19"') > page.index('data-current="2023-09-15"')
    assert "2018-11-19 ~ 2023-09-14" in page
    assert f'<a href="{SOURCE_2018}"' in page and "홈페이지 공지사항 (2023-09-05 공고)" in page
    assert "이전 처리방침" in page
    diff = mapped_app.test_client().get("/privacy/diff?from=2018-11-19&to=2023-09-15")
    assert diff.status_code == 200 and "<ins>배송업무, 반품 회수</ins>" in diff.get_data(
        as_text=True
    )

    # The console says the version in force is the operator's own text, not that it "no
    # longer matches" sections rightsdesk never generated for it.
    from rightsdesk.models import StaffRole
    from tests.helpers import sign_in

    console = sign_in(mapped_app, StaffRole.ADMIN).get("/admin/policy").get_data(as_text=True)
    assert "가져온 것입니다" in console and "일치하지 않습니다" not in console


def test_imports_that_are_not_past_published_versions_are_refused_in_one_line(
    mapped_app, tmp_path: Path
):
    from datetime import date, timedelta

    from tests.helpers import organisation

    organisation(mapped_app)
    runner = mapped_app.test_cli_runner()
    text = tmp_path / "policy.txt"
    text.write_text(SEED_2018, encoding="utf-8")
    assert _import(runner, text, "2018-11-19", SOURCE_2018).exit_code == 0
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    marked = tmp_path / "marked.md"
    marked.write_text("# 방침\n\n[[recipients]]\n", encoding="utf-8")
    refusals = [
        (_import(runner, text, tomorrow, "x"), "is in the future: a version not yet in force"),
        (_import(runner, text, "2018-11-19", "x", "--label", "again"), "already takes effect"),
        (_import(runner, text, "2019-01-01", "  "), "Say where the version was published"),
        (_import(runner, marked, "2019-01-01", "x"), "cannot contain markers"),
        (_import(runner, text, "2018-13-01", "x"), "malformed date '2018-13-01'"),
    ]
    for result, message in refusals:
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert _counts(mapped_app) == (1, 0, 1)


def test_a_new_version_still_needs_notice_and_imports_stay_older_than_it(
    mapped_app, tmp_path: Path
):
    from datetime import date, timedelta

    from tests.helpers import organisation

    organisation(mapped_app)
    runner = mapped_app.test_cli_runner()
    text = tmp_path / "policy.md"
    text.write_text("# 개인정보 처리방침\n\n내용\n", encoding="utf-8")
    assert _import(runner, text, "2018-11-19", SOURCE_2018).exit_code == 0
    soon = (date.today() + timedelta(days=5)).isoformat()
    args = ["policy", "add", "--ko", str(text), "--change", "minor", "--effective", soon]
    refused = runner.invoke(args=[*args, "--publish"])
    assert refused.exit_code == 2 and "needs 7 days' notice" in refused.output
    later = (date.today() + timedelta(days=40)).isoformat()
    published = runner.invoke(
        args=[*args[:-1], later, "--change", "material", "--label", "new", "--publish"]
    )
    assert published.exit_code == 0, published.output
    assert "notice campaign" in published.output
    # today is before the new version's date: the policy in force may still be imported
    today = _import(runner, text, date.today().isoformat(), "공지사항", "--label", "today")
    assert today.exit_code == 0, today.output
