"""``rightsdesk audit verify|anchor``: recompute the keyed, hash-chained audit trail, and export
its head for storage elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor
from rightsdesk.core.clock import utcnow

audit_group = AppGroup("audit", help="The hash-chained audit trail.")


def _read_anchor(value: str):
    """``--anchor``: the line ``audit anchor`` printed, or a file holding it."""
    from rightsdesk.core.audit import parse_anchor

    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        return parse_anchor(text)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"--anchor: {error}") from None


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_text",
    metavar="LINE|FILE",
    help="An anchor printed by 'audit anchor' (or a file holding it): the chain must hold it.",
)
def verify_command(anchor_text: str | None) -> None:
    """Recompute the chain; exit 1 if any event was edited or deleted."""
    from rightsdesk.core.audit import verify_chain

    anchor = _read_anchor(anchor_text) if anchor_text else None
    report = verify_chain(anchor=anchor)
    if report.ok:
        held = f", holds the anchor at event {anchor.seq}" if anchor else ""
        click.echo(f"OK: {report.events} events, chain intact{held}, head {report.head_hash}")
        if report.unkeyed:
            click.echo(f"  {report.unkeyed} events written before the chain was keyed, sealed")
        return
    click.echo(f"FAILED: {len(report.problems)} problem(s) in {report.events} events")
    for problem in report.problems:
        click.echo(f"  {problem}")
    sys.exit(1)


@audit_group.command("anchor")
def anchor_command() -> None:
    """Record an 'audit.anchored' event and print the chain's head as one line: store it
    off-site; 'audit verify --anchor LINE' later shows whether the chain was rewritten."""
    from rightsdesk.core.audit import anchor, verify_chain

    report = verify_chain()
    if not report.ok and not all("not sealed yet" in p for p in report.problems):
        click.echo("refused: the chain is broken now (see 'rightsdesk audit verify')", err=True)
        sys.exit(1)
    click.echo(anchor(actor=actor(), now=utcnow()).line())
