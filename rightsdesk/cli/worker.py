"""``rightsdesk worker``: the background worker that files submissions and sends what is
due.
"""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from rightsdesk.cli.common import file_submissions, worker_name
from rightsdesk.cli.delivery import connector_round
from rightsdesk.core.clock import utcnow


@click.command("worker")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@with_appcontext
def worker_command(interval: float, once: bool) -> None:
    """The background worker, until stopped: files the web form's submissions as requests, sends
    the mail outbox, the webhooks and connector jobs, notice campaigns and the retention jobs."""
    from rightsdesk.cli.jobs import worker_tick as retention_tick
    from rightsdesk.cli.policy import campaign_round

    name = worker_name()
    while True:
        # Web-form submissions first, so their verification mail goes out in this round.
        filed = file_submissions(seconds=None if once else 10)
        for problem in filed.failed:
            click.echo(f"  {problem}", err=True)
        _deliver_round(name)
        connector_round(name)
        campaign_round(name)  # notice campaigns: read recipients, send at their rate
        retention_tick(check_every=0 if once else 60)  # the due retention jobs, hourly
        if once:
            break
        if not filed.attempted:  # a backlog of submissions is worked off without pausing
            time.sleep(interval)


def _deliver_round(name: str) -> None:
    """Send the due mail of the outbox and the due status webhooks once."""
    from rightsdesk.delivery import outbox, recipient_notices, webhooks

    mail = outbox.deliver_due(now=utcnow(), worker=name)
    hooks = webhooks.deliver_due(now=utcnow(), worker=name)
    told = recipient_notices.deliver_due(now=utcnow(), worker=name)  # correction notices
    hooks.sent, hooks.retrying, hooks.errors = (
        hooks.sent + told.sent,
        hooks.retrying + told.retrying,
        hooks.errors + told.errors,
    )
    if mail.attempted or hooks.attempted:
        click.echo(
            f"mail: sent {mail.sent}, retrying {mail.retrying}, failed {mail.failed}; "
            f"webhooks: delivered {hooks.sent}, retrying {hooks.retrying}"
        )
    for error in mail.errors + hooks.errors:
        click.echo(f"  {error}", err=True)
