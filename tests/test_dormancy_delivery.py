"""Dormancy keeps its promise: nobody is separated whose notice was not delivered at least the
notice period earlier; undelivered notices are sent again; a returning person is restored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    CampaignRecipient,
    NoticeCampaign,
    RetainedRecord,
    StaffRole,
)
from rightsdesk.policy import campaigns
from rightsdesk.retention.jobs import run_jobs
from tests.helpers import DEMO_MAP, SmtpServer, csrf, make_app, sign_in

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


class RefusingSmtp(SmtpServer):
    """Refuses every recipient for good (550), as a mail server that will not take them."""

    refusing = True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing:
            return "550 5.7.1 relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_server(smtp_port) -> Iterator[RefusingSmtp]:
    server = RefusingSmtp(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dormant(database_url, tmp_path, shop, smtp_port) -> Iterator:
    path = tmp_path / "retention.toml"
    path.write_text(POLICY, encoding="utf-8")
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        RETENTION_FILE=str(path),
        UPLOAD_DIR=str(tmp_path / "uploads"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_TIMEOUT=5,
        CAMPAIGN_RATE_PER_MINUTE=600_000,
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _live(shop: str, sql: str, **params) -> list:
    engine = create_engine(shop)
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params).all()
    engine.dispose()
    return rows


def _counts(report) -> dict[str, int]:
    return {i.method: i.count for job in report.jobs for i in job.items}


def _send_all(now: datetime) -> campaigns.SendReport:
    return campaigns.send_due(now=now, batch=1000)


def _notice_and_refuse(dormant, shop) -> tuple[datetime, list[str]]:
    """Run dormancy (the notice campaign), read its recipients, and send with the server
    refusing every one; returns the time and the addresses told."""
    now = datetime.now(UTC)
    with dormant.app_context():
        run_jobs(["dormancy"], now=now, actor="test")
        campaign = db.session.scalars(select(NoticeCampaign)).one()
        engine = create_engine(shop)
        while campaigns.read_batch(campaign.id, engine, batch=50) is not None:
            pass
        engine.dispose()
        report = _send_all(now)
        assert report.sent == 0 and report.bounced > 0
        told = sorted(db.session.scalars(select(CampaignRecipient.email)))
    return now, told


def test_nobody_is_separated_when_the_mail_server_refused_every_notice(
    dormant, shop, smtp_server
):
    now, told = _notice_and_refuse(dormant, shop)
    before = _live(shop, "SELECT id, email, name, phone FROM users ORDER BY id")
    later = now + timedelta(days=32)
    with dormant.app_context():
        report = run_jobs(["dormancy"], now=later, actor="test")
        counts = _counts(report)
        assert counts.get("separate", 0) == 0 and counts["held"] == len(told)
        assert db.session.scalar(select(func.count(RetainedRecord.id))) == 0
        # The held accounts are told again, once: a second run the same day adds no campaign.
        retry = db.session.scalars(
            select(NoticeCampaign).order_by(NoticeCampaign.id.desc()).limit(1)
        ).one()
        assert retry.source == "list" and retry.queued == len(told)
        run_jobs(["dormancy"], now=later, actor="test")
        assert db.session.scalar(select(func.count(NoticeCampaign.id))) == 2
    assert _live(shop, "SELECT id, email, name, phone FROM users ORDER BY id") == before


def test_a_notice_delivered_on_retry_starts_the_period_from_its_delivery(
    dormant, shop, smtp_server
):
    now, told = _notice_and_refuse(dormant, shop)
    later = now + timedelta(days=32)
    with dormant.app_context():
        run_jobs(["dormancy"], now=later, actor="test")
        smtp_server.refusing = False
        assert _send_all(later).sent == len(told)
        # Delivered just now: separating waits for 30 days from the delivery.
        soon = datetime.now(UTC) + timedelta(days=29)
        assert _counts(run_jobs(["dormancy"], now=soon, actor="test")).get("separate", 0) == 0
        after = datetime.now(UTC) + timedelta(days=31)
        counts = _counts(run_jobs(["dormancy"], now=after, actor="test"))
        assert counts["separate"] == len(told) and counts.get("held", 0) == 0
    remaining = {r.email for r in _live(shop, "SELECT email FROM users")}
    assert not remaining & set(told)


def _separated(dormant, shop, smtp) -> tuple[list[str], datetime]:
    """Dormancy with a server that accepts: everyone told is separated after 31 days."""
    now = datetime.now(UTC)
    with dormant.app_context():
        run_jobs(["dormancy"], now=now, actor="test")
        campaign = db.session.scalars(select(NoticeCampaign)).one()
        engine = create_engine(shop)
        while campaigns.read_batch(campaign.id, engine, batch=50) is not None:
            pass
        engine.dispose()
        told = sorted(db.session.scalars(select(CampaignRecipient.email)))
        assert _send_all(now).sent == len(told)
        later = datetime.now(UTC) + timedelta(days=31)
        assert _counts(run_jobs(["dormancy"], now=later, actor="test"))["separate"] == len(told)
    return told, later


def test_a_returning_person_is_restored_by_the_command_and_the_copy_destroyed(
    dormant, shop, smtp
):
    told, later = _separated(dormant, shop, smtp)
    person = next(a for a in told if a.endswith("@example.com"))
    kept_row = None
    with dormant.app_context():
        from rightsdesk.fulfilment import separated

        record = db.session.scalar(
            select(RetainedRecord).where(
                RetainedRecord.lookup_hash == separated.lookup_hash(person)
            )
        )
        kept_row = json.loads(separated.cipher().decrypt(record.ciphertext))
    runner = dormant.test_cli_runner()
    result = runner.invoke(args=["dormancy", "restore", person.upper()])
    assert result.exit_code == 0, result.output
    assert "restored 1 row(s) into shop.users" in result.output
    live = _live(shop, "SELECT id, email, name, phone FROM users WHERE id = :i", i=kept_row["id"])
    assert [tuple(r) for r in live] == [
        (kept_row["id"], person, kept_row["name"], kept_row["phone"])
    ]
    with dormant.app_context():
        assert db.session.scalar(
            select(func.count(RetainedRecord.id)).where(
                RetainedRecord.lookup_hash == separated.lookup_hash(person)
            )
        ) == 0
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dormancy.restored")
        ).one()
        assert person not in event.data and '"rows":1' in event.data.replace(" ", "")
        # Came back: active now, so the next run does not separate the account again.
        counts = _counts(run_jobs(["dormancy"], now=later, actor="test"))
        assert counts.get("separate", 0) == 0
    assert _live(shop, "SELECT email FROM users WHERE id = :i", i=kept_row["id"])[0][0] == person
    # Again: the copy is gone, so nothing to restore; nothing changes.
    before = _live(shop, "SELECT * FROM users ORDER BY id")
    again = runner.invoke(args=["dormancy", "restore", person])
    assert again.exit_code == 2 and "no separated copy" in again.output
    assert _live(shop, "SELECT * FROM users ORDER BY id") == before


def test_staff_restore_from_the_console_and_a_purged_copy_is_said_so(dormant, shop, smtp):
    told, _later = _separated(dormant, shop, smtp)
    person, purged = told[0], told[1]
    with dormant.app_context():
        from rightsdesk.fulfilment import separated

        db.session.execute(
            RetainedRecord.__table__.delete().where(
                RetainedRecord.lookup_hash == separated.lookup_hash(purged)
            )
        )  # as purge-separated does after the keep period
        db.session.commit()
    client = sign_in(dormant, StaffRole.HANDLER)
    token = csrf(client, "/admin/retention")
    before = _live(shop, "SELECT * FROM users ORDER BY id")
    refused = client.post(
        "/admin/retention/restore",
        data={"csrf_token": token, "email": purged},
        follow_redirects=True,
    )
    assert "분리 보관본이 없습니다" in refused.get_data(as_text=True)  # in the console's Korean
    assert _live(shop, "SELECT * FROM users ORDER BY id") == before
    done = client.post(
        "/admin/retention/restore",
        data={"csrf_token": token, "email": person},
        follow_redirects=True,
    )
    assert "shop.users" in done.get_data(as_text=True)
    assert _live(shop, "SELECT count(*) FROM users WHERE email = :e", e=person)[0][0] == 1
    auditor = sign_in(dormant, StaffRole.AUDITOR)
    token = csrf(auditor, "/admin/retention")
    assert (
        auditor.post(
            "/admin/retention/restore", data={"csrf_token": token, "email": person}
        ).status_code
        == 403
    )


def test_accounts_separated_before_indexing_are_indexed_once_then_restorable(dormant, shop, smtp):
    told, _later = _separated(dormant, shop, smtp)
    with dormant.app_context():
        db.session.execute(RetainedRecord.__table__.update().values(lookup_hash=None))
        db.session.commit()  # as separated by an earlier rightsdesk
    runner = dormant.test_cli_runner()
    assert runner.invoke(args=["dormancy", "restore", told[0]]).exit_code == 2
    first = runner.invoke(args=["dormancy", "index"])
    assert first.exit_code == 0 and f"indexed {len(told)} separated" in first.output
    assert "indexed 0 separated" in runner.invoke(args=["dormancy", "index"]).output
    restored = runner.invoke(args=["dormancy", "restore", told[0]])
    assert restored.exit_code == 0, restored.output


# --- the demo's dormancy (make run) ----------------------------------------------------------

DEMO_RETENTION = DEMO_MAP.parent / "demo_retention.toml"


@pytest.fixture
def demo(database_url, tmp_path, shop, smtp_port) -> Iterator:
    """The demo's own settings: its data map and retention file (dormancy on last_login_at)."""
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        RETENTION_FILE=str(DEMO_RETENTION),
        DEMO=True,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_TIMEOUT=5,
        CAMPAIGN_RATE_PER_MINUTE=600_000,
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _dormant_in_shop(shop: str) -> list[str]:
    """Who the demo shop has not seen for a year (its last_login_at)."""
    cutoff = datetime.now(UTC) - timedelta(days=366)
    rows = _live(shop, "SELECT email, last_login_at FROM users ORDER BY id")
    return [email for email, at in rows if _utc(at) < cutoff]


def _utc(value) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def test_the_demo_tells_its_dormant_accounts_40_days_back_then_separates_and_restores(
    demo, shop, smtp_server
):
    smtp_server.refusing = False
    dormant = _dormant_in_shop(shop)
    assert "dongmin.yoon@example.com" in dormant and len(dormant) < 30
    runner = demo.test_cli_runner()
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    told = runner.invoke(args=["demo", "dormancy"])
    assert told.exit_code == 0, told.output
    assert f"{len(dormant)} dormant account(s) told 40 days ago" in told.output
    again = runner.invoke(args=["demo", "dormancy"])
    assert again.exit_code == 2 and "exist already" in again.output
    with demo.app_context():
        sent = db.session.scalars(select(CampaignRecipient.sent_at)).all()
        assert len(sent) == len(dormant)
        assert all(datetime.now(UTC) - _utc(s) > timedelta(days=39) for s in sent)
    run = runner.invoke(args=["jobs", "dormancy"])
    assert run.exit_code == 0, run.output
    line = next(x for x in run.stdout.splitlines() if x.startswith("separated\t"))
    assert line.split("\t")[4] == str(len(dormant))
    assert "dongmin.yoon@example.com" not in [e for (e,) in _live(shop, "SELECT email FROM users")]
    restored = runner.invoke(args=["dormancy", "restore", "dongmin.yoon@example.com"])
    assert restored.exit_code == 0, restored.output
    assert ("dongmin.yoon@example.com",) in _live(shop, "SELECT email FROM users")


def test_the_demo_with_its_mail_refused_separates_nobody(demo, shop, smtp_server):
    dormant = _dormant_in_shop(shop)
    runner = demo.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    told = runner.invoke(args=["demo", "dormancy"])
    assert told.exit_code == 0 and "0 dormant account(s) told" in told.output
    run = runner.invoke(args=["jobs", "dormancy"])
    lines = run.stdout.splitlines()
    assert not any(x.startswith("separated\t") for x in lines), run.output
    held = next(x for x in lines if x.startswith("held\t"))
    assert held.split("\t")[4] == str(len(dormant))
    assert "destroyed nothing" in run.stdout


def test_a_deletion_request_of_a_dormant_account_restores_it_then_erases_it(
    demo, shop, smtp_server
):
    """Dormancy anonymised the account in the shop and keeps it apart: the erasure must still
    reach the person — their orders, tickets and the separated copy — not report 0 rows."""
    from rightsdesk.domain.kinds import RequestKind
    from tests.helpers import act, make_request

    smtp_server.refusing = False
    person = "dongmin.yoon@example.com"
    runner = demo.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    assert runner.invoke(args=["demo", "dormancy"]).exit_code == 0
    orders = _live(
        shop,
        "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email = :e",
        e=person,
    )[0][0]
    assert orders > 0
    assert runner.invoke(args=["jobs", "dormancy"]).exit_code == 0
    assert not _live(shop, "SELECT 1 FROM users WHERE email = :e", e=person)  # separated
    with demo.app_context():
        request = make_request(RequestKind.DELETION, email=person, name=None)
        reference = request.reference
        kept_apart = _dormancy_copies()
    client = sign_in(demo, StaffRole.HANDLER)
    page = act(client, reference, "erase").get_data(as_text=True)
    assert "Not done" not in page
    with demo.app_context():
        from rightsdesk.models import ErasureStep

        steps = {s.table_name: s for s in db.session.scalars(select(ErasureStep))}
        assert steps["users"].anonymised == 1 and steps["orders"].state == "done"
        assert steps["orders"].anonymised + steps["orders"].deleted == orders
        assert _dormancy_copies() == kept_apart - 1  # the person's copy went with the restore
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert any("restore" in action for action in actions)
    assert not _live(shop, "SELECT 1 FROM users WHERE email = :e", e=person)  # erased


def _dormancy_copies() -> int:
    from rightsdesk.retention.dormancy import RULE

    return db.session.scalar(
        select(func.count(RetainedRecord.id)).where(RetainedRecord.category == RULE)
    )


def test_demo_dormancy_is_refused_outside_demo_mode(demo, shop):
    """It back-dates notices: on a real install they would not have been sent 40 days ago."""
    demo.config["DEMO"] = False
    refused = demo.test_cli_runner().invoke(args=["demo", "dormancy"])
    assert refused.exit_code == 2 and "demo mode" in refused.output
    with demo.app_context():
        assert db.session.scalar(select(func.count(NoticeCampaign.id))) == 0


def test_the_published_policy_lists_the_dormancy_keep_as_policy(demo):
    """내부 방침에 따른 보존 names the separated dormant accounts and how long they are kept."""
    from rightsdesk.domain.policy import generated_sections
    from rightsdesk.policy.versions import facts
    from tests.helpers import organisation

    organisation(demo)
    with demo.app_context():
        retention = generated_sections(facts(), "ko")["retention"]
    policy_part = retention.split("### 내부 방침에 따른 보존")[1]
    assert "| 휴면 계정(장기 미이용) 분리 보관 | 3년 |" in policy_part
    assert "365일 미이용 시 분리, 30일 전 이메일 안내" in policy_part
    assert "휴면" not in retention.split("### 내부 방침에 따른 보존")[0]  # not under statute
