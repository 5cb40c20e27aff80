"""``rightsdesk mail send|ingest``: the outbox, and requests that arrive by e-mail."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, file_submissions, worker_name
from rightsdesk.core.clock import utcnow

mail_group = AppGroup("mail", help="The outbox and inbound e-mail.")


@mail_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as mail becomes due (a worker).")
@click.option(
    "--interval", type=float, default=5.0, show_default=True, help="Seconds between polls."
)
@click.option("--batch", type=int, default=50, show_default=True)
@click.option(
    "--retry-now", is_flag=True, help="Send mail waiting on a back-off now (outage fixed)."
)
@click.option("--max-runs", type=int, default=None, hidden=True)
def mail_send(
    loop: bool, interval: float, batch: int, retry_now: bool, max_runs: int | None
) -> None:
    """Deliver due mail from the outbox; failures wait with back-off and are retried. Web-form
    submissions waiting to be filed are filed first, so their verification mail goes too."""
    from rightsdesk.delivery import outbox

    if retry_now:
        click.echo(f"{outbox.retry_now(now=utcnow())} waiting message(s) made due")
    report = _send_rounds(
        worker_name(), loop=loop, interval=interval, batch=batch, max_runs=max_runs
    )
    if not loop and report.failed:
        sys.exit(1)


def _send_rounds(worker: str, *, loop: bool, interval: float, batch: int, max_runs: int | None):
    """File waiting submissions and send the due mail, once or (``loop``) until ``max_runs``;
    the last round's report."""
    from rightsdesk.delivery import outbox

    runs = 0
    while True:
        file_submissions(seconds=10)
        report = outbox.deliver_due(now=utcnow(), worker=worker, batch=batch)
        runs += 1
        if report.attempted or not loop:
            click.echo(
                f"sent {report.sent}, waiting to retry {report.retrying}, failed {report.failed}"
            )
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        if not loop or (max_runs is not None and runs >= max_runs):
            return report
        if report.attempted < batch:
            time.sleep(interval)


@mail_group.command("ingest")
@click.argument("sources", nargs=-1)
@click.option("--imap", is_flag=True, help="Read unseen mail from RIGHTSDESK_IMAP_HOST.")
def mail_ingest(sources: tuple[str, ...], imap: bool) -> None:
    """Take requests from e-mail: a .eml file, a Maildir, an mbox, '-' (stdin) or IMAP."""
    from rightsdesk.requests.by_email import ingest
    from rightsdesk.requests.mail_parsing import read_source

    if not sources and not imap:
        raise InputError("give a file, Maildir, mbox or '-' for standard input, or --imap")
    counts: dict[str, int] = {}

    def take(label: str, raw: bytes) -> None:
        result = ingest(raw, now=utcnow())
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        click.echo(f"{label}\t{result.outcome}\t{result.reference or '-'}")

    for source in sources:
        try:
            for label, raw in read_source(source):
                take(label, raw)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
            raise InputError(str(error)) from None
    if imap:
        _ingest_imap(take)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    click.echo(summary or "no messages")


def _ingest_imap(take: Callable[[str, bytes], None]) -> None:
    """Unseen IMAP mail; each message is marked seen only once it is stored."""
    from flask import current_app

    from rightsdesk.requests import mail_parsing as inbound

    config = current_app.config
    if not (config.get("IMAP_HOST") and config.get("IMAP_USER")):
        raise InputError(
            "set RIGHTSDESK_IMAP_HOST, RIGHTSDESK_IMAP_USER and RIGHTSDESK_IMAP_PASSWORD"
        )
    account = {
        "host": config["IMAP_HOST"],
        "user": config["IMAP_USER"],
        "password": config.get("IMAP_PASSWORD") or "",
        "mailbox": config["IMAP_MAILBOX"],
    }
    for label, raw in inbound.read_imap(**account):
        take(label, raw)
        inbound.mark_imap_seen(label=label, **account)
