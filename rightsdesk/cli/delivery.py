"""``rightsdesk webhooks send`` and ``rightsdesk connectors send``: deliveries the worker
also makes.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import worker_name
from rightsdesk.core.clock import utcnow

webhooks_group = AppGroup("webhooks", help="Status webhooks to host applications.")


@webhooks_group.command("send")
@click.option("--retry-now", is_flag=True, help="Send what waits on a back-off now.")
def webhooks_send(retry_now: bool) -> None:
    """Deliver due webhooks once, in order per request."""
    from rightsdesk.delivery import webhooks

    if retry_now:
        click.echo(f"{webhooks.retry_now(now=utcnow())} waiting webhook(s) made due")
    report = webhooks.deliver_due(now=utcnow(), worker=worker_name())
    click.echo(f"delivered {report.sent}, waiting to retry {report.retrying}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


connectors_group = AppGroup("connectors", help="Jobs for the data map's webhook systems.")


def connector_round(worker: str) -> int:
    """Post the due jobs of the data map's webhook systems once; how many were attempted."""
    from rightsdesk.delivery import connectors

    report = connectors.deliver_due(now=utcnow(), worker=worker)
    if report.attempted:
        click.echo(
            f"connector jobs: done {report.sent}, retrying {report.retrying}, "
            f"failed {report.failed}"
        )
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    return report.attempted


@connectors_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as jobs become due.")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--retry-now", is_flag=True, help="Send what waits on a back-off now.")
def connectors_send(loop: bool, interval: float, retry_now: bool) -> None:
    """Post the due jobs to the webhook systems (the worker does this too)."""
    import time

    from rightsdesk.delivery import connectors

    if retry_now:
        click.echo(f"{connectors.retry_now(now=utcnow())} waiting job(s) made due")
    name = worker_name()
    while True:
        if not connector_round(name) and not loop:
            click.echo("no connector job was due")
        if not loop:
            break
        time.sleep(interval)
