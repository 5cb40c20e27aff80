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
@click.option("--eu-member-state", default=None, help="EU: the Member State (FR, DE, DE-BY…).")
@click.option("--uk-subdivision", default=None, help="UK: ENG (default), WLS, SCT or NIR.")
def org_setup(
    slug: str,
    name_ko: str,
    name_en: str,
    eu_member_state: str | None,
    uk_subdivision: str | None,
    **officer: str | None,
) -> None:
    """Create or update the organisation. An empty name or officer field, or an unknown Member
    State or subdivision, is refused (exit 2) before anything is written."""
    from rightsdesk.domain.identity import normalise_email
    from rightsdesk.organisation.jurisdictions import check_choice, set_jurisdiction
    from rightsdesk.organisation.setup import check_identity, set_up_organisation

    regions = {"EU": eu_member_state, "UK": uk_subdivision}
    with force_locale("en"), input_errors():
        check_identity(slug=slug, name_ko=name_ko, name_en=name_en, **officer)
        officer["officer_email"] = normalise_email(officer["officer_email"] or "")
        for code, region in regions.items():
            check_choice(code, region)
    organisation = set_up_organisation(
        slug=slug, name_ko=name_ko, name_en=name_en, actor=actor(), now=utcnow(), **officer
    )
    click.echo(f"organisation {organisation.slug}: {organisation.name_ko} / {organisation.name_en}")
    for code, region in regions.items():
        if region is not None:
            set_jurisdiction(code, region=region, actor=actor(), now=utcnow())
            click.echo(f"{code}: region {region.strip().upper()}")


@org_group.command("jurisdiction")
@click.argument("code")
@click.option("--region", default=None, help="EU: Member State (FR, DE-BY…); UK: ENG, WLS, …")
@click.option("--authority-name", default=None, help="Supervisory authority refusals name.")
@click.option("--authority-contact", default=None, help="Its address, site or telephone.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def org_jurisdiction(
    code: str,
    region: str | None,
    authority_name: str | None,
    authority_contact: str | None,
    as_json: bool,
) -> None:
    """Show, or set, the operator's region and supervisory authority within a jurisdiction.

    An unknown jurisdiction, Member State or subdivision is refused (exit 2) with the valid
    codes; a new region re-dates the open requests."""
    import json

    from rightsdesk.core.context import settings
    from rightsdesk.organisation.jurisdictions import check_choice, describe, set_jurisdiction

    with input_errors():
        check_choice(code, region)
    if any(v is not None for v in (region, authority_name, authority_contact)):
        with input_errors():
            result = set_jurisdiction(
                code,
                region=region,
                authority_name=authority_name,
                authority_contact=authority_contact,
                actor=actor(),
                now=utcnow(),
            )
        click.echo(f"re-dated {len(result.changed)} of {result.checked} open request(s)")
    shown = describe(settings().profile(code))
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    for key, value in shown.items():
        click.echo(f"{key}\t{value or '-'}")
