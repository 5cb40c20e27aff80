"""Jurisdiction profiles, loaded from data (``profiles.toml``), never spelled out in code."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind

DEFAULT_JURISDICTION = "KR"


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    BUSINESS_DAYS = "business_days"


class ClockStart(StrEnum):
    RECEIPT = "receipt"
    VERIFICATION = "verification"


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit
    basis: str = ""
    # The statute sets no number ("지체 없이"): ``amount`` is only the operator's working target.
    without_delay: bool = False

    def plus(self, amount: int) -> Period:
        return replace(self, amount=self.amount + amount)


@dataclass(frozen=True)
class ExtensionRule:
    """How far a response may be postponed, how often, and that the subject is told in time.

    The subject must always be told before the original period ends (``notify_by``).
    """

    amount: int
    max_count: int
    basis: str
    notify_by: str = "original_due"


@dataclass(frozen=True)
class RefusalGround:
    """A legal ground to refuse or limit a request, with the article the notice cites."""

    code: str
    kinds: frozenset[RequestKind]
    basis: str
    ko: str
    en: str

    def label(self, language: str) -> str:
        return self.ko if language == "ko" else self.en


OTHER_GROUND = RefusalGround(
    code="other",
    kinds=frozenset(RequestKind),
    basis="",
    ko="그 밖의 법적 근거 (설명에 적음)",
    en="Another legal ground (stated in the explanation)",
)


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    calendar_country: str | None
    calendar_subdivision: str | None
    counting_basis: str
    midnight_counts: bool
    roll_forward: bool
    clock_starts: ClockStart
    pauses_while_awaiting_subject: bool
    pause_basis: str
    periods: Mapping[RequestKind, Period]
    notice: Period
    acknowledgement: Period | None
    extensions: Mapping[RequestKind, ExtensionRule]
    refusal_grounds: tuple[RefusalGround, ...] = ()

    def grounds_for(self, kind: RequestKind) -> list[RefusalGround]:
        """The grounds this jurisdiction allows for refusing ``kind``, and "other" last."""
        return [g for g in self.refusal_grounds if kind in g.kinds] + [OTHER_GROUND]

    def ground(self, code: str, kind: RequestKind) -> RefusalGround:
        for ground in self.grounds_for(kind):
            if ground.code == code:
                return ground
        accepted = ", ".join(g.code for g in self.grounds_for(kind))
        raise ValueError(
            f"{code!r} is not a ground for refusing {kind.value}; accepted: {accepted}"
        )

    def period(self, kind: RequestKind) -> Period:
        """The response period of ``kind``; an unclassified request gets the profile's
        ``unclassified`` period, by default the access period."""
        if kind is RequestKind.UNCLASSIFIED and kind not in self.periods:
            return self.periods[RequestKind.ACCESS]
        return self.periods[kind]

    def extension(self, kind: RequestKind) -> ExtensionRule | None:
        return self.extensions.get(kind)


class ProfileError(ValueError):
    """A profile file that does not describe a usable profile."""


def parse_jurisdiction(value: str, profiles: Mapping[str, Profile]) -> Profile:
    code = value.strip().upper()
    if code not in profiles:
        accepted = ", ".join(sorted(profiles))
        raise ValueError(f"unknown jurisdiction {value!r}; accepted: {accepted}")
    return profiles[code]


@cache
def builtin_profiles() -> Mapping[str, Profile]:
    text = resources.files(__package__).joinpath("profiles.toml").read_text(encoding="utf-8")
    return load_profiles(tomllib.loads(text))


def profiles_with(extra_file: str | Path | None) -> Mapping[str, Profile]:
    """The built-in profiles, with an operator's file merged over them (whole profiles)."""
    if not extra_file:
        return builtin_profiles()
    with open(extra_file, "rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ProfileError(f"{extra_file}: {error}") from None
    return {**builtin_profiles(), **load_profiles(data, source=str(extra_file))}


def load_profiles(data: Mapping[str, object], source: str = "profiles.toml") -> dict[str, Profile]:
    return {code: _profile(code, raw, source) for code, raw in data.items()}


def _profile(code: str, raw: object, source: str) -> Profile:
    where = f"{source} [{code}]"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a table")
    try:
        return _read_profile(code, raw, where)
    except KeyError as error:
        raise ProfileError(f"{where}: missing {error.args[0]!r}") from None
    except ValueError as error:
        if isinstance(error, ProfileError):
            raise
        raise ProfileError(f"{where}: {error}") from None


def _read_profile(code: str, raw: dict, where: str) -> Profile:
    """The profile, checked in this order: a missing key raises KeyError, a bad value
    ValueError (:func:`_profile` names the profile in either)."""
    periods = _periods(raw, where)
    extensions = _extensions(raw)
    acknowledgement = raw.get("acknowledgement")
    return Profile(
        code=code,
        name=str(raw["name"]),
        calendar_country=raw.get("calendar") or None,
        calendar_subdivision=raw.get("subdivision") or None,
        counting_basis=str(raw.get("counting_basis", "")),
        midnight_counts=bool(raw.get("midnight_counts", False)),
        roll_forward=bool(raw["roll_forward"]),
        clock_starts=ClockStart(raw.get("clock_starts", "receipt")),
        pauses_while_awaiting_subject=bool(raw.get("pauses_while_awaiting_subject", False)),
        pause_basis=str(raw.get("pause_basis", "")),
        periods=periods,
        notice=_period(raw["notice"], f"{where}.notice"),
        acknowledgement=_period(acknowledgement, f"{where}.acknowledgement")
        if acknowledgement
        else None,
        extensions=extensions,
        refusal_grounds=_refusal_grounds(raw),
    )


def _periods(raw: dict, where: str) -> dict[RequestKind, Period]:
    """Every subject kind's response period (an unclassified request's is optional)."""
    periods = {
        RequestKind(k): _period(v, f"{where}.periods.{k}") for k, v in raw["periods"].items()
    }
    missing = set(SUBJECT_KINDS) - set(periods)
    if missing:
        names = ", ".join(sorted(k.value for k in missing))
        raise ProfileError(f"{where}: no period for {names}")
    return periods


def _extensions(raw: dict) -> dict[RequestKind, ExtensionRule]:
    """Extension rules per kind; the key ``all`` gives one to every subject kind."""
    extensions: dict[RequestKind, ExtensionRule] = {}
    for key, rule in raw.get("extensions", {}).items():
        kinds = list(SUBJECT_KINDS) if key == "all" else [RequestKind(key)]
        for kind in kinds:
            extensions[kind] = ExtensionRule(
                amount=int(rule["amount"]),
                max_count=int(rule["max_count"]),
                basis=str(rule.get("basis", "")),
            )
    return extensions


def _refusal_grounds(raw: dict) -> tuple[RefusalGround, ...]:
    return tuple(
        RefusalGround(
            code=str(g["code"]),
            kinds=frozenset(RequestKind(k) for k in g["kinds"]),
            basis=str(g.get("basis", "")),
            ko=str(g["ko"]),
            en=str(g["en"]),
        )
        for g in raw.get("refusal_grounds", [])
    )


def _period(raw: object, where: str) -> Period:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a table with amount and unit")
    amount = int(raw["amount"])
    if amount <= 0:
        raise ProfileError(f"{where}: amount must be positive")
    return Period(
        amount=amount,
        unit=Unit(raw["unit"]),
        basis=str(raw.get("basis", "")),
        without_delay=bool(raw.get("without_delay", False)),
    )
