"""The example operator setups in examples/: one per seed policy (/work/shared/seeds/000–004).

Each example is set up with the same commands its setup.sh runs, against the test's database
and a database of the example's own schema (schema.sql), and checked against numbers read by
hand from the seed's text (quoted beside each expectation)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from rightsdesk.domain.datamap import check_structure, load_datamap
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.retention import load_schedule
from rightsdesk.extensions import db
from rightsdesk.models import PolicyVersion
from rightsdesk.requests.queue import due_marks
from tests.helpers import make_request, shop_database

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Expected:
    """What the seed's text promises, read by hand."""

    folder: str
    url_env: str
    effective: date
    # category -> (period, kind) as `jobs schedule` prints them
    periods: dict[str, tuple[str, str]]
    promised: dict[str, int] = field(default_factory=dict)
    processors: tuple[str, ...] = ()
    third_parties: tuple[str, ...] = ()
    officer: tuple[str, ...] = ()
    # a row of a table kept under a rule, old enough to be due: (table, date column, category)
    due: tuple[str, str, str] = ("access_logs", "at", "access_log")


LAW = {  # the statutory defaults a policy repeats (legal.md §3)
    "contract": ("5 years", "statute"),
    "payment": ("5 years", "statute"),
    "complaint": ("3 years", "statute"),
    "display_advertising": ("6 months", "statute"),
    "access_log": ("3 months", "statute"),
}

SEEDS = [
    Expected(
        "minning",
        "MINNING_DATABASE_URL",
        date(2024, 1, 1),  # the seed states no 시행일: the README's stand-in date
        {
            **LAW,
            # "전자상거래 등에서의 소비자보호에 관한 법률: 3년"
            "complaint": ("3 years", "statute"),
            # "통신비밀보호법: 1년": longer than the statute's 3 months, the rest is policy
            "access_log": ("1 years", "statute+policy"),
        },
        officer=("minning.information@gmail.com",),
    ),
    Expected(
        "talk-withme",
        "TALKWITHME_DATABASE_URL",
        date(2024, 1, 1),  # the seed states no 시행일
        # "이메일: 서비스 탈퇴 시 까지"; "법령에서 보존의무를 부과한 정보 … 해당 기간 경과 후"
        dict(LAW),
        officer=("조영상", "talk-withme@naver.com"),
    ),
    Expected(
        "millie-library",
        "MILLIE_DATABASE_URL",
        date(2018, 11, 19),  # "시행 일자 : 2018년 11월 19일"
        dict(LAW),
        # "4. 개인정보 처리의 위탁 … 수탁업체 위탁업무 내용"
        processors=("LG U+, 이니시스(주)", "(주)카카오페이, 엔에이치엔페이코(주)", "(주)웅진"),
        officer=("제갈종원", "팀장", "steve@millie.town"),
    ),
    Expected(
        "mecross-pointcoupon",
        "MECROSS_DATABASE_URL",
        date(2024, 3, 7),  # "시행 : 2024년 3월 7일"
        {
            # "계약·청약철회 관련 기록: 5년", "대금결제 및 재화 공급 기록: 5년",
            # "소비자 불만·분쟁처리 기록: 3년", "접속 로그(IP 포함): 3개월"
            **LAW,
            # "포인트·쿠폰 내역은 소멸 시점으로부터 5년간 분쟁 대비 목적으로 보관할 수 있습니다."
            "point_coupon": ("5 years", "policy"),
        },
        # "열람·정정·삭제·처리정지·동의철회 … 접수 후 7일 이내에 조치 결과를 통보"
        promised={
            "access": 7,
            "correction": 7,
            "deletion": 7,
            "suspension": 7,
            "consent_withdrawal": 7,
        },
        # "(예: 클라우드 서버 운영사, 문자·이메일 발송업체, 결제대행사 등)"
        processors=("클라우드 서버 운영사", "문자·이메일 발송업체", "결제대행사"),
        officer=("이경수", "대표이사", "mkt@mecross.net"),
        due=("point_history", "expired_at", "point_coupon"),
    ),
    Expected(
        "codxa-classpatra",
        "CODXA_DATABASE_URL",
        date(2021, 3, 15),  # "본 방침은 2021년 03월 15일부터 시행됩니다."
        {
            **LAW,  # 방문 3개월, 표시/광고 6개월, 계약 5년, 대금결제 5년, 불만 3년
            # "회원탈퇴 시 보존 개인정보 … 보존 근거: 불량 이용자의 재가입 방지 … 보존 기간 : 1년"
            "withdrawn_member": ("1 years", "policy"),
            # "본인 확인에 관한 기록 : 6개월 (정보통신망법)": obsolete as law, kept as policy
            "identity_check": ("6 months", "policy"),
        },
        # "판매자(제3자)에게 전달"
        third_parties=("판매자",),
        officer=("정종훈", "보안 책임자", "클래스파트라", "codxa@codxa.com", "02-2135-1124"),
        due=("withdrawn_members", "withdrawn_at", "withdrawn_member"),
    ),
]


def setup_commands(folder: str) -> list[list[str]]:
    """The `rightsdesk …` commands of the example's setup.sh, as argument lists."""
    script = (EXAMPLES / folder / "setup.sh").read_text(encoding="utf-8")
    return [shlex.split(line)[1:] for line in script.splitlines() if line.startswith("rightsdesk ")]


def test_there_is_one_example_per_seed():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(
        s.folder for s in SEEDS
    )


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.folder)
def test_the_files_are_accepted_and_setup_sh_runs_the_documented_commands(seed):
    folder = EXAMPLES / seed.folder
    schedule = load_schedule(folder.joinpath("retention.toml").read_text("utf-8"), "r.toml")
    assert schedule.warnings == ()
    datamap = load_datamap(folder.joinpath("datamap.toml").read_text("utf-8"), "d.toml")
    assert check_structure(datamap, [rule.code for rule in schedule]) == []
    script = folder.joinpath("setup.sh").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert f"RIGHTSDESK_RETENTION_FILE=examples/{seed.folder}/retention.toml" in script
    commands = [" ".join(c[:2]) for c in setup_commands(seed.folder)]
    assert commands[0] == "db upgrade"
    assert commands[-3:] == ["policy show", "jobs schedule", "jobs run"]
    assert commands.count("policy promise") == len(seed.promised)
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    for line in script.splitlines():
        if line.startswith("rightsdesk "):
            assert line in readme, line


@pytest.fixture
def operator_url(tmp_path):
    """The example operator's own database: a fresh SQLite file, or a PostgreSQL schema."""
    with shop_database(tmp_path, "example") as url:
        yield url


OLD = "2015-01-01 00:00:00"
MEMBER = {
    "minning": "INSERT INTO members VALUES (1, 'a@example.com', 'a', :t)",
    "talk-withme": "INSERT INTO members VALUES (1, 'a@example.com', :t)",
    "millie-library": "INSERT INTO members VALUES (1, 'a@example.com', 'o', NULL, :t)",
    "mecross-pointcoupon": "INSERT INTO members VALUES (1, 'a@example.com', 'a', NULL, :t)",
    "codxa-classpatra": "INSERT INTO members VALUES (1, 'a@example.com', 'a', NULL, NULL, :t, :t)",
}
DUE = {
    "access_logs": "INSERT INTO access_logs VALUES (1, 1, '192.0.2.1', :t)",
    "point_history": "INSERT INTO point_history VALUES (1, 1, 100, :t)",
    "withdrawn_members": (
        "INSERT INTO withdrawn_members VALUES (1, 1, 'a@example.com', 'a', NULL, :t)"
    ),
}


def build_operator_database(url: str, seed: Expected) -> None:
    """The example's schema.sql, one member, and one row of ``seed.due`` long past its period."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in (EXAMPLES / seed.folder / "schema.sql").read_text("utf-8").split(";"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                connection.execute(text("\n".join(lines)))
        connection.execute(text(MEMBER[seed.folder]), {"t": OLD})
        connection.execute(text(DUE[seed.due[0]]), {"t": OLD})
    engine.dispose()


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.folder)
def test_an_operator_following_the_example_gets_what_its_policy_promises(
    seed, app, operator_url, monkeypatch
):
    folder = EXAMPLES / seed.folder
    build_operator_database(operator_url, seed)
    monkeypatch.chdir(EXAMPLES.parent)
    monkeypatch.setenv(seed.url_env, operator_url)
    monkeypatch.setenv("RIGHTSDESK_RETENTION_FILE", f"examples/{seed.folder}/retention.toml")
    monkeypatch.setenv("RIGHTSDESK_DATAMAP_FILE", f"examples/{seed.folder}/datamap.toml")
    app.config["RETENTION_FILE"] = str(folder / "retention.toml")
    app.config["DATAMAP_FILE"] = str(folder / "datamap.toml")
    runner = app.test_cli_runner()
    outputs = {}
    for args in setup_commands(seed.folder):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
        outputs[" ".join(args[:2])] = result

    # jobs schedule: every period the policy states, with its kind
    schedule = {
        line.split("\t")[0]: line.split("\t")
        for line in outputs["jobs schedule"].stdout.splitlines()
        if "\t" in line
    }
    for code, (period, kind) in seed.periods.items():
        assert (schedule[code][1], schedule[code][6]) == (period, kind), code

    # policy show: the promised periods, and none where the policy promises none
    show = outputs["policy show"].output
    for line in show.splitlines():
        kind = line.split("\t")[0]
        if kind in seed.promised:
            assert line.endswith(f"promised: {seed.promised[kind]} days"), line
        else:
            assert "promised" not in line, line

    # the dry run names the due row's category and its basis kind
    dry = outputs["jobs run"]
    due_code = seed.due[2]
    lines = [line for line in dry.stdout.splitlines() if due_code in line]
    assert lines, dry.output
    assert lines[0].split("\t")[-1] == seed.periods[due_code][1]

    # /privacy: the imported version in force, with the policy's own words and the generated
    # sections
    page = app.test_client().get("/privacy").get_data(as_text=True)
    with app.app_context():
        version = db.session.scalars(select(PolicyVersion)).one()
        assert version.effective_date == seed.effective
    assert seed.effective.isoformat() in page
    for name in seed.processors + seed.third_parties + seed.officer:
        assert name in page, name
    # An imported text is stored word for word and may not carry generated-section markers, so
    # its retention appears in the policy's own words (the generated 법령에 따른 보존 / 내부 방침에
    # 따른 보존 split appears in versions written here with [[retention]]).

    # a request filed under the example: received Mon 2026-03-02, the promised or legal date
    with app.app_context():
        request = make_request(RequestKind.ACCESS, received="2026-03-02T10:00:00+09:00")
        if "access" in seed.promised:
            # 2026-03-02 + 7 days = Mon 03-09 (Civil Act: the day of receipt not counted)
            assert request.promised_due_date == date(2026, 3, 9)
        else:
            assert request.promised_due_date is None
        # 2026-03-02 + 10 days = Thu 03-12
        assert request.due_date == date(2026, 3, 12)
        # The queue, the digest and the reports judge by the working date: on Tue 03-10 a
        # 7-day promise is overdue, the law's 10 days only due soon (03-12 is two business
        # days off); a refusal notice is due by the same date.
        working = date(2026, 3, 9) if "access" in seed.promised else date(2026, 3, 12)
        assert request.notice_due_date == working
        mark = "overdue" if "access" in seed.promised else "soon"
        assert due_marks([request], date(2026, 3, 10)) == {request.id: mark}
