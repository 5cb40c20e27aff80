# ruff: noqa: F811  (the shop fixtures are shared with test_retention by import)
"""The optional dormancy policy: notice through a campaign, separation after the notice period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from rightsdesk.extensions import db
from rightsdesk.models import CampaignRecipient, DestructionRecord, NoticeCampaign, RetainedRecord
from rightsdesk.services import campaigns
from rightsdesk.services.downloads import fernet_for
from rightsdesk.services.fulfilment import configured_datamap, system_engine
from rightsdesk.services.retention_jobs import run_jobs

from .test_retention import SEOUL, mapped, shop, shop_count, shop_url  # noqa: F401

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
    mapped, shop, tmp_path
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
        # The same day again: the window was told; nobody is separated before 30 days.
        again = run_jobs(["dormancy"], now=now, actor="test")
        assert again.count == 0
        assert db.session.scalar(select(db.func.count()).select_from(NoticeCampaign)) == 1

        later = now + timedelta(days=31)
        report = run_jobs(["dormancy"], now=later, actor="test")
        separated = {i.method: i.count for job in report.jobs for i in job.items}
        assert separated["separate"] == len(expected)
        kept = db.session.scalars(
            select(RetainedRecord).where(RetainedRecord.category == "dormancy")
        ).all()
        cipher = fernet_for("RETAINED_KEY", b"rightsdesk.retained")
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
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [r[0] for r in connection.execute(text(sql), params)]
    engine.dispose()
    return rows
