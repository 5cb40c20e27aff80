"""Notice campaigns: every user of the demo shop gets the policy notice exactly once, over real
SMTP on loopback, whatever crashes or races happen on the way."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from rightsdesk.demo import shop as demo_shop
from rightsdesk.domain.policy import ChangeKind
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent, CampaignRecipient, NoticeCampaign, StaffRole
from rightsdesk.policy import campaigns
from rightsdesk.policy import versions as policy
from rightsdesk.systems.configured import system_engine
from tests.helpers import SmtpServer, csrf, make_app, organisation, sign_in

DEMO_MAP = Path(demo_shop.__file__).with_name("demo_datamap.toml")
USERS = 40


@pytest.fixture
def shop(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    demo_shop.create_demo_shop(url, users=USERS)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
    return url


@pytest.fixture
def mapped_app(database_url, smtp_port, tmp_path, shop):
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        MAIL_TIMEOUT=5,
        BASE_URL="http://rightsdesk.test",
        CAMPAIGN_RATE_PER_MINUTE=60_000,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def shop_sql(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    with engine.begin() as connection:
        result = connection.execute(text(sql), params)
        rows = result.all() if result.returns_rows else []
    engine.dispose()
    return rows


def shop_emails(url: str) -> set[str]:
    return {row[0] for row in shop_sql(url, "SELECT email FROM users")}


def received(smtp: SmtpServer) -> list[str]:
    return [rcpt for envelope in smtp.envelopes for rcpt in envelope.rcpt_tos]


def publish_material(app) -> int:
    """An admin publishes a material change at the earliest allowed date; the campaign id."""
    organisation(app)
    with app.app_context():
        now = datetime.now(UTC)
        earliest = policy.notice_for(ChangeKind.MATERIAL, now).earliest_effective
        version = policy.create_version(
            policy.Draft(
                label="next",
                change="material",
                effective_date=earliest,
                body_ko="# 개인정보 처리방침\n\n제3자 제공이 바뀝니다.\n",
                body_en="# Privacy policy\n\nProvision to third parties changes.\n",
                summary_ko="배송 위탁 업체가 바뀝니다.",
            ),
            actor="test",
            now=now,
        )
        result = policy.publish(version, actor="staff:1", now=now)
        assert result.campaign is not None, result.warning
        return result.campaign.id


def run_until_done(app, worker: str = "w1", rounds: int = 50) -> None:
    with app.app_context():
        for _ in range(rounds):
            campaigns.work(now=datetime.now(UTC), worker=worker, read_seconds=5)
            open_ = db.session.scalar(
                select(func.count()).where(NoticeCampaign.state != campaigns.DONE)
            )
            db.session.commit()
            if not open_:
                return
    raise AssertionError("the campaign did not finish")


def test_every_demo_shop_user_gets_the_notice_once(mapped_app, shop, smtp):
    # One user erased (placeholder address) and several without any marketing consent.
    shop_sql(shop, "UPDATE users SET email = 'erased-77@erased.invalid' WHERE id = 5")
    shop_sql(shop, "DELETE FROM marketing_consents WHERE user_id IN (1, 2, 3)")
    expected = shop_emails(shop) - {"erased-77@erased.invalid"}
    opted_out = {
        row[0]
        for row in shop_sql(
            shop,
            "SELECT email FROM users WHERE id NOT IN (SELECT user_id FROM marketing_consents)",
        )
    } - {"erased-77@erased.invalid"}
    assert len(opted_out) >= 3
    campaign_id = publish_material(mapped_app)
    run_until_done(mapped_app)
    rcpts = received(smtp)
    assert sorted(rcpts) == sorted(expected) and len(rcpts) == USERS - 1
    assert opted_out <= set(rcpts)
    body = smtp.messages[0].get_body(preferencelist=("plain",)).get_content()
    legal_notice = ("광고가 아닙니다", "not advertising")  # the msgid until it is translated
    assert any(words in body for words in legal_notice)
    assert "http://rightsdesk.test/privacy" in body
    assert smtp.messages[0]["Auto-Submitted"] == "auto-generated"
    with mapped_app.app_context():
        campaign = db.session.get(NoticeCampaign, campaign_id)
        assert (campaign.queued, campaign.sent, campaign.bounced, campaign.failed) == (
            USERS - 1,
            USERS - 1,
            0,
            0,
        )
        assert campaign.state == "done" and campaign.source == "shop.users.email"
        assert campaign.first_sent_at <= campaign.last_sent_at <= campaign.finished_at
        assert campaign.text_ko.strip() == body.replace("\r\n", "\n").strip()  # the exact text
        finished = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "campaign.finished")
        )
        assert '"sent":39' in finished.data
    # The console shows the counts.
    admin = sign_in(mapped_app, StaffRole.ADMIN)
    page = admin.get("/admin/policy").get_data(as_text=True)
    assert f'<td class="sent">{USERS - 1}</td>' in page
    assert f'<td class="queued">{USERS - 1}</td>' in page
    evidence = admin.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert any(words in evidence for words in legal_notice) and "shop.users.email" in evidence


def test_a_reader_killed_midway_is_continued_without_repeats(mapped_app, shop, smtp):
    campaign_id = publish_material(mapped_app)
    with mapped_app.app_context():
        source = campaigns.IdentitySource("shop", "users", "email")
        system = policy_system()
        with system_engine(system) as engine:
            assert campaigns.read_batch(campaign_id, engine, batch=7) == 7
            assert campaigns.read_batch(campaign_id, engine, batch=7) == 7
            # Killed after reading a batch but before committing it: that work is lost.
            campaign = db.session.get(NoticeCampaign, campaign_id)
            db.session.add(CampaignRecipient(campaign_id=campaign_id, email="x@example.com"))
            campaign.cursor = '"999"'
            db.session.rollback()
        db.session.remove()  # the process is gone
        assert source.label == "shop.users.email"
    run_until_done(mapped_app, worker="w2")
    rcpts = received(smtp)
    assert len(rcpts) == len(set(rcpts)) == USERS
    assert set(rcpts) == shop_emails(shop)
    with mapped_app.app_context():
        campaign = db.session.get(NoticeCampaign, campaign_id)
        assert campaign.queued == campaign.sent == USERS


def policy_system():
    from rightsdesk.systems.configured import configured_datamap

    return configured_datamap().system("shop")


def test_two_readers_racing_queue_each_user_once(mapped_app, shop, smtp):
    campaign_id = publish_material(mapped_app)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with mapped_app.app_context(), system_engine(policy_system()) as engine:
                barrier.wait()
                for _ in range(40):
                    campaigns.read_batch(campaign_id, engine, batch=5)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with mapped_app.app_context():
        campaign = db.session.get(NoticeCampaign, campaign_id)
        count = db.session.scalar(
            select(func.count()).where(CampaignRecipient.campaign_id == campaign_id)
        )
        assert campaign.state == "sending" and campaign.queued == count == USERS


def test_two_senders_at_once_send_each_message_once(mapped_app, shop, smtp):
    campaign_id = publish_material(mapped_app)
    with mapped_app.app_context():
        campaigns.read_due(worker="reader", seconds=10)
    errors: list[BaseException] = []

    def sender(name: str) -> None:
        try:
            with mapped_app.app_context():
                for _ in range(30):
                    campaigns.send_due(now=datetime.now(UTC), batch=4)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(f"s{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rcpts = received(smtp)
    assert len(rcpts) == len(set(rcpts)) == USERS
    with mapped_app.app_context():
        campaign = db.session.get(NoticeCampaign, campaign_id)
        assert (campaign.sent, campaign.state) == (USERS, "done")


class RefusingSmtp(SmtpServer):
    """Refuses one address for good (a bounce) and another with a permanent 554 on RCPT."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_refused_recipients_count_as_bounced(ctx, smtp_port):
    server = RefusingSmtp(smtp_port)
    server.start()
    try:
        now = datetime.now(UTC)
        texts = campaigns.Texts({"ko": "휴면 안내"}, {"ko": "30일 뒤 분리 보관됩니다."}, {})
        campaign = campaigns.start_campaign(
            purpose="dormancy",
            texts=texts,
            recipients=[
                "a@example.com",
                ("B@Example.com", "en"),
                "a@example.com",  # twice: once
                "erased-1@erased.invalid",  # skipped
                "nobody@example.com",
                "",
            ],
            actor="system:retention",
            now=now,
            rate_per_minute=60_000,
        )
        db.session.commit()
        assert campaign.queued == 3 and campaign.state == "sending"
        report = campaigns.send_due(now=now)
        assert (report.sent, report.bounced) == (2, 1)
        db.session.refresh(campaign)
        assert (campaign.sent, campaign.bounced, campaign.failed) == (2, 1, 0)
        assert campaign.state == "done"
        assert sorted(received(server)) == ["a@example.com", "b@example.com"]
    finally:
        server.stop()


def test_the_rate_holds(ctx, smtp):
    now = datetime.now(UTC)
    texts = campaigns.Texts({"ko": "안내"}, {"ko": "본문"}, {})
    campaigns.start_campaign(
        purpose="dormancy",
        texts=texts,
        recipients=[f"u{i}@example.com" for i in range(12)],
        actor="test",
        now=now,
        rate_per_minute=600,  # one every 100 ms
    )
    db.session.commit()
    started = datetime.now(UTC)
    sent = 0
    while sent < 12:
        sent += campaigns.send_due(now=datetime.now(UTC), batch=5).sent
    elapsed = datetime.now(UTC) - started
    assert elapsed >= timedelta(seconds=1.05), elapsed  # 11 intervals of 100 ms at least
    assert len(received(smtp)) == 12


def test_an_smtp_outage_waits_and_retries(ctx, smtp_port):
    now = datetime.now(UTC)
    texts = campaigns.Texts({"ko": "안내"}, {"ko": "본문"}, {})
    campaign = campaigns.start_campaign(
        purpose="dormancy", texts=texts, recipients=["a@example.com"], actor="t", now=now
    )
    db.session.commit()
    report = campaigns.send_due(now=now)  # nothing listens on the port
    assert (report.retrying, report.sent) == (1, 0)
    server = SmtpServer(smtp_port)
    server.start()
    try:
        assert campaigns.send_due(now=now).sent == 0  # waiting on its back-off
        assert campaigns.send_due(now=now + timedelta(minutes=1)).sent == 1
        db.session.refresh(campaign)
        assert campaign.sent == 1 and received(server) == ["a@example.com"]
    finally:
        server.stop()


def test_publishing_in_the_console_starts_the_campaign(mapped_app, shop, smtp):
    organisation(mapped_app)
    admin = sign_in(mapped_app, StaffRole.ADMIN)
    with mapped_app.app_context():
        earliest = policy.notice_for(ChangeKind.MATERIAL, datetime.now(UTC)).earliest_effective
    response = admin.post(
        "/admin/policy/new",
        data={
            "csrf_token": csrf(admin, "/admin/policy/new"),
            "label": "v9",
            "change": "material",
            "effective_date": earliest.isoformat(),
            "body_ko": "# 방침\n\n[[recipients]]\n",
        },
    )
    location = response.headers["Location"]
    token = csrf(admin, location)
    page = admin.post(f"{location}/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "campaign" in page.get_data(as_text=True).lower() or "캠페인" in page.get_data(
        as_text=True
    )
    run_until_done(mapped_app)
    assert sorted(received(smtp)) == sorted(shop_emails(shop))
    with mapped_app.app_context():
        body = policy.by_label("v9").body_ko
        assert "CJ대한통운" in body and "KG이니시스" in body  # the data map's recipients
