"""``rightsdesk audit verify``: recompute the hash-chained audit trail."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

audit_group = AppGroup("audit", help="The hash-chained audit trail.")


@audit_group.command("verify")
def verify_command() -> None:
    """Recompute the chain; exit 1 if any event was edited or deleted."""
    from rightsdesk.core.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"OK: {report.events} events, chain intact, head {report.head_hash}")
        return
    click.echo(f"FAILED: {len(report.problems)} problem(s) in {report.events} events")
    for problem in report.problems:
        click.echo(f"  {problem}")
    sys.exit(1)
