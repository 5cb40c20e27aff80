"""Retention: the schedule, its file, and the purge jobs on real databases (rightsdesk's own and
the demo shop's, SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from rightsdesk.demo import shop as demo_shop
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.domain.retention import (
    DEFAULT_SCHEDULE,
    BasisKind,
    EndAction,
    RetentionFileError,
    Unit,
    load_schedule,
)
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import (
    AuditEvent,
    CampaignRecipient,
    DestructionRecord,
    JobLock,
    NoticeCampaign,
    RepresentativeRole,
    Request,
    RetainedRecord,
    StaffRole,
)
from rightsdesk.policy import campaigns
from rightsdesk.retention.jobs import run_jobs
from rightsdesk.retention.runner import LEASE, job_lock
from rightsdesk.systems.configured import configured_datamap, system_engine
from tests.helpers import (
    DEMO_MAP,
    PG_URL,
    SEOUL,
    due_logs,
    local_cutoff,
    make_app,
    make_request,
    shop_count,
    sign_in,
)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [rule.code for rule in DEFAULT_SCHEDULE if rule.keeps])
def test_the_cutoff_separates_due_from_kept_records_on_every_day_of_a_year(code):
    rule = DEFAULT_SCHEDULE.rule(code)
    for offset in range(0, 366, 7):
        today = date(2027, 1, 1) + timedelta(days=offset)
        cutoff = rule.due_before(today, 5)
        assert rule.destroy_on(cutoff - timedelta(days=1), 5) <= today < rule.destroy_on(cutoff, 5)


def test_access_logs_are_due_three_months_and_five_days_on():
    rule = DEFAULT_SCHEDULE.rule("access_log")
    # Kept through 2026-11-17 (three months from 08-17), destroyed by the fifth day after.
    assert rule.until(date(2026, 8, 17)) == date(2026, 11, 17)
    assert rule.due_before(date(2026, 11, 22), 5) == date(2026, 8, 18)
    assert rule.due_before(date(2026, 11, 21), 5) == date(2026, 8, 17)


def test_the_file_overrides_and_adds_rules():
    schedule = load_schedule(
        "grace_days = 3\n"
        "[rules.access_log]\n"
        'period = "6 months"\n'
        'reason = "부정 이용 조사"\n'
        "[rules.membership]\n"
        'period = "1 year"\n'
        'start = "account_closed"\n'
        'kind = "policy"\n'
        'basis = "회원 약관 §12"\n'
        'action = "anonymise"\n'
        'label_ko = "회원 정보"\n',
        "r.toml",
    )
    assert schedule.grace_days == 3
    access = schedule.rule("access_log")
    assert (access.amount, access.unit) == (6, Unit.MONTHS)
    assert access.basis == DEFAULT_SCHEDULE.rule("access_log").basis  # kept from the default
    membership = schedule.rule("membership")
    assert (membership.amount, membership.unit, membership.action) == (
        1,
        Unit.YEARS,
        EndAction.ANONYMISE,
    )
    assert membership.label("en") == "회원 정보"
    assert set(DEFAULT_SCHEDULE.rules) < set(schedule.rules)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("grace_days = 0\n", 1, "between 1 and 30"),
        ('\n[rules.access_log]\nperiod = "3 weeks"\n', 3, "days, months or years"),
        ('[rules.new_one]\nperiod = "1 year"\n', 1, "missing 'start', 'basis'"),
        ('[rules.access_log]\n\nstart = "later"\n', 3, "accepted: record_date"),
        ('[rules.access_log]\nkeep = "x"\n', 2, "unknown key 'keep'"),
        ("[rules]\nBad-Code = {}\n", 2, "lower-case"),
        ("grace_days = [\n", 1, "not valid TOML"),
        (
            '[dormancy]\nenabled = true\nsystem = "shop"\ntable = "users"\n'
            'last_active = "seen"\ndays = 30\nnotice_days = 30\n',
            7,
            "less than days",
        ),
    ],
)
def test_a_bad_file_names_its_line(text, line, words):
    with pytest.raises(RetentionFileError) as caught:
        load_schedule(text, "r.toml")
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"r.toml:{line}: ")
    assert words in str(caught.value)


def test_a_statutory_category_kept_shorter_than_its_statute_is_refused_at_its_line():
    text = '# payments\n[rules.payment]\nperiod = "3 years"\n'
    with pytest.raises(RetentionFileError) as caught:
        load_schedule(text, "r.toml")
    assert str(caught.value) == (
        "r.toml:3: rules.payment: kept 3 years, shorter than the 5 years "
        "전자상거래법 §6, 시행령 §6①3 requires"
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[rules.payment]\nperiod = "7 years"\n', 2, "give the operator's reason"),
        ('[rules.payment]\nkind = "policy"\n', 2, "cannot be declared policy"),
        ('[rules.contract]\nreason = "분쟁 대비"\n', 2, "reason is only for"),
        (
            '[rules.tax]\nperiod = "3 years"\nstart = "record_date"\nkind = "statute"\n'
            'basis = "국세기본법 §85의3"\n',
            2,
            "shorter than the 5 years 국세기본법",
        ),
        (
            '[rules.x]\nperiod = "1 year"\nstart = "record_date"\nkind = "statute"\n'
            'basis = "관련 법령"\n',
            5,
            "must name its article",
        ),
        ('[rules.x]\nperiod = "1 year"\nstart = "record_date"\nbasis = "b"\n', 1, "'kind'"),
        ('[rules.access_log]\nkind = "law"\n', 2, "accepted: statute, policy"),
    ],
)
def test_rules_are_checked_against_the_law(text, line, words):
    with pytest.raises(RetentionFileError) as caught:
        load_schedule(text, "r.toml")
    assert str(caught.value).startswith(f"r.toml:{line}: rules."), str(caught.value)
    assert words in str(caught.value)


def test_a_longer_period_with_a_reason_is_the_operators_policy_beyond_the_statute():
    schedule = load_schedule(
        '[rules.payment]\nperiod = "7 years"\nreason = "분쟁 대비, 가입 시 동의"\n', "r.toml"
    )
    payment = schedule.rule("payment")
    assert (payment.amount, payment.kind, payment.reason) == (
        7,
        BasisKind.STATUTE,
        "분쟁 대비, 가입 시 동의",
    )
    assert payment.kind_text == "statute+policy"
    assert schedule.warnings == ()


def test_the_defaults_carry_their_basis_kind():
    kinds = {rule.code: rule.kind for rule in DEFAULT_SCHEDULE}
    assert kinds.pop("request_record") is BasisKind.POLICY
    assert set(kinds.values()) == {BasisKind.STATUTE}


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            '[rules.identity_log]\nperiod = "6 months"\nstart = "record_date"\nkind = "statute"\n'
            'basis = "정보통신망법 §23의2"\nlabel_ko = "본인확인에 관한 기록"\n',
            "obsolete since 2012",
        ),
        (
            '[rules.dormant]\nperiod = "1 year"\nstart = "record_date"\nkind = "statute"\n'
            'basis = "개인정보 보호법 §39의6 (휴면계정)"\n',
            "repealed on 2023-09-15",
        ),
    ],
)
def test_obsolete_rules_cited_as_law_are_accepted_with_a_warning_naming_the_line(rule, words):
    schedule = load_schedule("grace_days = 5\n\n" + rule, "r.toml")
    (warning,) = schedule.warnings
    assert warning.startswith("r.toml:3: rules.") and "warning:" in warning
    assert words in warning
    # The same records kept under the operator's own policy are no obsolete law.
    policy = rule.replace('kind = "statute"', 'kind = "policy"').replace("정보통신망법 ", "")
    policy = policy.replace("개인정보 보호법 §39의6 (휴면계정)", "휴면 정책, 가입 시 동의")
    assert load_schedule(policy, "r.toml").warnings == ()


# --- fixtures: rightsdesk with the demo shop ------------------------------------------------


@pytest.fixture
def shop(empty_shop_url, monkeypatch) -> str:
    demo_shop.create_demo_shop(empty_shop_url, users=60)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", empty_shop_url)
    return empty_shop_url


@pytest.fixture
def mapped(database_url, tmp_path, shop, smtp_port) -> Iterator:
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        UPLOAD_DIR=str(tmp_path / "uploads"),
        RETENTION_BATCH_SIZE=7,  # several batches even on a small shop
        MAIL_SERVER="127.0.0.1",  # dormancy notices go out before anyone is separated
        MAIL_PORT=smtp_port,
        MAIL_TIMEOUT=5,
        CAMPAIGN_RATE_PER_MINUTE=600_000,
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def lines_of(output: str, verb: str) -> dict[str, tuple[str, int, str]]:
    """``place -> (rule, count, basis)`` for each ``verb`` line of a jobs command."""
    found = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if fields[0] == verb:
            found[fields[2]] = (fields[3], int(fields[4]), fields[7])
    return found


def kinds_of(output: str, verb: str) -> dict[str, str]:
    """``place -> basis kind`` (the last column) for each ``verb`` line of a jobs command."""
    return {
        fields[2]: fields[8]
        for fields in (line.split("\t") for line in output.splitlines())
        if fields[0] == verb
    }


# --- the demo, end to end -----------------------------------------------------------------------


def test_the_demo_dry_run_lists_what_is_due_and_a_real_run_destroys_exactly_that(mapped, shop):
    runner = mapped.test_cli_runner()
    logs_before = shop_count(shop, "SELECT count(*) FROM access_logs")
    users_before = shop_count(shop, "SELECT count(*) FROM users")
    consents_before = shop_count(shop, "SELECT count(*) FROM marketing_consents")
    due = due_logs(shop)
    assert 0 < due < logs_before  # the demo has logs on both sides of three months

    dry = runner.invoke(args=["jobs", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    listed = lines_of(dry.output, "would destroy")
    assert listed["shop.access_logs"] == ("access_log", due, "통신비밀보호법 §15의2, 시행령 §41②")
    assert kinds_of(dry.output, "would destroy")["shop.access_logs"] == "statute"
    assert shop_count(shop, "SELECT count(*) FROM access_logs") == logs_before  # nothing gone
    with mapped.app_context():
        assert db.session.scalar(select(func.count()).select_from(DestructionRecord)) == 0

    real = runner.invoke(args=["jobs", "run"])
    assert real.exit_code == 0, real.output
    assert lines_of(real.output, "destroyed") == listed
    assert shop_count(shop, "SELECT count(*) FROM access_logs") == logs_before - due
    assert due_logs(shop) == 0
    # Live data (retention "none") is never touched by the purge.
    assert shop_count(shop, "SELECT count(*) FROM users") == users_before
    assert shop_count(shop, "SELECT count(*) FROM marketing_consents") == consents_before
    with mapped.app_context():
        records = db.session.scalars(select(DestructionRecord)).all()
        by_place = {f"{r.system}.{r.table_name}": r for r in records}
        assert {p: r.count for p, r in by_place.items()} == {p: v[1] for p, v in listed.items()}
        log_record = by_place["shop.access_logs"]
        assert (log_record.rule, log_record.method, log_record.job) == (
            "access_log",
            "delete",
            "purge-operator",
        )
        assert log_record.cutoff == local_cutoff("access_log")
        assert log_record.actor.startswith("cli")
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"retention.planned", "retention.run"} <= actions

    again = runner.invoke(args=["jobs", "run"])
    assert again.exit_code == 0, again.output
    assert again.output.strip().endswith("nothing to do")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_single_job_command_runs_only_that_job(mapped, shop):
    result = mapped.test_cli_runner().invoke(args=["jobs", "purge-operator", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert {line.split("\t")[1] for line in result.output.splitlines() if "\t" in line} == {
        "purge-operator"
    }


def test_a_bad_retention_file_runs_nothing(mapped, shop, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text('grace_days = 5\n\n[rules.access_log]\nperiod = "three months"\n')
    mapped.config["RETENTION_FILE"] = str(path)
    logs = shop_count(shop, "SELECT count(*) FROM access_logs")

    result = mapped.test_cli_runner().invoke(args=["jobs", "run"])

    assert result.exit_code == 2
    assert f"{path}:4: rule 'access_log': period 'three months'" in result.output
    assert shop_count(shop, "SELECT count(*) FROM access_logs") == logs


def test_the_schedule_command_prints_the_file_in_force(mapped, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text(
        'grace_days = 3\n[rules.membership]\nperiod = "2 years"\nstart = "account_closed"\n'
        'kind = "policy"\nbasis = "회원 약관 §12"\n'
    )
    mapped.config["RETENTION_FILE"] = str(path)
    result = mapped.test_cli_runner().invoke(args=["jobs", "schedule"])
    assert result.exit_code == 0, result.output
    assert f"retention schedule: {path}" in result.output
    assert "grace: 3 day(s)" in result.output
    assert "category\tperiod\tstarts at\tat the end\tbasis\tlabel\tkind\treason" in result.output
    lines = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines()}
    assert lines["membership"][:5] == [
        "membership",
        "2 years",
        "account_closed",
        "destroy",
        "회원 약관 §12",
    ]
    assert lines["membership"][6:] == ["policy", "-"]
    assert lines["access_log"][:5] == [
        "access_log",
        "3 months",
        "record_date",
        "destroy",
        "통신비밀보호법 §15의2, 시행령 §41②",
    ]
    assert lines["access_log"][6:] == ["statute", "-"]
    assert lines["request_record"][6:] == ["policy", "-"]
    assert result.stderr == ""


def test_the_schedule_command_describes_dormancy_as_the_operators_policy(mapped, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text(
        '[dormancy]\nenabled = true\nsystem = "shop"\ntable = "users"\n'
        'last_active = "created_at"\ndays = 365\nnotice_days = 30\nkeep_days = 1095\n'
    )
    mapped.config["RETENTION_FILE"] = str(path)
    result = mapped.test_cli_runner().invoke(args=["jobs", "schedule"])
    assert result.exit_code == 0, result.output
    assert (
        "dormancy: shop.users inactive 365 days by created_at (notice 30 days before), "
        "separated data kept 1095 days (the operator's policy)"
    ) in result.output.splitlines()


def test_the_schedule_shows_a_longer_period_as_policy_and_warns_of_obsolete_rules(mapped, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text(
        '[rules.payment]\nperiod = "7 years"\nreason = "분쟁 대비"\n\n'
        '[rules.identity_log]\nperiod = "6 months"\nstart = "record_date"\nkind = "statute"\n'
        'basis = "정보통신망법 §23의2: 본인확인기록"\n',
        encoding="utf-8",
    )
    mapped.config["RETENTION_FILE"] = str(path)
    result = mapped.test_cli_runner().invoke(args=["jobs", "schedule"])
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()}
    assert lines["payment"][1] == "7 years"
    assert lines["payment"][6:] == ["statute+policy", "분쟁 대비"]
    assert result.stderr.splitlines() == [
        f"{path}:5: rules.identity_log: warning: identity-verification logs kept 6 months under "
        "정보통신망법 are obsolete since 2012 (legal.md §3): no statute requires them now"
    ]
    dry = mapped.test_cli_runner().invoke(args=["jobs", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "obsolete since 2012" in dry.stderr


def test_a_payment_period_shorter_than_the_statute_runs_nothing(mapped, shop, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text('grace_days = 5\n[rules.payment]\nperiod = "3 years"\n', encoding="utf-8")
    mapped.config["RETENTION_FILE"] = str(path)
    logs_before = shop_count(shop, "SELECT count(*) FROM access_logs")
    for args in (["jobs", "run"], ["jobs", "schedule"], ["jobs", "run", "--dry-run"]):
        result = mapped.test_cli_runner().invoke(args=args)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines()[-1] == (
            f"Error: {path}:3: rules.payment: kept 3 years, shorter than the 5 years "
            "전자상거래법 §6, 시행령 §6①3 requires"
        )
    assert shop_count(shop, "SELECT count(*) FROM access_logs") == logs_before
    with mapped.app_context():
        assert db.session.scalar(select(func.count()).select_from(DestructionRecord)) == 0


def test_an_unreachable_system_fails_the_step_by_name(mapped, monkeypatch):
    monkeypatch.delenv("RIGHTSDESK_SHOP_DATABASE_URL")
    result = mapped.test_cli_runner().invoke(args=["jobs", "run"])
    assert result.exit_code == 1
    assert "failed: purge-operator: shop.payments: RIGHTSDESK_SHOP_DATABASE_URL is not set" in (
        result.output
    )


def test_an_anonymising_rule_clears_columns_once_instead_of_deleting(mapped, shop, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text('[rules.contract]\naction = "anonymise"\n')
    mapped.config["RETENTION_FILE"] = str(path)
    cutoff = local_cutoff("contract")
    bound = cutoff.replace(tzinfo=None) if shop.startswith("sqlite") else cutoff
    old = "SELECT count(*) FROM orders WHERE created_at < :c"
    due = shop_count(shop, old, c=bound)
    assert due
    runner = mapped.test_cli_runner()

    result = runner.invoke(args=["jobs", "run", "--only", "purge-operator"])

    assert result.exit_code == 0, result.output
    assert lines_of(result.output, "destroyed")["shop.orders"][1] == due
    assert shop_count(shop, old, c=bound) == due  # the rows stay
    anonymised = old + " AND address LIKE 'erased-%'"
    assert shop_count(shop, anonymised, c=bound) == due
    assert shop_count(shop, "SELECT count(*) FROM orders WHERE address LIKE 'erased-%'") == due
    again = runner.invoke(args=["jobs", "run", "--only", "purge-operator"])
    assert "shop.orders" not in again.output


@pytest.mark.parametrize("committed", [True, False])
def test_a_killed_run_journalled_by_keys_before_spans_is_settled_as_then(mapped, shop, committed):
    """A run killed while the journal still listed a batch's keys (before spans) is credited
    with its confirmed rows, plus that batch if none of its keys is still there."""
    from rightsdesk.core import audit
    from rightsdesk.core.actors import Actor
    from rightsdesk.models import PurgeProgress
    from rightsdesk.retention.runner import PLANNED
    from tests.helpers import shop_rows

    cutoff = local_cutoff("access_log")
    first = "SELECT id FROM access_logs WHERE at < :c ORDER BY id LIMIT 3"
    keys = [row[0] for row in shop_rows(shop, first, c=cutoff.replace(tzinfo=None))]
    if committed:
        engine = create_engine(shop)
        with engine.begin() as connection:
            connection.execute(text(f"DELETE FROM access_logs WHERE id IN {tuple(keys)}"))
        engine.dispose()
    due = due_logs(shop)
    place = {"system": "shop", "table": "access_logs"}
    with mapped.app_context():
        plan = {"run": "killed", "job": "purge-operator", "rule": "access_log", **place}
        plan |= {"method": "delete", "cutoff": cutoff.isoformat(), "due": due, "holder": "gone"}
        audit.record(PLANNED, actor=Actor("cli:x"), now=datetime.now(UTC), data=plan)
        inflight = json.dumps([[key] for key in keys])
        journal = PurgeProgress(run_id="killed", system="shop", table_name="access_logs")
        db.session.add(journal)
        journal.done, journal.inflight = 17, inflight  # 17 confirmed, 3 keys in flight
        db.session.commit()

    result = mapped.test_cli_runner().invoke(args=["jobs", "run", "--only", "purge-operator"])

    assert result.exit_code == 0, result.output
    with mapped.app_context():
        found = db.session.scalars(
            select(DestructionRecord).where(DestructionRecord.table_name == "access_logs")
        ).all()
        counts = {record.run_id: record.count for record in found}
    assert counts.pop("killed") == 17 + (3 if committed else 0)
    assert list(counts.values()) == [due]


# --- rightsdesk's own data ----------------------------------------------------------------


def test_separated_records_go_after_their_purge_after_day(ctx):
    today = datetime.now(UTC).astimezone(SEOUL).date()
    for key, purge_after in (("1", today - timedelta(days=1)), ("2", today), ("3", today)):
        db.session.add(
            RetainedRecord(
                request_ref="RD-2026-000001",
                system="shop",
                table_name="payments",
                row_key=f"[{key}]",
                category="payment",
                basis="전자상거래법 §6, 시행령 §6①3",
                purge_after=purge_after,
                ciphertext=b"x",
                stored_at=datetime.now(UTC),
            )
        )
    db.session.commit()
    runner = ctx.test_cli_runner()

    dry = runner.invoke(args=["jobs", "purge-separated", "--dry-run"])
    assert lines_of(dry.output, "would destroy") == {
        "shop.retained:payments": ("payment", 1, "전자상거래법 §6, 시행령 §6①3")
    }
    result = runner.invoke(args=["jobs", "purge-separated"])

    assert result.exit_code == 0, result.output
    assert sorted(db.session.scalars(select(RetainedRecord.row_key))) == ["[2]", "[3]"]
    record = db.session.scalars(select(DestructionRecord)).one()
    assert (record.job, record.rule, record.count) == ("purge-separated", "payment", 1)
    assert "nothing to do" in runner.invoke(args=["jobs", "purge-separated"]).output


def _closed_request(email: str, closed: datetime, proof: str | None = None) -> Request:
    request = make_request(
        email=email,
        name="김보존",
        received=closed - timedelta(days=5),
        details="예전 요청",
        representative=(RepresentativeRole.AGENT, "대리인", f"agent.{email}"),
        at=closed,
        via=(Status.IN_PROGRESS,),
        status=Status.COMPLETED,
    )
    request.representative.proof_file = proof
    db.session.commit()
    return request


def test_closed_requests_lose_their_personal_data_after_three_years(ctx):
    uploads = Path(ctx.config["UPLOAD_DIR"])
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "old-proof.pdf").write_bytes(PDF)
    now = datetime.now(UTC)
    old = _closed_request("old@example.com", now - timedelta(days=3 * 366 + 10), "old-proof.pdf")
    recent = _closed_request("recent@example.com", now - timedelta(days=400))
    old_ref, recent_ref = old.reference, recent.reference
    runner = ctx.test_cli_runner()

    dry = runner.invoke(args=["jobs", "purge-requests", "--dry-run"])
    assert lines_of(dry.output, "would destroy")["rightsdesk.requests"][:2] == (
        "request_record",
        1,
    )
    assert kinds_of(dry.output, "would destroy")["rightsdesk.requests"] == "policy"
    result = runner.invoke(args=["jobs", "purge-requests"])

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    old = db.session.scalar(select(Request).where(Request.reference == old_ref))
    assert old.subject is None and old.details is None and old.representative is None
    assert old.personal_data_purged_at is not None
    assert (old.kind, old.status) == (RequestKind.ACCESS, Status.COMPLETED)  # statistics stay
    assert not (uploads / "old-proof.pdf").exists()
    recent = db.session.scalar(select(Request).where(Request.reference == recent_ref))
    assert recent.subject.email == "recent@example.com" and recent.details == "예전 요청"
    counts = {
        r.table_name: r.count
        for r in db.session.scalars(
            select(DestructionRecord).where(DestructionRecord.job == "purge-requests")
        )
    }
    assert counts == {"requests": 1, "uploads": 1}
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert "nothing to do" in runner.invoke(args=["jobs", "purge-requests"]).output


def test_expired_unverified_requests_are_recorded_as_destroyed(ctx):
    request = make_request(
        email="never@example.com",
        name=None,
        received=datetime.now(UTC) - timedelta(days=9),
        verified=False,
    )
    result = ctx.test_cli_runner().invoke(args=["jobs", "run", "--only", "expire-unverified"])
    assert result.exit_code == 0, result.output
    record = db.session.scalars(select(DestructionRecord)).one()
    assert (record.job, record.table_name, record.count) == ("expire-unverified", "requests", 1)
    db.session.expire_all()
    assert db.session.get(Request, request.id).status is Status.EXPIRED


# --- locks ----------------------------------------------------------------------------------


def test_a_held_job_is_skipped_and_an_expired_lease_is_taken_over(ctx):
    with job_lock("retention:test", "first") as lease:
        assert lease is not None
        with job_lock("retention:test", "second") as other:
            assert other is None
    # A runner killed while holding it: its lease stays until it runs out.
    db.session.add(
        JobLock(name="retention:test", holder="killed", lease_until=datetime.now(UTC) + LEASE)
    )
    db.session.commit()
    with job_lock("retention:test", "third") as other:
        assert other is None
    db.session.execute(update(JobLock).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()
    with job_lock("retention:test", "third") as taken:
        assert taken is not None
        assert db.session.scalar(select(JobLock.holder)) == "third"
    assert db.session.scalar(select(func.count()).select_from(JobLock)) == 0


def test_a_run_skips_a_job_another_runner_holds(mapped, shop):
    with mapped.app_context():
        db.session.add(
            JobLock(
                name="retention:purge-operator",
                holder="elsewhere",
                lease_until=datetime.now(UTC) + LEASE,
            )
        )
        db.session.commit()
    result = mapped.test_cli_runner().invoke(args=["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "skipped\tpurge-operator\theld by another runner" in result.output
    assert due_logs(shop) > 0


def test_the_worker_runs_the_due_jobs_once_per_period(mapped, shop):
    runner = mapped.test_cli_runner()
    due = due_logs(shop)
    # A new installation: the first automatic run waits a period (time for a dry run).
    waited = runner.invoke(args=["worker", "--once"])
    assert waited.exit_code == 0 and "destroyed" not in waited.output
    assert due and due_logs(shop) == due
    with mapped.app_context():
        slot = db.session.get(JobLock, "retention:worker-slot")
        assert slot.lease_until > datetime.now(UTC) + timedelta(minutes=50)
        slot.lease_until = datetime.now(UTC) - timedelta(seconds=1)  # the period has passed
        db.session.commit()
    first = runner.invoke(args=["worker", "--once"])
    assert first.exit_code == 0, first.output
    assert "destroyed\tpurge-operator\tshop.access_logs" in first.output
    assert due_logs(shop) == 0
    with mapped.app_context():
        runs = db.session.scalar(select(func.count(DestructionRecord.run_id.distinct())))
        slot = db.session.get(JobLock, "retention:worker-slot")
        assert slot is not None and slot.lease_until > datetime.now(UTC) + timedelta(minutes=50)
    second = runner.invoke(args=["worker", "--once"])
    assert second.exit_code == 0
    with mapped.app_context():
        assert db.session.scalar(select(func.count(DestructionRecord.run_id.distinct()))) == runs
        # The run by the worker is audited like any other.
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "retention.run")
        ).one()
        assert event.actor.startswith("worker:")


# --- the console ------------------------------------------------------------------------------


def test_the_console_shows_the_schedule_and_recent_destructions(mapped, shop):
    assert mapped.test_cli_runner().invoke(args=["jobs", "run"]).exit_code == 0
    client = sign_in(mapped, StaffRole.AUDITOR)
    html = client.get("/admin/retention").get_data(as_text=True)
    assert 'data-rule="access_log"' in html
    assert "통신비밀보호법 §15의2, 시행령 §41②" in html
    assert "3개월" in html  # Korean by default
    assert "shop.access_logs" in html
    assert 'id="destruction-records"' in html
    nav = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/retention"' in nav


def test_the_console_shows_each_rules_basis_kind_and_the_warnings(mapped, tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text(
        '[rules.payment]\nperiod = "7 years"\nreason = "분쟁 대비"\n\n'
        '[rules.dormant]\nperiod = "1 year"\nstart = "record_date"\nkind = "statute"\n'
        'basis = "개인정보 보호법 §39의6 휴면계정"\n',
        encoding="utf-8",
    )
    mapped.config["RETENTION_FILE"] = str(path)
    client = sign_in(mapped, StaffRole.AUDITOR)
    html = client.get("/admin/retention").get_data(as_text=True)
    row = html.split('data-rule="request_record"')[1].split("</tr>")[0]
    assert 'data-kind="policy"' in row and "법령이 아닌 내부 방침" in row
    row = html.split('data-rule="contract"')[1].split("</tr>")[0]
    assert 'data-kind="statute"' in row
    row = html.split('data-rule="payment"')[1].split("</tr>")[0]
    assert 'data-kind="statute+policy"' in row
    assert "법정 기간을 넘는 보존은 내부 방침에 따름: 분쟁 대비" in row
    (warning,) = re.findall(r"<p [^>]*data-warning>(.*?)</p>", html)
    assert f"{path}:5: rules.dormant: warning:" in warning and "2023-09-15" in warning


# --- the bench --------------------------------------------------------------------------------


@pytest.mark.skipif(
    not PG_URL, reason="the bench needs PostgreSQL: set RIGHTSDESK_TEST_DATABASE_URL"
)
def test_bench_purge_compares_the_job_with_the_raw_loop_on_a_small_load(tmp_path):
    from rightsdesk.bench.common import bench_group

    app = make_app(f"sqlite:///{tmp_path / 'unused.db'}")
    result = app.test_cli_runner().invoke(
        bench_group, ["purge", "--url", PG_URL, "--rows", "3000", "--live", "1000"]
    )
    assert result.exit_code == 0, result.output
    number = r"[\d,]+"
    import re

    assert re.search(
        rf"^rightsdesk job\s+3,000 rows\s+[\d.]+ s\s+{number} rows/s$", result.output, re.M
    )
    assert re.search(
        rf"^raw DELETE loop\s+3,000 rows\s+[\d.]+ s\s+{number} rows/s$", result.output, re.M
    )
    assert re.search(r"^ratio\s+[\d.]+x", result.output, re.M)
    assert re.search(r"^peak memory\s+\d+ MB", result.output, re.M)
    assert "live rows left   1,000 (of 1,000)" in result.output
    assert "dropped database rightsdesk_bench_" in result.output


# --- dormancy (off by default): notice through a campaign, separation after the notice -----

POLICY = """
[dormancy]
enabled = true
system = "shop"
table = "users"
last_active = "created_at"
days = 365
notice_days = 30
keep_days = 1000
"""


def _bound(shop: str, moment: datetime):
    return moment.replace(tzinfo=None) if shop.startswith("sqlite") else moment


def _midnight(now: datetime, days_back: int) -> datetime:
    day = now.astimezone(SEOUL).date() - timedelta(days=days_back)
    return datetime.combine(day, datetime.min.time(), tzinfo=SEOUL).astimezone(UTC)


def _read_all(campaign_id: int) -> list[str]:
    source = configured_datamap().system("shop")
    with system_engine(source) as engine:
        while campaigns.read_batch(campaign_id, engine, batch=7) is not None:
            pass
    return sorted(
        db.session.scalars(
            select(CampaignRecipient.email).where(CampaignRecipient.campaign_id == campaign_id)
        )
    )


def test_dormancy_is_off_by_default(mapped, shop):
    result = mapped.test_cli_runner().invoke(args=["jobs", "run", "--only", "dormancy"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "nothing to do"


def test_inactive_accounts_are_told_once_then_separated_after_the_notice_period(
    mapped, shop, tmp_path, smtp
):
    path = tmp_path / "retention.toml"
    path.write_text(POLICY, encoding="utf-8")
    mapped.config["RETENTION_FILE"] = str(path)
    now = datetime.now(UTC)
    told_before = _midnight(now, 365 - 30)
    inactive = "SELECT email FROM users WHERE created_at < :c AND email NOT LIKE 'erased-%'"
    expected = sorted(r for r in _emails(shop, inactive, c=_bound(shop, told_before)))
    assert expected, "the demo shop has accounts unused for eleven months"
    runner = mapped.test_cli_runner()

    dry = runner.invoke(args=["jobs", "run", "--only", "dormancy", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    line = next(x for x in dry.stdout.splitlines() if x.startswith("would notify"))
    assert f"\tshop.users\tdormancy_notice\t{len(expected)}\tnotice" in line
    assert "2023-09-15" in line  # the basis says the statutory duty is gone

    with mapped.app_context():
        run_jobs(["dormancy"], now=now, actor="test")
        campaign = db.session.scalars(
            select(NoticeCampaign).where(NoticeCampaign.purpose == "dormancy")
        ).one()
        assert "로그인" in campaign.text_ko and "광고가 아닙니다" in campaign.text_ko
        assert _read_all(campaign.id) == expected
        assert campaigns.send_due(now=now, batch=1000).sent == len(expected)  # delivered
        # The same day again: the window was told; nobody is separated before 30 days.
        again = run_jobs(["dormancy"], now=now, actor="test")
        assert again.count == 0
        assert db.session.scalar(select(db.func.count()).select_from(NoticeCampaign)) == 1

        later = now + timedelta(days=31)
        report = run_jobs(["dormancy"], now=later, actor="test")
        counts = {i.method: i.count for job in report.jobs for i in job.items}
        assert counts["separate"] == len(expected)
        kept = db.session.scalars(
            select(RetainedRecord).where(RetainedRecord.category == "dormancy")
        ).all()
        cipher = separated.cipher()
        assert sorted(json.loads(cipher.decrypt(r.ciphertext))["email"] for r in kept) == expected
        assert {r.purge_after for r in kept} == {
            later.astimezone(SEOUL).date() + timedelta(days=1000)
        }
        records = db.session.scalars(
            select(DestructionRecord).where(DestructionRecord.job == "dormancy")
        ).all()
        assert [(r.method, r.count) for r in records] == [("separate", len(expected))]
        # Separated accounts identify nobody in the live table, and are not found again.
        assert run_jobs(["dormancy"], now=later, actor="test").count == 0
    assert not set(_emails(shop, "SELECT email FROM users")) & set(expected)
    assert (
        shop_count(
            shop, "SELECT count(*) FROM users WHERE phone IS NOT NULL AND email LIKE 'erased-%'"
        )
        == 0
    )


def _emails(url: str, sql: str, **params) -> list[str]:

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [r[0] for r in connection.execute(text(sql), params)]
    engine.dispose()
    return rows
