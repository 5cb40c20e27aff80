"""The settings every use-case needs, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app

from ..domain.profiles import Profile, parse_jurisdiction, profiles_with


@dataclass(frozen=True)
class Settings:
    tz: ZoneInfo
    profiles: Mapping[str, Profile]
    default_jurisdiction: str

    def profile(self, code: str | None = None) -> Profile:
        return parse_jurisdiction(code or self.default_jurisdiction, self.profiles)


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
