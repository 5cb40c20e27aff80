"""``rightsdesk dormancy restore EMAIL``: a dormant account comes back into the live table;
``dormancy index``: index accounts separated before they were indexed by address."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor
from rightsdesk.core.clock import utcnow

dormancy_group = AppGroup("dormancy", help="Dormant accounts (the retention file's [dormancy]).")


@dormancy_group.command("restore")
@click.argument("email")
def dormancy_restore(email: str) -> None:
    """Put the separated account of EMAIL back into the live table and destroy its copy."""
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.retention.restore import RestoreError, restore_account
    from rightsdesk.systems.configured import FulfilmentError

    try:
        done = restore_account(email, actor=actor(), now=utcnow())
    except (RestoreError, FulfilmentError, RetentionError) as error:
        raise InputError(str(error)) from None
    click.echo(f"restored {done.rows} row(s) into {done.system}.{done.table}")


@dormancy_group.command("index")
def dormancy_index() -> None:
    """Index dormant accounts separated before rightsdesk indexed them by address (once)."""
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.retention.restore import RestoreError, index_accounts

    try:
        count = index_accounts()
    except (RestoreError, RetentionError) as error:
        raise InputError(str(error)) from None
    click.echo(f"indexed {count} separated account(s)")
