"""``rightsdesk demo load``: the demo organisation of ``make run``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from rightsdesk.cli.common import InputError, actor
from rightsdesk.core.clock import utcnow


@click.command("demo")
@click.argument("action", type=click.Choice(["load", "dormancy"]))
@with_appcontext
def demo_command(action: str) -> None:
    """load: the demo organisation and sample requests (once; a second run does nothing).
    dormancy: the demo shop's dormant accounts told 40 days ago (once), so that `rightsdesk jobs
    dormancy` separates them today and `rightsdesk dormancy restore` can bring one back."""
    from flask import current_app

    from rightsdesk.demo.loader import DEMO_LOGIN, load_demo

    if current_app.config["ENV"] == "production":
        raise InputError("the demo is never loaded in production (RIGHTSDESK_ENV=production)")
    if action == "dormancy":
        _dormancy_history()
        return
    created = load_demo(now=utcnow(), actor=actor())
    if created:
        click.echo(f"demo loaded: {created} sample request(s)")
    else:
        click.echo("demo already loaded: nothing to do")
    click.echo(
        f"demo admin console: {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]} at /admin/ "
        "(a demo account: never use it for real data)"
    )


def _dormancy_history() -> None:
    from rightsdesk.demo.dormancy_history import TOLD_DAYS_AGO, NoHistory, make_dormancy_history

    try:
        told = make_dormancy_history(now=utcnow(), actor=actor())
    except NoHistory as error:
        raise InputError(str(error)) from None
    click.echo(f"{told} dormant account(s) told {TOLD_DAYS_AGO} days ago (see /dev/mailbox)")
