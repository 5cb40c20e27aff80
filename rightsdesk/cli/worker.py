"""``rightsdesk worker``: the background worker that files submissions and sends what is
due.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from rightsdesk.cli.common import file_submissions, worker_name
from rightsdesk.cli.delivery import connector_round
from rightsdesk.core import heartbeat, stopping
from rightsdesk.core.clock import utcnow
from rightsdesk.core.jobqueue import crash_reason
from rightsdesk.extensions import db


@click.command("worker")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@with_appcontext
def worker_command(interval: float, once: bool) -> None:
    """The background worker, until stopped: files the web form's submissions as requests, sends
    the mail outbox, the webhooks and connector jobs, notice campaigns and the retention jobs.
    SIGTERM (or Ctrl-C): it finishes the item in hand, hands back what it claimed, and exits."""
    from rightsdesk.cli.jobs import worker_tick as retention_tick
    from rightsdesk.cli.policy import campaign_round

    name = worker_name()
    stopping.reset()
    if not once:
        _stop_on_signals()
    alive = _Heartbeat(name)
    duties = (
        ("mail and webhooks", lambda: _deliver_round(name)),
        ("connector jobs", lambda: connector_round(name)),
        ("access packages", _package_round),  # built once the last app has answered
        ("campaigns", lambda: campaign_round(name)),  # read recipients, send at their rate
        ("retention", lambda: retention_tick(check_every=0 if once else 60)),  # hourly
    )
    while not stopping.requested():
        _survive("heartbeat", alive.beat)
        # Web-form submissions first, so their verification mail goes out in this round.
        filed = _survive("filing", file_submissions, seconds=None if once else 10)
        for problem in filed.failed if filed else ():
            click.echo(f"  {problem}", err=True)
        for duty, run in duties:
            if stopping.requested():
                break
            _survive(duty, run)
        if once:
            break
        if not (filed and filed.attempted):  # a backlog is worked off without pausing
            stopping.pause(interval)
    if stopping.requested():
        heartbeat.stopped(name, now=utcnow())
        click.echo(f"worker {name}: stopped, unfinished claims handed back", err=True)


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT ask the loop to stop after the item in hand (a second one kills)."""

    def handle(signum, _frame) -> None:
        if stopping.requested():
            raise SystemExit(128 + signum)
        stopping.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


class _Heartbeat:
    """Writes the worker's heartbeat at most every :data:`heartbeat.EVERY`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = utcnow()
        self.last: float | None = None

    def beat(self) -> None:
        if self.last is not None and time.monotonic() - self.last < heartbeat.EVERY.seconds:
            return
        heartbeat.beat(self.name, now=utcnow(), started_at=self.started)
        if self.last is None:
            heartbeat.prune(utcnow())
            db_commit()
        self.last = time.monotonic()


def db_commit() -> None:
    from rightsdesk.extensions import db

    db.session.commit()


def _survive(duty: str, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one duty of the round; whatever it raises is reported on standard error (type and
    first line only) and the round goes on: one failing duty never stops the others or the
    worker. Items that fail are already set aside by the queue (:mod:`rightsdesk.core.jobqueue`);
    this catches what fails around them (a database that went away, a bug)."""
    try:
        return run(*args, **kwargs)
    except Exception as error:  # the loop outlives any one failure
        with contextlib.suppress(Exception):  # the database may be what failed
            db.session.rollback()
        click.echo(f"worker: {duty} failed, going on: {crash_reason(error)}", err=True)
        return None


def _package_round() -> None:
    """Build the access packages whose apps have all answered since staff pressed Collect."""
    from rightsdesk.fulfilment.access import build_waiting_packages

    for reference in build_waiting_packages(now=utcnow()):
        click.echo(f"access package offered for {reference}")


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
