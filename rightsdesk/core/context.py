"""The settings every use-case needs, read once from the app's configuration."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.domain.profiles import Profile, RegionKind, parse_jurisdiction, profiles_with
from rightsdesk.domain.regions import with_region
from rightsdesk.extensions import db
from rightsdesk.models import JurisdictionSetting, Organisation


@dataclass(frozen=True)
class Settings:
    tz: ZoneInfo
    profiles: Mapping[str, Profile]
    default_jurisdiction: str

    def profile(self, code: str | None = None) -> Profile:
        """A named profile, or the default: the console's setting, else the configuration's;
        with the calendar its region setting picks (EU Member State, UK nation)."""
        profile = parse_jurisdiction(code or self.default_code(), self.profiles)
        if profile.region_kind is RegionKind.NONE:
            return profile
        setting = jurisdiction_setting(profile.code)
        return with_region(profile, setting.region if setting else None)

    def default_code(self) -> str:

        try:
            chosen = db.session.scalar(
                select(Organisation.default_jurisdiction).order_by(Organisation.id).limit(1)
            )
        except (OperationalError, ProgrammingError):  # not migrated yet (e.g. `deadline`)
            db.session.rollback()
            chosen = None
        return chosen if chosen in self.profiles else self.default_jurisdiction


def settings() -> Settings:
    cached = current_app.extensions.get("rightsdesk.settings")
    if cached is None:
        config = current_app.config
        cached = Settings(
            tz=ZoneInfo(config["TIMEZONE"]),
            profiles=profiles_with(config.get("PROFILES_FILE")),
            default_jurisdiction=str(config["DEFAULT_JURISDICTION"]).upper(),
        )
        current_app.extensions["rightsdesk.settings"] = cached
    return cached


@dataclass(frozen=True)
class JurisdictionChoice:
    """The operator's choices within one jurisdiction (a copy of its settings row)."""

    region: str | None
    authority_name: str | None
    authority_contact: str | None


# A web request reads a jurisdiction's setting once; a long-lived context (the worker) sees a
# change made elsewhere (the console, the CLI) within this many seconds.
SETTING_CACHE_SECONDS = 5.0


def jurisdiction_setting(code: str) -> JurisdictionChoice | None:
    """The operator's setting for one jurisdiction, cached briefly in the app context."""
    cache = g.setdefault("rightsdesk_jurisdiction_settings", {}) if has_app_context() else {}
    read_at, choice = cache.get(code, (None, None))
    if read_at is None or time.monotonic() - read_at > SETTING_CACHE_SECONDS:
        choice = _read_setting(code)
        cache[code] = (time.monotonic(), choice)
    return choice


def _read_setting(code: str) -> JurisdictionChoice | None:
    try:
        row = db.session.scalar(
            select(JurisdictionSetting)
            .where(JurisdictionSetting.jurisdiction == code)
            .order_by(JurisdictionSetting.id)
            .limit(1)
        )
    except (OperationalError, ProgrammingError):  # not migrated yet
        db.session.rollback()
        return None
    if row is None:
        return None
    return JurisdictionChoice(row.region, row.authority_name, row.authority_contact)


def authority_text(profile: Profile, language: str) -> str:
    """The supervisory authority a refusal names: the operator's, else the profile's default."""
    chosen = jurisdiction_setting(profile.code)
    if chosen and chosen.authority_name:
        contact = f" ({chosen.authority_contact})" if chosen.authority_contact else ""
        return chosen.authority_name + contact
    return profile.authority_ko if language == "ko" else profile.authority_en


def forget_jurisdiction_settings() -> None:
    """After a setting changed within this request or command."""
    if has_app_context():
        g.pop("rightsdesk_jurisdiction_settings", None)


class NoOrganisation(LookupError):
    pass


def current_organisation() -> Organisation:
    organisation = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if organisation is None:
        raise NoOrganisation(
            "no organisation is set up: run 'rightsdesk org setup' (or 'rightsdesk demo load')"
        )
    return organisation
