"""The settings every use-case needs, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.domain.profiles import Profile, parse_jurisdiction, profiles_with
from rightsdesk.extensions import db
from rightsdesk.models import Organisation


@dataclass(frozen=True)
class Settings:
    tz: ZoneInfo
    profiles: Mapping[str, Profile]
    default_jurisdiction: str

    def profile(self, code: str | None = None) -> Profile:
        """A named profile, or the default: the console's setting, else the configuration's."""
        return parse_jurisdiction(code or self.default_code(), self.profiles)

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


class NoOrganisation(LookupError):
    pass


def current_organisation() -> Organisation:
    organisation = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if organisation is None:
        raise NoOrganisation(
            "no organisation is set up: run 'rightsdesk org setup' (or 'rightsdesk demo load')"
        )
    return organisation
