"""The demo's dormancy history: the notice its dormant accounts were sent 40 days ago.

The demo shop is made today, so without a past the dormancy policy (``demo_retention.toml``)
could only tell its dormant accounts and then wait the 30-day notice period. This runs the real
dormancy job and notice campaign as of 40 days ago — the campaign, its recipients read from the
shop, each notice delivered to the demo mailbox at that time — so that ``rightsdesk jobs
dormancy`` separates them today and ``rightsdesk dormancy restore`` can bring one back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from rightsdesk.core.actors import Actor
from rightsdesk.extensions import db
from rightsdesk.models import NoticeCampaign
from rightsdesk.policy import campaigns
from rightsdesk.retention.dormancy import PURPOSE
from rightsdesk.retention.jobs import run_jobs
from rightsdesk.systems.configured import configured_datamap, current_schedule, system_engine

TOLD_DAYS_AGO = 40


class NoHistory(ValueError):
    """Nothing to make: the reason, in one line."""


def make_dormancy_history(*, now: datetime, actor: Actor) -> int:
    """Tell the demo shop's dormant accounts as of ``TOLD_DAYS_AGO`` days ago; returns how many
    notices were delivered. Refused when dormancy is off or a dormancy notice exists already."""
    policy = current_schedule().dormancy
    if policy is None or not policy.enabled:
        raise NoHistory("dormancy is off: set RIGHTSDESK_RETENTION_FILE to a file with [dormancy]")
    if db.session.scalar(select(NoticeCampaign.id).where(NoticeCampaign.purpose == PURPOSE)):
        raise NoHistory("the demo's dormancy notices exist already: nothing to do")
    past = now - timedelta(days=TOLD_DAYS_AGO)
    run_jobs(["dormancy"], now=past, actor=actor)
    campaign = db.session.scalars(
        select(NoticeCampaign).where(NoticeCampaign.purpose == PURPOSE)
    ).first()
    if campaign is None:
        raise NoHistory("no account was dormant: no notice was sent")
    system = configured_datamap().system(policy.system)
    with system_engine(system) as engine:
        while campaigns.read_batch(campaign.id, engine, batch=500) is not None:
            pass
    report = campaigns.send_due(now=past, batch=10_000, clock=lambda: past, sleep=lambda _s: None)
    return report.sent

