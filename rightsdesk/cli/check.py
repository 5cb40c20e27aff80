"""``rightsdesk check --deploy``: is this deployment safe to run? One line per problem."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from rightsdesk.cli.common import InputError, choose_language, language_option


@click.command("check")
@click.option("--deploy", is_flag=True, help="Check the deployment (required for now).")
@click.option(
    "--worker-minutes",
    type=click.IntRange(1, 10080),
    default=60,
    show_default=True,
    help="A worker must have been seen within this many minutes.",
)
@click.option("--no-scan", is_flag=True, help="Skip decrypting every stored item.")
@language_option
@with_appcontext
def check_command(deploy: bool, worker_minutes: int, no_scan: bool, language: str | None) -> None:
    """One line per problem with its fix (SERIOUS or warning); exit 1 if any is serious.
    Never prints a secret."""
    from rightsdesk.core.clock import utcnow
    from rightsdesk.core.deploy_check import Options, run

    if not deploy:
        raise InputError("say what to check: rightsdesk check --deploy")
    options = Options(worker_minutes=worker_minutes, scan_stored=not no_scan)
    with force_locale(choose_language(current_app.config, language)):
        findings = run(options, now=utcnow())
        for finding in findings:
            label = "SERIOUS" if finding.serious else "warning"
            click.echo(f"{label}\t{finding.problem} → {finding.fix}")
    serious = sum(f.serious for f in findings)
    click.echo(f"{serious} serious, {len(findings) - serious} warning(s)")
    if serious:
        sys.exit(1)
