"""``rightsdesk org setup``: the operator and its privacy officer."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import actor, input_errors
from rightsdesk.core.clock import utcnow

org_group = AppGroup("org", help="The operator and its privacy officer.")


@org_group.command("setup")
@click.option("--slug", required=True)
@click.option("--name-ko", required=True)
@click.option("--name-en", required=True)
@click.option("--officer-name", required=True, help="개인정보 보호책임자")
@click.option("--officer-email", required=True)
@click.option("--officer-phone", default=None)
def org_setup(
    slug: str,
    name_ko: str,
    name_en: str,
    officer_name: str,
    officer_email: str,
    officer_phone: str | None,
) -> None:
    """Create or update the organisation."""
    from rightsdesk.domain.identity import normalise_email
    from rightsdesk.organisation.setup import set_up_organisation

    with input_errors():
        email = normalise_email(officer_email)
    organisation = set_up_organisation(
        slug=slug,
        name_ko=name_ko,
        name_en=name_en,
        officer_name=officer_name,
        officer_email=email,
        officer_phone=officer_phone,
        actor=actor(),
        now=utcnow(),
    )
    click.echo(f"organisation {organisation.slug}: {organisation.name_ko} / {organisation.name_en}")
