"""The operator's choices within a jurisdiction: the region whose public holidays apply (EU
Member State, UK nation) and the supervisory authority its refusal notices name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import (
    authority_text,
    current_organisation,
    forget_jurisdiction_settings,
    jurisdiction_setting,
    settings,
)
from rightsdesk.domain.identity import strip_control_characters
from rightsdesk.domain.profiles import Profile, RegionKind
from rightsdesk.domain.regions import check_region
from rightsdesk.extensions import db
from rightsdesk.models import JurisdictionSetting
from rightsdesk.requests.deadlines import RecomputeResult, recompute_open_deadlines


def check_choice(code: str, region: str | None) -> tuple[Profile, str | None]:
    """The jurisdiction's profile and the normalised region; an unknown jurisdiction or region
    is a ValueError listing the valid codes (nothing is written)."""
    profile = settings().profile(code)
    if region is None:
        return profile, None
    return profile, check_region(profile, region)


def set_jurisdiction(
    code: str,
    *,
    region: str | None = None,
    authority_name: str | None = None,
    authority_contact: str | None = None,
    actor: Actor,
    now: datetime,
) -> RecomputeResult:
    """Store the operator's choices for ``code`` (``None`` leaves a value as it is) and re-date
    the open requests: a new calendar may move their due dates."""
    profile, region = check_choice(code, region)
    row = _row(profile.code)
    if region is not None:
        row.region = region
    if authority_name is not None:
        row.authority_name = _clean(authority_name)
    if authority_contact is not None:
        row.authority_contact = _clean(authority_contact)
    db.session.flush()
    forget_jurisdiction_settings()
    audit.record(
        "org.jurisdiction",
        actor=actor,
        now=now,
        data={"jurisdiction": profile.code, "region": row.region, "authority": row.authority_name},
    )
    result = recompute_open_deadlines(actor=actor, now=now)
    db.session.commit()
    return result


def describe(profile: Profile) -> dict[str, str | None]:
    """What applies in ``profile`` now: calendar, zone, authority (configured or default)."""
    chosen = jurisdiction_setting(profile.code)
    parts = (profile.calendar_country, profile.calendar_subdivision)
    return {
        "jurisdiction": profile.code,
        "region": chosen.region if chosen else None,
        "calendar": "-".join(p for p in parts if p) or "weekends only",
        "timezone": profile.timezone or None,
        "authority": authority_text(profile, "en"),
    }


def takes_region(profile: Profile) -> bool:
    return profile.region_kind is not RegionKind.NONE


def _row(code: str) -> JurisdictionSetting:
    row = db.session.scalar(
        select(JurisdictionSetting).where(JurisdictionSetting.jurisdiction == code).limit(1)
    )
    if row is None:
        row = JurisdictionSetting(organisation_id=current_organisation().id, jurisdiction=code)
        db.session.add(row)
    return row


def _clean(value: str) -> str | None:
    return strip_control_characters(value).strip() or None
