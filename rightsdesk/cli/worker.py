"""``rightsdesk worker``: the background worker that files submissions and sends what is
due.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from rightsdesk.cli.common import file_submissions, worker_name
from rightsdesk.cli.delivery import connector_round
from rightsdesk.core.clock import utcnow
from rightsdesk.core.jobqueue import crash_reason
from rightsdesk.extensions import db


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
        filed = _survive("filing", file_submissions, seconds=None if once else 10)
        for problem in filed.failed if filed else ():
            click.echo(f"  {problem}", err=True)
        _survive("mail and webhooks", _deliver_round, name)
        _survive("connector jobs", connector_round, name)
        _survive("campaigns", campaign_round, name)  # read recipients, send at their rate
        _survive("retention", retention_tick, check_every=0 if once else 60)  # hourly
        if once:
            break
        if not (filed and filed.attempted):  # a backlog is worked off without pausing
            time.sleep(interval)


def _survive(duty: str, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one duty of the round; whatever it raises is reported on standard error (type and
    first line only) and the round goes on: one failing duty never stops the others or the
    worker. Items that fail are already set aside by the queue (:mod:`rightsdesk.core.jobqueue`);
    this catches what fails around them (a database that went away, a bug)."""
    try:
        return run(*args, **kwargs)
    except Exception as error:  # the loop outlives any one failure
        db.session.rollback()
        click.echo(f"worker: {duty} failed, going on: {crash_reason(error)}", err=True)
        return None


def _deliver_round(name: str) -> None:
    """Send the due mail of the outbox and the due status webhooks once."""
    from rightsdesk.delivery import outbox, webhooks

    mail = outbox.deliver_due(now=utcnow(), worker=name)
    hooks = webhooks.deliver_due(now=utcnow(), worker=name)
    if mail.attempted or hooks.attempted:
        click.echo(
            f"mail: sent {mail.sent}, retrying {mail.retrying}, failed {mail.failed}; "
            f"webhooks: delivered {hooks.sent}, retrying {hooks.retrying}"
        )
    for error in mail.errors + hooks.errors:
        click.echo(f"  {error}", err=True)
