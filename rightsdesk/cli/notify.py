"""``rightsdesk notify …``: mail to staff."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from rightsdesk.core.context import settings
from rightsdesk.requests.digest import gather_digests, queue_digests

notify_group = AppGroup("notify", help="Mail to staff.")


@notify_group.command("digest")
@click.option("--dry-run", is_flag=True, help="Only print who would get a digest; queue nothing.")
@click.option(
    "--today",
    "today_value",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="Count as of this local day instead of today (for tests).",
)
def digest_command(dry_run: bool, today_value: datetime | None) -> None:
    """Mail each admin and handler the open requests overdue or due within two business days."""
    now = datetime.now(UTC)
    today = today_value.date() if today_value else now.astimezone(settings().tz).date()
    digests = gather_digests(today)
    for digest in digests:
        click.echo(
            f"{digest.staff.email}\t{len(digest.soon)} due soon\t{len(digest.overdue)} overdue"
        )
    if dry_run:
        click.echo(f"dry run: {len(digests)} digest(s) would be queued; nothing was queued")
        return
    queue_digests(digests, today=today, now=now)
    click.echo(f"queued {len(digests)} digest(s)")
