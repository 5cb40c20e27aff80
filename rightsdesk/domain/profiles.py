"""Jurisdiction profiles, loaded from data (``profiles.toml``), never spelled out in code."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.domain.toml_lines import KeyPath, index_lines, line_of

DEFAULT_JURISDICTION = "KR"


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    BUSINESS_DAYS = "business_days"


class ClockStart(StrEnum):
    RECEIPT = "receipt"
    VERIFICATION = "verification"
    # UK GDPR Art. 12A (Data (Use and Access) Act 2025): the period begins when the request is
    # received or, if later, when the identity information, the fee or the clarification asked
    # for is received.
    LAST_ANSWER = "last_answer"


class RegionKind(StrEnum):
    """What the operator's region setting chooses in a profile's holiday calendar."""

    NONE = ""
    MEMBER_STATE = "member_state"  # EU: the Member State where the act is to be done
    SUBDIVISION = "subdivision"  # UK: the nation whose bank holidays apply


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit
    basis: str = ""
    # The statute sets no number ("지체 없이"): ``amount`` is only the operator's working target.
    without_delay: bool = False
    # The basis for English readers, where ``basis`` is written in Korean (wording, not a rule:
    # two periods that differ only there are the same period).
    basis_en: str = field(default="", compare=False)

    def plus(self, amount: int) -> Period:
        return replace(self, amount=self.amount + amount)

    def basis_in(self, language: str) -> str:
        """The basis in ``language`` (the English one where given, else as written)."""
        return self.basis_en if language == "en" and self.basis_en else self.basis


@dataclass(frozen=True)
class ExtensionRule:
    """How far a response may be postponed, how often, and that the subject is told in time.

    The subject must always be told before the original period ends (``notify_by``).
    """

    amount: int
    max_count: int
    basis: str
    notify_by: str = "original_due"
    # PIPA §35③ 후문: not a fixed extension but a deferral until its ground ends; ``amount``
    # is then the operator's working target (days) for "without delay" after the ground ends.
    until_ground_ends: bool = False


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


@dataclass(frozen=True)
class NoticeRight:
    """A sentence a refusal notice of the jurisdiction must carry (e.g. GDPR Art. 12(4): the
    right to complain to a supervisory authority), with its article. ``{authority}`` in the
    text is replaced by the operator's configured authority, or the profile's default."""

    kinds: frozenset[RequestKind]
    basis: str
    ko: str
    en: str

    def text(self, language: str, authority: str) -> str:
        return (self.ko if language == "ko" else self.en).replace("{authority}", authority)


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
    # The built-in profile states the statute: an operator's replacement may not go beyond it,
    # except for the items in ``beyond_statute`` (where the law sets no figure) with a reason.
    statutory_reference: bool = False
    beyond_statute: frozenset[str] = frozenset()
    # The jurisdiction's own zone: receipt is dated in the earlier of it and the operator's.
    timezone: str = ""
    # CCPA Regs §7021(b): "begins on the day that the business receives the request" (day 1).
    receipt_day_counts: bool = False
    region_kind: RegionKind = RegionKind.NONE
    refusal_rights: tuple[NoticeRight, ...] = ()
    authority_ko: str = ""
    authority_en: str = ""
    calendar_ignores: frozenset[str] = frozenset()

    def rights_for(self, kind: RequestKind) -> list[NoticeRight]:
        """What a refusal of ``kind`` must tell the subject besides the ground and reasons."""
        return [r for r in self.refusal_rights if kind in r.kinds]

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
    """A profile file that cannot be used: the message is ``source:line: problem``."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


def parse_jurisdiction(value: str, profiles: Mapping[str, Profile]) -> Profile:
    code = value.strip().upper()
    if code not in profiles:
        accepted = ", ".join(sorted(profiles))
        raise ValueError(f"unknown jurisdiction {value!r}; accepted: {accepted}")
    return profiles[code]


@cache
def builtin_profiles() -> Mapping[str, Profile]:
    text = resources.files(__package__).joinpath("profiles.toml").read_text(encoding="utf-8")
    return load_profiles_text(text, "profiles.toml")


def profiles_with(extra_file: str | Path | None) -> Mapping[str, Profile]:
    """The built-in profiles, with an operator's file merged over them (whole profiles).

    A profile replacing a built-in one that is its jurisdiction's statutory reference may not
    make a period, notice or extension longer than the statute's (:class:`_Reader`).
    """
    if not extra_file:
        return builtin_profiles()
    source = str(extra_file)
    try:
        text = Path(extra_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(source, 1, f"cannot read the profiles file: {error}") from None
    return {**builtin_profiles(), **load_profiles_text(text, source, builtin_profiles())}


def load_profiles_text(
    text: str, source: str, references: Mapping[str, Profile] | None = None
) -> dict[str, Profile]:
    """Every profile of a TOML text; the first problem is a :class:`ProfileError` naming its
    line. ``references`` are the statutory profiles the file's may not exceed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        problem = re.sub(r"\s*\(at line \d+, column \d+\)\s*$", "", str(error))
        line = int(found.group(1)) if found else 1
        raise ProfileError(source, line, f"not valid TOML: {problem}") from None
    return _Reader(source, index_lines(text), references or {}).profiles(data)


def load_profiles(data: Mapping[str, object], source: str = "profiles.toml") -> dict[str, Profile]:
    """Profiles from already-parsed data (no line numbers: every problem is on line 1)."""
    return _Reader(source, {}, {}).profiles(dict(data))


REQUIRED_KEYS = ("name", "roll_forward", "periods", "notice")
OPTIONAL_KEYS = (
    "calendar",
    "subdivision",
    "timezone_note",
    "counting_basis",
    "midnight_counts",
    "clock_starts",
    "pauses_while_awaiting_subject",
    "pause_basis",
    "acknowledgement",
    "extensions",
    "refusal_grounds",
    "statutory_reference",
    "beyond_statute",
    "timezone",
    "receipt_day_counts",
    "region",
    "refusal_rights",
    "authority_ko",
    "authority_en",
    "calendar_ignores",
)
# A period's table may carry this reason where the law sets no figure (``beyond_statute``).
REASON_KEY = "beyond_statute_reason"


@dataclass
class _Reader:
    """Reads a profiles file's data, naming the line of the first problem."""

    source: str
    lines: Mapping[KeyPath, int]
    references: Mapping[str, Profile]

    def fail(self, path: KeyPath, problem: str) -> NoReturn:
        raise ProfileError(self.source, line_of(self.lines, path), problem)

    def profiles(self, data: dict) -> dict[str, Profile]:
        read = {
            code: self.profile(str(code), _inherit(raw, self.references.get(code)))
            for code, raw in data.items()
        }
        for code, profile in read.items():
            reference = self.references.get(code)
            if reference is not None and reference.statutory_reference:
                _StatuteCheck(self, reference, data[code]).check(profile)
        return read

    def table(self, raw: object, path: KeyPath, what: str) -> dict:
        if not isinstance(raw, dict):
            self.fail(path, f"{_name(path)} must be a table ({what})")
        return raw

    def only(self, raw: dict, path: KeyPath, required: tuple, optional: tuple = ()) -> None:
        """Every required key is there, and nothing else than the accepted ones."""
        for key in required:
            if key not in raw:
                self.fail(path, f"{_name(path)} has no {key!r} (required: {', '.join(required)})")
        for key in raw:
            if key not in required and key not in optional:
                accepted = ", ".join((*required, *optional))
                self.fail(
                    (*path, key), f"unknown key {key!r} in {_name(path)}; accepted: {accepted}"
                )

    def profile(self, code: str, raw: object) -> Profile:
        path: KeyPath = (code,)
        raw = self.table(raw, path, "a jurisdiction profile")
        self.only(raw, path, REQUIRED_KEYS, OPTIONAL_KEYS)
        acknowledgement = raw.get("acknowledgement")
        return Profile(
            code=code,
            name=self.text(raw, path, "name"),
            calendar_country=self.text(raw, path, "calendar") or None,
            calendar_subdivision=self.text(raw, path, "subdivision") or None,
            counting_basis=self.text(raw, path, "counting_basis"),
            midnight_counts=self.flag(raw, path, "midnight_counts"),
            roll_forward=self.flag(raw, path, "roll_forward"),
            clock_starts=self.choice(raw, path, "clock_starts", ClockStart, "receipt"),
            pauses_while_awaiting_subject=self.flag(raw, path, "pauses_while_awaiting_subject"),
            pause_basis=self.text(raw, path, "pause_basis"),
            periods=self.periods(raw["periods"], (code, "periods")),
            notice=self.period(raw["notice"], (code, "notice")),
            acknowledgement=self.period(acknowledgement, (code, "acknowledgement"))
            if acknowledgement is not None
            else None,
            extensions=self.extensions(raw.get("extensions", {}), (code, "extensions")),
            refusal_grounds=self.grounds(raw.get("refusal_grounds", []), (code, "refusal_grounds")),
            statutory_reference=self.flag(raw, path, "statutory_reference"),
            beyond_statute=frozenset(self.strings(raw, path, "beyond_statute")),
            timezone=self.zone(raw, path),
            receipt_day_counts=self.flag(raw, path, "receipt_day_counts"),
            region_kind=self.choice(raw, path, "region", RegionKind, ""),
            refusal_rights=self.rights(raw.get("refusal_rights", []), (code, "refusal_rights")),
            authority_ko=self.text(raw, path, "authority_ko"),
            authority_en=self.text(raw, path, "authority_en"),
            calendar_ignores=frozenset(self.strings(raw, path, "calendar_ignores")),
        )

    def zone(self, raw: dict, path: KeyPath) -> str:
        value = self.text(raw, path, "timezone")
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                problem = f"{_name(path)} timezone {value!r} is not an IANA zone"
                self.fail((*path, "timezone"), problem)
        return value

    def rights(self, raw: object, path: KeyPath) -> tuple[NoticeRight, ...]:
        if not isinstance(raw, list):
            self.fail(path, f"{_name(path)} must be a list of tables ([[...refusal_rights]])")
        return tuple(self.right(r, (*path, i)) for i, r in enumerate(raw))

    def right(self, raw: object, path: KeyPath) -> NoticeRight:
        raw = self.table(raw, path, "with ko, en and basis")
        self.only(raw, path, ("ko", "en", "basis"), ("kinds",))
        kinds = self.strings(raw, path, "kinds") or [k.value for k in RequestKind]
        return NoticeRight(
            kinds=frozenset(self.kind(k, (*path, "kinds")) for k in kinds),
            basis=self.text(raw, path, "basis"),
            ko=self.text(raw, path, "ko"),
            en=self.text(raw, path, "en"),
        )

    def text(self, raw: dict, path: KeyPath, key: str) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            self.fail((*path, key), f"{_name((*path, key))} must be a string")
        return value

    def flag(self, raw: dict, path: KeyPath, key: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.fail((*path, key), f"{_name((*path, key))} must be true or false")
        return value

    def number(self, raw: dict, path: KeyPath, key: str, least: int) -> int:
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.fail((*path, key), f"{_name((*path, key))} must be a whole number ≥ {least}")
        return value

    def choice(self, raw: dict, path: KeyPath, key: str, enum: type[StrEnum], default: str):
        value = raw.get(key, default)
        if value not in {member.value for member in enum}:
            accepted = ", ".join(member.value for member in enum)
            self.fail((*path, key), f"{_name((*path, key))} {value!r} is not one of: {accepted}")
        return enum(value)

    def strings(self, raw: dict, path: KeyPath, key: str) -> list[str]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"{_name((*path, key))} must be a list of strings")
        return value

    def kind(self, value: object, path: KeyPath) -> RequestKind:
        if value not in {kind.value for kind in RequestKind}:
            accepted = ", ".join(kind.value for kind in RequestKind)
            self.fail(path, f"{_name(path)}: unknown kind {value!r}; accepted: {accepted}")
        return RequestKind(value)

    def period(self, raw: object, path: KeyPath) -> Period:
        raw = self.table(raw, path, "with amount and unit")
        optional = ("basis", "basis_en", "without_delay", REASON_KEY)
        self.only(raw, path, ("amount", "unit"), optional)
        return Period(
            amount=self.number(raw, path, "amount", 1),
            unit=self.choice(raw, path, "unit", Unit, ""),
            basis=self.text(raw, path, "basis"),
            without_delay=self.flag(raw, path, "without_delay"),
            basis_en=self.text(raw, path, "basis_en"),
        )

    def periods(self, raw: object, path: KeyPath) -> dict[RequestKind, Period]:
        """Every subject kind's response period (an unclassified request's is optional)."""
        raw = self.table(raw, path, "one period per kind of request")
        periods = {self.kind(k, (*path, k)): self.period(v, (*path, k)) for k, v in raw.items()}
        missing = set(SUBJECT_KINDS) - set(periods)
        if missing:
            names = ", ".join(sorted(k.value for k in missing))
            self.fail(path, f"{_name(path)} has no period for {names}")
        return periods

    def extensions(self, raw: object, path: KeyPath) -> dict[RequestKind, ExtensionRule]:
        """Extension rules per kind; the key ``all`` gives one to every subject kind."""
        raw = self.table(raw, path, "one extension rule per kind, or all")
        extensions: dict[RequestKind, ExtensionRule] = {}
        for key, rule in raw.items():
            where = (*path, key)
            kinds = list(SUBJECT_KINDS) if key == "all" else [self.kind(key, where)]
            rule = self.table(rule, where, "with amount and max_count")
            optional = ("basis", "until_ground_ends", REASON_KEY)
            self.only(rule, where, ("amount", "max_count"), optional)
            read = ExtensionRule(
                amount=self.number(rule, where, "amount", 1),
                max_count=self.number(rule, where, "max_count", 0),
                basis=self.text(rule, where, "basis"),
                until_ground_ends=self.flag(rule, where, "until_ground_ends"),
            )
            extensions.update(dict.fromkeys(kinds, read))
        return extensions

    def grounds(self, raw: object, path: KeyPath) -> tuple[RefusalGround, ...]:
        if not isinstance(raw, list):
            self.fail(path, f"{_name(path)} must be a list of tables ([[...refusal_grounds]])")
        return tuple(self.ground(g, (*path, i)) for i, g in enumerate(raw))

    def ground(self, raw: object, path: KeyPath) -> RefusalGround:
        raw = self.table(raw, path, "with code, kinds, ko and en")
        self.only(raw, path, ("code", "kinds", "ko", "en"), ("basis",))
        kinds = self.strings(raw, path, "kinds")
        return RefusalGround(
            code=self.text(raw, path, "code"),
            kinds=frozenset(self.kind(k, (*path, "kinds")) for k in kinds),
            basis=self.text(raw, path, "basis"),
            ko=self.text(raw, path, "ko"),
            en=self.text(raw, path, "en"),
        )


def _inherit(raw: object, reference: Profile | None) -> object:
    """A replacement of a built-in profile keeps its counting rules unless it states them."""
    if reference is None or not isinstance(raw, dict):
        return raw
    inherited = {
        "calendar": reference.calendar_country or "",
        "subdivision": reference.calendar_subdivision or "",
        "region": reference.region_kind.value,
        "timezone": reference.timezone,
        "midnight_counts": reference.midnight_counts,
        "receipt_day_counts": reference.receipt_day_counts,
        "clock_starts": reference.clock_starts.value,
        "pauses_while_awaiting_subject": reference.pauses_while_awaiting_subject,
        "calendar_ignores": sorted(reference.calendar_ignores),
    }
    return {**{k: v for k, v in inherited.items() if v != ""}, **raw}


def _name(path: KeyPath) -> str:
    """``("KR", "periods", "access")`` → ``[KR] periods.access``."""
    head, *rest = path
    return f"[{head}]" + (" " + ".".join(str(p) for p in rest) if rest else "")


@dataclass
class _StatuteCheck:
    """An operator's replacement of a statutory profile goes no further than the statute."""

    reader: _Reader
    reference: Profile
    raw: dict

    def check(self, profile: Profile) -> None:
        code = profile.code
        self.counting(profile)
        for kind, period in profile.periods.items():
            statutory = self.reference.periods.get(kind)
            if statutory is not None:
                self.period(kind.value, period, statutory, (code, "periods", kind.value))
        self.period("notice", profile.notice, self.reference.notice, (code, "notice"))
        statutory = self.reference.acknowledgement
        if statutory is not None:
            if profile.acknowledgement is None:
                self.reader.fail(
                    (code,),
                    f"[{code}] has no acknowledgement: the statute requires one within "
                    f"{statutory.amount} {statutory.unit.value} ({statutory.basis})",
                )
            path = (code, "acknowledgement")
            self.period("acknowledgement", profile.acknowledgement, statutory, path)
        for key in self.raw.get("extensions", {}):
            kinds = SUBJECT_KINDS if key == "all" else [RequestKind(key)]
            for kind in kinds:
                self.extension(kind, profile.extensions[kind], (code, "extensions", key))

    def counting(self, profile: Profile) -> None:
        """No counting rule may be changed in the direction that ends a period later."""
        ref = self.reference
        later = {
            "receipt_day_counts": ref.receipt_day_counts and not profile.receipt_day_counts,
            "midnight_counts": ref.midnight_counts and not profile.midnight_counts,
            "roll_forward": profile.roll_forward and not ref.roll_forward,
            "pauses_while_awaiting_subject": profile.pauses_while_awaiting_subject
            and not ref.pauses_while_awaiting_subject,
            "clock_starts": profile.clock_starts not in (ref.clock_starts, ClockStart.RECEIPT),
            "timezone": bool(ref.timezone) and profile.timezone != ref.timezone,
            "calendar": profile.calendar_country != ref.calendar_country,
            "subdivision": profile.calendar_subdivision != ref.calendar_subdivision,
            "region": profile.region_kind is not ref.region_kind,
            "calendar_ignores": not profile.calendar_ignores >= ref.calendar_ignores,
        }
        for key, goes_later in later.items():
            if goes_later:
                self.reader.fail(
                    (profile.code, key),
                    f"[{profile.code}] {key} differs from the statutory profile in a way that can "
                    "end a period later than the law allows; an operator may shorten periods, "
                    "never lengthen them (a wrong holiday: rightsdesk holidays add/remove)",
                )

    def period(self, item: str, period: Period, statutory: Period, path: KeyPath) -> None:
        if not _may_end_later(period, statutory):
            return
        limit = "built-in" if item in self.reference.beyond_statute else "statutory"
        told = (
            f"{_name(path)}: {period.amount} {period.unit.value} may end after the "
            f"{limit} {statutory.amount} {statutory.unit.value} ({statutory.basis})"
        )
        self.beyond(item, told, path)

    def extension(self, kind: RequestKind, rule: ExtensionRule, path: KeyPath) -> None:
        statutory = self.reference.extension(kind)
        key = "amount"
        if statutory is None:
            told = f"{_name(path)}: the statute allows no extension for {kind.value}"
        elif rule.amount > statutory.amount or rule.max_count > statutory.max_count:
            key = "amount" if rule.amount > statutory.amount else "max_count"
            told = (
                f"{_name(path)}: {rule.max_count} × {rule.amount} goes beyond the built-in "
                f"{statutory.max_count} × {statutory.amount} ({statutory.basis})"
            )
        else:
            return
        self.beyond(f"extensions.{kind.value}", told, path, key)

    def beyond(self, item: str, told: str, path: KeyPath, key: str = "amount") -> None:
        """Refuse (on the line of ``key``), unless the law sets no figure for ``item`` and the
        file gives a reason."""
        at = (*path, key)
        if item not in self.reference.beyond_statute:
            self.reader.fail(at, f"{told}; an operator may shorten it, never lengthen it")
        entry = self.raw
        for part in path[1:]:
            entry = entry.get(part, {}) if isinstance(entry, dict) else {}
        reason = entry.get(REASON_KEY, "") if isinstance(entry, dict) else ""
        if not (isinstance(reason, str) and reason.strip()):
            self.reader.fail(
                at,
                f"{told}; the law sets no figure here, so it may go beyond the default only "
                f'with {REASON_KEY} = "<why>" in the same table',
            )


def _may_end_later(period: Period, statutory: Period) -> bool:
    """Whether ``period`` could end after ``statutory`` for some receipt date."""
    if period.unit == statutory.unit:
        return period.amount > statutory.amount
    if period.unit is Unit.DAYS and statutory.unit is Unit.MONTHS:
        return period.amount > 28 * statutory.amount
    if period.unit is Unit.DAYS and statutory.unit is Unit.BUSINESS_DAYS:
        # n business days span at least n calendar days plus two per full week after the first
        return period.amount > statutory.amount + 2 * ((statutory.amount - 1) // 5)
    return not (
        period.unit is Unit.MONTHS
        and statutory.unit is Unit.DAYS
        and 31 * period.amount <= statutory.amount
    )
