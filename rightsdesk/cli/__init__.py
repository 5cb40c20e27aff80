"""``rightsdesk …``: the operator's commands, thin wrappers over the services.

One module per command group; :mod:`.common` holds what they share. Bad input gets one line
naming the problem and the accepted values, exit status 2, and nothing is written.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.app import create_app
from rightsdesk.bench import bench_group
from rightsdesk.cli.apikey import apikey_group
from rightsdesk.cli.audit import audit_group
from rightsdesk.cli.check import check_command
from rightsdesk.cli.datamap import datamap_group
from rightsdesk.cli.deadline import deadline_command
from rightsdesk.cli.delivery import connectors_group, webhooks_group
from rightsdesk.cli.demo import demo_command
from rightsdesk.cli.dormancy import dormancy_group
from rightsdesk.cli.holidays import holidays_group
from rightsdesk.cli.jobs import jobs_group
from rightsdesk.cli.keys import keys_group
from rightsdesk.cli.letters import letters_group
from rightsdesk.cli.mail import mail_group
from rightsdesk.cli.notify import notify_group
from rightsdesk.cli.org import org_group
from rightsdesk.cli.policy import campaigns_group, policy_group
from rightsdesk.cli.requests import requests_group
from rightsdesk.cli.staff import staff_group
from rightsdesk.cli.worker import worker_command
from rightsdesk.config import ConfigError
from rightsdesk.domain.profiles import ProfileError

COMMANDS = (
    campaigns_group,
    bench_group,
    datamap_group,
    notify_group,
    apikey_group,
    webhooks_group,
    connectors_group,
    worker_command,
    deadline_command,
    requests_group,
    audit_group,
    holidays_group,
    org_group,
    policy_group,
    demo_command,
    mail_group,
    jobs_group,
    dormancy_group,
    letters_group,
    staff_group,
    keys_group,
    check_command,
)


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as error:  # a setting that cannot work: one line, exit 2
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(2) from None


class RightsdeskGroup(FlaskGroup):
    """The ``rightsdesk`` command: a database that is not migrated yet, or a profiles file the
    settings refuse (``path:line: problem``, exit 2), gets one clear line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProfileError as error:  # RIGHTSDESK_PROFILES_FILE goes beyond the law, or is broken
            click.echo(str(error), err=True)
            ctx.exit(2)
        except (OperationalError, ProgrammingError) as error:
            if _looks_unmigrated(error):
                click.echo(
                    "Error: the database has no rightsdesk tables yet: run 'rightsdesk db upgrade'",
                    err=True,
                )
                ctx.exit(1)
            raise


def _looks_unmigrated(error: Exception) -> bool:
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


main = RightsdeskGroup(
    name="rightsdesk",
    create_app=_create_app,
    add_version_option=True,
    set_debug_flag=False,
    load_dotenv=False,
    help="rightsdesk: data-subject rights requests to the letter of the law.",
)
for _command in COMMANDS:
    main.add_command(_command)
