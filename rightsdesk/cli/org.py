"""``rightsdesk org setup``: the operator and its privacy officer."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import force_locale

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
@click.option("--officer-title", default=None, help="직위 (optional)")
@click.option("--officer-department", default=None, help="소속 부서 (optional)")
def org_setup(slug: str, name_ko: str, name_en: str, **officer: str | None) -> None:
    """Create or update the organisation. An empty name or officer field is refused (exit 2)."""
    from rightsdesk.domain.identity import normalise_email
    from rightsdesk.organisation.setup import check_identity, set_up_organisation

    with force_locale("en"), input_errors():
        check_identity(slug=slug, name_ko=name_ko, name_en=name_en, **officer)
        officer["officer_email"] = normalise_email(officer["officer_email"] or "")
    organisation = set_up_organisation(
        slug=slug, name_ko=name_ko, name_en=name_en, actor=actor(), now=utcnow(), **officer
    )
    click.echo(f"organisation {organisation.slug}: {organisation.name_ko} / {organisation.name_en}")
