"""``rightsdesk staff create|list``: staff accounts of the admin console."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor, input_errors
from rightsdesk.core.clock import utcnow
from rightsdesk.extensions import db

staff_group = AppGroup("staff", help="Staff accounts of the admin console.")


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help="admin, handler or auditor")
@click.option("--name", default=None, help="Display name (default: the e-mail address).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
def staff_create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create a staff account; the password is prompted for (never an argument)."""
    from rightsdesk.organisation.staff import StaffError, create_staff

    staff_role = _role(role)
    password = _password(stdin=password_stdin)
    with input_errors():
        try:
            user = create_staff(
                email=email,
                name=name or email,
                role=staff_role,
                password=password,
                actor=actor(),
                now=utcnow(),
            )
        except StaffError as error:
            raise InputError(str(error)) from None
    click.echo(f"created {user.role.value} {user.email}")


def _role(value: str):
    from rightsdesk.models import StaffRole

    try:
        return StaffRole(value.strip().lower())
    except ValueError:
        accepted = ", ".join(r.value for r in StaffRole)
        raise InputError(f"unknown role {value!r}; accepted: {accepted}") from None


def _password(*, stdin: bool) -> str:
    """One line of standard input, or typed twice at a prompt that does not echo it."""
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@staff_group.command("list")
def staff_list() -> None:
    """One line per account: e-mail, role, active, two-step."""
    from sqlalchemy import select

    from rightsdesk.models import StaffUser

    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        active = "active" if user.active else "inactive"
        totp = "totp" if user.totp_enabled else "-"
        click.echo(f"{user.email}\t{user.role.value}\t{active}\t{totp}")
