"""The operator's region within a jurisdiction: which public holidays and which zone apply.

EU (Regulation 1182/71 Art. 3(4)): a period ending on a public holiday "of the Member State
where the act is to be done" moves to the next working day, so the operator's Member State picks
the calendar ("FR", or a region where holidays differ, "DE-BY"). Without one, only weekends are
skipped: never later than the law. UK: the nation's bank holidays (England by default).
"""

from __future__ import annotations

from dataclasses import replace

import holidays

from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.profiles import Profile, RegionKind

# Member State → the zone receipt is dated in (the metropolitan territory's; an operator acting
# in an outermost region, e.g. the Azores, sets its profile's timezone in its profiles file).
EU_MEMBER_STATES: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
}
UK_DEFAULT_SUBDIVISION = "ENG"


class UnknownRegion(ValueError):
    """A Member State or subdivision the calendar does not know; the message lists valid ones."""


def valid_regions(profile: Profile) -> list[str]:
    """Every code the region setting of ``profile`` accepts (empty: it takes none)."""
    if profile.region_kind is RegionKind.MEMBER_STATE:
        return [
            f"{state}-{sub}" if sub else state
            for state in sorted(EU_MEMBER_STATES)
            for sub in ("", *_subdivisions(state))
        ]
    if profile.region_kind is RegionKind.SUBDIVISION and profile.calendar_country:
        return list(_subdivisions(profile.calendar_country))
    return []


def check_region(profile: Profile, value: str) -> str:
    """``value`` normalised ("fr" → "FR"), or :class:`UnknownRegion` listing the valid codes."""
    code = value.strip().upper()
    valid = valid_regions(profile)
    if not valid:
        raise UnknownRegion(f"{profile.code} takes no region setting")
    if code not in valid:
        # Member States first; their regions only when a region was asked for.
        shown = ", ".join(c for c in valid if "-" in code or "-" not in c)
        raise UnknownRegion(
            f"unknown {_what(profile)} {value!r} for {profile.code}; valid: {shown}"
        )
    return code


def with_region(profile: Profile, region: str | None) -> Profile:
    """``profile`` with the calendar (and zone) its region setting picks."""
    if profile.region_kind is RegionKind.MEMBER_STATE:
        if not region:
            return profile
        state, _, sub = region.partition("-")
        return replace(
            profile,
            calendar_country=state,
            calendar_subdivision=sub or None,
            timezone=EU_MEMBER_STATES[state],
        )
    if profile.region_kind is RegionKind.SUBDIVISION:
        chosen = region or profile.calendar_subdivision or UK_DEFAULT_SUBDIVISION
        return replace(profile, calendar_subdivision=chosen)
    return profile


def _what(profile: Profile) -> str:
    return "Member State" if profile.region_kind is RegionKind.MEMBER_STATE else "subdivision"


def _subdivisions(country: str) -> tuple[str, ...]:
    entity = holidays.country_holidays(country)
    return tuple(getattr(entity, "subdivisions", ()) or ())


def calendar_of(profile: Profile) -> HolidayCalendar:
    """The working-day calendar ``profile`` names (before the operator's overrides)."""
    return HolidayCalendar(
        profile.calendar_country,
        profile.calendar_subdivision,
        ignored_names=profile.calendar_ignores,
    )
