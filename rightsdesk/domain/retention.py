"""The retention schedule: how long a statute makes the operator keep a category of records,
from which event, under which article, and what happens at the end.

Defaults follow ``legal.md`` §3. Destruction is due at the end of the period plus a grace
(PIPC reads "지체 없이" as within 5 days, legal.md §4): a record whose period started on day
``s`` is kept through ``until(s)`` and destroyed on ``destroy_on(s)`` at the latest; the jobs
destroy every record whose ``destroy_on`` day has come (:meth:`Rule.due_before`).

Operators add or override rules, set the grace and an optional dormancy policy in a TOML file
(``RIGHTSDESK_RETENTION_FILE``), read by :func:`load_schedule`, which names the line of the
first problem like the data map's loader does::

    grace_days = 5

    [rules.access_log]            # override a default: give only what changes
    period = "6 months"           # longer than its statute (3 months): only with a reason,
    reason = "부정 이용 조사, 가입 시 동의"  # and the extra time is the operator's policy

    [rules.membership]            # a new category
    period = "1 years"
    start = "account_closed"      # record_date, account_closed, request_closed
    kind = "policy"               # statute (basis names the article) or policy (the clause
    basis = "재가입 방지, 탈퇴 후 1년, 가입 시 동의"  # and purpose the operator relies on)
    action = "destroy"            # or anonymise
    label_ko = "회원 정보"
    label_en = "membership records"

Every rule carries its basis kind (:class:`BasisKind`): ``statute`` — a law makes the
operator keep the records (the only ground for refusing a deletion, 법 §36① 단서) — or
``policy``, the operator's own choice. A statutory category kept shorter than its statute is
refused; kept longer only with a ``reason``. Rules known to be obsolete or repealed
(:data:`OBSOLETE_RULES`) are accepted with a warning (:attr:`Schedule.warnings`).

    [dormancy]                    # off unless present and enabled
    enabled = true
    system = "shop"
    table = "users"
    last_active = "last_login_at"
    days = 365
    notice_days = 30
    email_column = "email"
"""

from __future__ import annotations

import calendar
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from rightsdesk.domain.toml_lines import index_lines, line_of

DEFAULT_GRACE_DAYS = 5


class Unit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


class StartEvent(StrEnum):
    """What starts the period."""

    RECORD_DATE = "record_date"  # a date column of the row (the data map's retention_from)
    ACCOUNT_CLOSED = "account_closed"  # the subject's erasure / account termination
    REQUEST_CLOSED = "request_closed"  # rightsdesk's own request records


class BasisKind(StrEnum):
    """Why a category is kept: a statute requires it, or the operator's own policy."""

    STATUTE = "statute"
    POLICY = "policy"


class EndAction(StrEnum):
    DESTROY = "destroy"
    ANONYMISE = "anonymise"


def add_period(start: date, amount: int, unit: Unit) -> date:
    """``start`` plus the period; a month end that does not exist falls on the month's last
    day (Civil Act §160③ counts months by the calendar)."""
    if unit is Unit.DAYS:
        return start + timedelta(days=amount)
    months = amount * (12 if unit is Unit.YEARS else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


@dataclass(frozen=True)
class Rule:
    """One category of the schedule."""

    code: str
    amount: int
    unit: Unit
    start: StartEvent
    basis: str
    action: EndAction = EndAction.DESTROY
    label_ko: str = ""
    label_en: str = ""
    kind: BasisKind = BasisKind.STATUTE
    # Kept longer than the statute: the operator's reason (the extra time is its policy), and
    # the statute's own period.
    reason: str = ""
    statute_period: tuple[int, Unit] | None = None

    @property
    def keeps(self) -> bool:
        """Whether the rule makes anything be kept at all."""
        return self.amount > 0

    @property
    def statutory(self) -> bool:
        return self.kind is BasisKind.STATUTE

    @property
    def kind_text(self) -> str:
        """``statute``, ``policy``, or ``statute+policy`` (a statute kept longer, by reason)."""
        return "statute+policy" if self.statutory and self.reason else self.kind.value

    def on_deletion_request(self) -> Rule:
        """What the rule lets a deletion request keep: a statute kept longer by the operator's
        reason keeps for the statute's own period only. The extra time is the operator's
        policy, and 법 §36① 단서 lets an operator refuse deletion only where another law
        requires keeping: rows past the statute's period are erased with the rest."""
        if self.statute_period is None:
            return self
        amount, unit = self.statute_period
        return replace(self, amount=amount, unit=unit, reason="", statute_period=None)

    def until(self, start: date) -> date:
        """The last day the record is kept."""
        return add_period(start, self.amount, self.unit)

    def destroy_on(self, start: date, grace_days: int = DEFAULT_GRACE_DAYS) -> date:
        """The day by which destruction is due: the end of the period plus the grace."""
        return self.until(start) + timedelta(days=grace_days)

    def due_before(self, today: date, grace_days: int = DEFAULT_GRACE_DAYS) -> date:
        """The first start day whose record is not due yet on ``today``: every record that
        started before it has reached its ``destroy_on`` day (``destroy_on(s) <= today``).

        ``destroy_on`` never decreases as the start moves later, so the answer is found from an
        estimate (today minus grace minus the period) and a few steps either way.
        """
        candidate = subtract_period(today - timedelta(days=grace_days), self.amount, self.unit)
        while self.destroy_on(candidate, grace_days) <= today:
            candidate += timedelta(days=1)
        while self.destroy_on(candidate - timedelta(days=1), grace_days) > today:
            candidate -= timedelta(days=1)
        return candidate

    def period_text(self, language: str = "ko") -> str:
        return _period_text(self.amount, self.unit, language)

    def statutory_text(self, language: str = "ko") -> str:
        """The statute's own period: the rule's, unless the operator keeps longer by reason."""
        amount, unit = self.statute_period or (self.amount, self.unit)
        return _period_text(amount, unit, language)

    def label(self, language: str = "ko") -> str:
        chosen = self.label_ko if language == "ko" else self.label_en
        return chosen or self.label_ko or self.label_en or self.code


def _period_text(amount: int, unit: Unit, language: str) -> str:
    if language == "ko":
        return f"{amount}" + {"days": "일", "months": "개월", "years": "년"}[unit]
    return f"{amount} {unit.value}"


def subtract_period(end: date, amount: int, unit: Unit) -> date:
    """``end`` minus the period (the inverse of :func:`add_period`, up to month ends)."""
    return add_period(end, -amount, unit)


@dataclass(frozen=True)
class Dormancy:
    """The operator's own dormancy policy (the statutory one, former §39-6, was repealed on
    2023-09-15): accounts inactive for ``days`` are noticed ``notice_days`` before, then
    separated."""

    system: str
    table: str
    last_active: str
    days: int
    notice_days: int
    email_column: str = "email"
    enabled: bool = True
    # How long a separated account is kept before it is destroyed (the operator's own policy;
    # no statute sets it).
    keep_days: int = 3 * 365

    def as_rule(self) -> Rule:
        """The keep as a policy rule, for the published policy's 내부 방침에 따른 보존: whole
        years when the days make them."""
        years, rest = divmod(self.keep_days, 365)
        amount, unit = (years, Unit.YEARS) if years and not rest else (self.keep_days, Unit.DAYS)
        return Rule(
            code="dormancy",
            amount=amount,
            unit=unit,
            start=StartEvent.RECORD_DATE,
            basis=(
                f"장기 미이용 계정 분리 보관: {self.days}일 미이용 시 분리, "
                f"{self.notice_days}일 전 이메일 안내 (운영 방침)"
            ),
            kind=BasisKind.POLICY,
            label_ko="휴면 계정(장기 미이용) 분리 보관",
            label_en="Dormant accounts, kept apart",
        )


@dataclass(frozen=True)
class Schedule:
    rules: Mapping[str, Rule]
    grace_days: int = DEFAULT_GRACE_DAYS
    dormancy: Dormancy | None = None
    source: str = ""  # the file it was read from; "" for the defaults
    warnings: tuple[str, ...] = ()  # ``file:line: rules.<code>: warning: …`` (obsolete rules)

    def rule(self, code: str) -> Rule:
        try:
            return self.rules[code]
        except KeyError:
            raise KeyError(f"no retention rule {code!r} in the schedule") from None

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())

    def kind_of(self, code: str) -> str:
        """The basis kind of a rule, or of one of rightsdesk's own jobs' rules
        (:data:`OWN_RULE_KINDS`); "" when unknown."""
        rule = self.rules.get(code)
        if rule is not None:
            return rule.kind_text
        kind = OWN_RULE_KINDS.get(code)
        return kind.value if kind else ""

    def cutoff(self, code: str, today: date) -> date:
        """Records of rule ``code`` that started before this day are due for destruction."""
        return self.rule(code).due_before(today, self.grace_days)

    @classmethod
    def of(cls, rules: Iterable[Rule], grace_days: int = DEFAULT_GRACE_DAYS) -> Schedule:
        return cls({r.code: r for r in rules}, grace_days)


R, S = Rule, StartEvent
DEFAULT_RULES: tuple[Rule, ...] = (
    R(
        "none",
        0,
        Unit.DAYS,
        S.ACCOUNT_CLOSED,
        "법정 보존 의무 없음: 지체 없이 파기 (개인정보 보호법 §21①)",
        label_ko="보존 의무 없음",
        label_en="no duty to keep",
    ),
    R(
        "display_advertising",
        6,
        Unit.MONTHS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①1",
        label_ko="표시·광고에 관한 기록",
        label_en="display and advertising records",
    ),
    R(
        "contract",
        5,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①2",
        label_ko="계약 또는 청약철회 등에 관한 기록",
        label_en="contract and withdrawal records",
    ),
    R(
        "payment",
        5,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①3",
        label_ko="대금결제 및 재화 등의 공급에 관한 기록",
        label_en="payment and supply records",
    ),
    R(
        "complaint",
        3,
        Unit.YEARS,
        S.RECORD_DATE,
        "전자상거래법 §6, 시행령 §6①4",
        label_ko="소비자의 불만 또는 분쟁처리에 관한 기록",
        label_en="complaint and dispute records",
    ),
    R(
        "access_log",
        3,
        Unit.MONTHS,
        S.RECORD_DATE,
        "통신비밀보호법 §15의2, 시행령 §41②",
        label_ko="로그기록·접속지 추적자료",
        label_en="access logs and IP addresses",
    ),
    R(
        "request_record",
        3,
        Unit.YEARS,
        S.REQUEST_CLOSED,
        "운영 방침: 권리 행사 처리 기록 (법정 기간 없음, 통상 3년)",
        label_ko="권리 행사 요구 처리 기록",
        label_en="records of handled rights requests",
        kind=BasisKind.POLICY,
    ),
)
del R, S

DEFAULT_SCHEDULE = Schedule.of(DEFAULT_RULES)

# The rules of rightsdesk's own jobs that are not in the schedule.
OWN_RULE_KINDS: dict[str, BasisKind] = {
    "unverified_request": BasisKind.STATUTE,  # §21①: destroy what is no longer needed
    "download": BasisKind.POLICY,
    "dormancy": BasisKind.POLICY,  # the statutory duty was repealed on 2023-09-15
    "dormancy_notice": BasisKind.POLICY,
}


# --- what the law says about an operator's rules ------------------------------------------------


@dataclass(frozen=True)
class Statute:
    """A statutory retention period a rule's basis may cite (legal.md §3)."""

    pattern: str  # a regular expression matched against the rule's basis
    amount: int
    unit: Unit
    article: str


STATUTES: tuple[Statute, ...] = (
    Statute(r"국세기본법", 5, Unit.YEARS, "국세기본법 §85의3"),
    Statute(r"전자금융거래법", 5, Unit.YEARS, "전자금융거래법 §22, 시행령 §12"),
    Statute(r"통신비밀보호법", 3, Unit.MONTHS, "통신비밀보호법 §15의2, 시행령 §41②"),
    Statute(r"안전성\s*확보\s*조치", 1, Unit.YEARS, "개인정보의 안전성 확보조치 기준 §8"),
    Statute(r"시행령\s*§\s*6\s*①\s*1", 6, Unit.MONTHS, "전자상거래법 시행령 §6①1"),
    Statute(r"시행령\s*§\s*6\s*①\s*[23]", 5, Unit.YEARS, "전자상거래법 시행령 §6①2·3"),
    Statute(r"시행령\s*§\s*6\s*①\s*4", 3, Unit.YEARS, "전자상거래법 시행령 §6①4"),
)


@dataclass(frozen=True)
class ObsoleteRule:
    """A retention rule operators still copy from old policies though the law no longer has it:
    a file rule matching ``pattern`` (in its basis or labels) and citing it as law is warned."""

    name: str
    pattern: str
    note: str


OBSOLETE_RULES: tuple[ObsoleteRule, ...] = (
    ObsoleteRule(
        "identity_verification_log",
        r"본인\s*확인|identity[ -]verification",
        "identity-verification logs kept 6 months under 정보통신망법 are obsolete since 2012 "
        "(legal.md §3): no statute requires them now",
    ),
    ObsoleteRule(
        "dormancy",
        r"휴면|dorman|39\s*조\s*의\s*6|§\s*39\s*(의|-)\s*6",
        "the dormancy duty (former 정보통신망법 §29②, PIPA §39의6) was repealed on 2023-09-15 "
        "(legal.md §4): dormancy is the operator's own policy now",
    ),
)
_CITES_LAW = re.compile(r"정보통신망법|정보통신망 이용촉진|§\s*39\s*(의|-)\s*6|39조의6")
_ARTICLE = re.compile(r"§\s*\d|제?\s*\d+\s*조|\bArt(icle)?\.?\s*\d", re.I)
_REFERENCE_DAY = date(2001, 1, 1)


def _length(amount: int, unit: Unit) -> date:
    return add_period(_REFERENCE_DAY, amount, unit)


def statutory_period(rule: Rule, defaults: Mapping[str, Rule]) -> Statute | None:
    """The statute's own period for a statutory ``rule``: the default rule's of the same code,
    else the first of :data:`STATUTES` its basis cites; ``None`` for a policy rule."""
    if not rule.statutory:
        return None
    default = defaults.get(rule.code)
    if default is not None and default.statutory:
        return Statute("", default.amount, default.unit, default.basis)
    return next((s for s in STATUTES if re.search(s.pattern, rule.basis)), None)


def obsolete_matches(rule: Rule) -> list[ObsoleteRule]:
    """The obsolete rules ``rule`` repeats as law (a statute rule, or a basis citing the old
    law)."""
    if not (rule.statutory or _CITES_LAW.search(rule.basis)):
        return []
    text = " ".join((rule.basis, rule.label_ko, rule.label_en, rule.code))
    return [o for o in OBSOLETE_RULES if re.search(o.pattern, text, re.I)]


# --- the operator's file ----------------------------------------------------------------------

MAX_GRACE_DAYS = 30
_PERIOD = re.compile(r"\s*(\d+)\s*(day|days|month|months|year|years)\s*")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_RULE_KEYS = ("period", "start", "kind", "basis", "reason", "action", "label_ko", "label_en")
_DORMANCY_KEYS = (
    "enabled",
    "system",
    "table",
    "last_active",
    "days",
    "notice_days",
    "email_column",
    "keep_days",
)


class RetentionFileError(ValueError):
    """A retention file that cannot be used: the message is ``source:line: problem``."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


def parse_period(text: str) -> tuple[int, Unit]:
    """``"3 months"`` → ``(3, Unit.MONTHS)``; ``ValueError`` for anything else."""
    match = _PERIOD.fullmatch(text)
    if match is None:
        raise ValueError(f"period {text!r} must be a number and days, months or years")
    word = match.group(2)
    return int(match.group(1)), Unit(word if word.endswith("s") else word + "s")


def load_schedule(text: str, source: str, defaults: Iterable[Rule] = DEFAULT_RULES) -> Schedule:
    """The defaults with the file's rules, grace and dormancy applied; the first problem is a
    :class:`RetentionFileError` naming its line."""

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        line = int(found.group(1)) if found else 1
        problem = re.sub(r"\s*\(at line \d+, column \d+\)\s*$", "", str(error))
        raise RetentionFileError(source, line, f"not valid TOML: {problem}") from None
    lines = index_lines(text)

    def fail(path: tuple[str, ...], problem: str) -> NoReturn:
        raise RetentionFileError(source, line_of(lines, path), problem)

    reader = _ScheduleReader(fail, {r.code: r for r in defaults})
    schedule = reader.schedule(data, dict(reader.defaults), source)
    warnings = tuple(f"{source}:{line_of(lines, path)}: {note}" for path, note in reader.warnings)
    return replace(schedule, warnings=warnings)


@dataclass
class _ScheduleReader:
    fail: Any  # (path, problem) -> NoReturn
    defaults: dict[str, Rule] = field(default_factory=dict)
    warnings: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def schedule(self, data: dict[str, Any], rules: dict[str, Rule], source: str) -> Schedule:
        self.only(data, (), ("grace_days", "rules", "dormancy"))
        grace = data.get("grace_days", DEFAULT_GRACE_DAYS)
        if isinstance(grace, bool) or not isinstance(grace, int):
            self.fail(("grace_days",), "grace_days must be a whole number of days")
        if not 1 <= grace <= MAX_GRACE_DAYS:
            self.fail(
                ("grace_days",),
                f"grace_days must be between 1 and {MAX_GRACE_DAYS} (PIPC reads 지체 없이 as "
                "within 5 days; 0 would destroy on the last day a record must be kept)",
            )
        raw_rules = self.table(data.get("rules", {}), ("rules",))
        for code, raw in raw_rules.items():
            rules[code] = self.rule(code, raw, rules.get(code))
        dormancy = None
        if "dormancy" in data:
            dormancy = self.dormancy(self.table(data["dormancy"], ("dormancy",)))
        return Schedule(rules, grace, dormancy if dormancy and dormancy.enabled else None, source)

    def rule(self, code: str, raw: object, base: Rule | None) -> Rule:
        path = ("rules", code)
        if not _CODE.fullmatch(code):
            self.fail(path, f"rule {code!r}: a code is lower-case letters, digits and _")
        raw = self.table(raw, path)
        self.only(raw, path, _RULE_KEYS)
        if base is None:
            missing = [k for k in ("period", "start", "basis", "kind") if k not in raw]
            if missing:
                self.fail(path, f"rules.{code}: new rule: missing {', '.join(map(repr, missing))}")
            base = Rule(code, 0, Unit.DAYS, StartEvent.RECORD_DATE, "")
        changes: dict[str, Any] = {}
        if "period" in raw:
            try:
                changes["amount"], changes["unit"] = parse_period(self.text(raw, path, "period"))
            except ValueError as error:
                self.fail((*path, "period"), f"rule {code!r}: {error}")
        for key, kind in (("start", StartEvent), ("action", EndAction), ("kind", BasisKind)):
            if key in raw:
                changes[key] = self.choice(raw, path, key, kind)
        for key in ("basis", "reason", "label_ko", "label_en"):
            if key in raw:
                changes[key] = self.text(raw, path, key)
        return self.check_basis(replace(base, **changes), raw)

    def check_basis(self, rule: Rule, raw: dict[str, Any]) -> Rule:
        """The rule against the law: a statutory category names its article and is kept no
        shorter than its statute, longer only with a reason; obsolete rules are warned."""
        path = ("rules", rule.code)
        where = f"rules.{rule.code}"
        default = self.defaults.get(rule.code)
        if default is not None and default.statutory and default.keeps and not rule.statutory:
            self.fail(
                (*path, "kind"),
                f"{where}: {default.basis} requires keeping these records; "
                "a statutory category cannot be declared policy",
            )
        if rule.statutory and not _ARTICLE.search(rule.basis):
            self.fail(
                (*path, "basis") if "basis" in raw else path,
                f"{where}: a statutory category must name its article in basis (e.g. §6①3)",
            )
        for obsolete in obsolete_matches(rule):
            self.warnings.append((path, f"{where}: warning: {obsolete.note}"))
        return self.check_period(rule, raw, statutory_period(rule, self.defaults))

    def check_period(self, rule: Rule, raw: dict[str, Any], statute: Statute | None) -> Rule:
        """The rule as accepted: one kept longer than its statute notes the statute's period."""
        path, where = ("rules", rule.code), f"rules.{rule.code}"
        at = (*path, "period") if "period" in raw else path
        ours, law = _length(rule.amount, rule.unit), None
        if statute is not None:
            law = _length(statute.amount, statute.unit)
            period = f"{statute.amount} {statute.unit.value}"
            if ours < law:
                self.fail(
                    at,
                    f"{where}: kept {rule.amount} {rule.unit.value}, shorter than the "
                    f"{period} {statute.article} requires",
                )
            if ours > law and not rule.reason:
                self.fail(
                    at,
                    f"{where}: kept {rule.amount} {rule.unit.value}, longer than the {period} "
                    f'{statute.article} requires: give the operator\'s reason (reason = "…")',
                )
        if rule.reason and (law is None or ours <= law):
            self.fail(
                (*path, "reason"),
                f"{where}: reason is only for a statutory category kept longer than its statute",
            )
        if statute is not None and ours > law:
            return replace(rule, statute_period=(statute.amount, statute.unit))
        return replace(rule, statute_period=None)

    def dormancy(self, raw: dict[str, Any]) -> Dormancy:
        path = ("dormancy",)
        self.only(raw, path, _DORMANCY_KEYS)
        enabled = raw.get("enabled", False)
        if not isinstance(enabled, bool):
            self.fail((*path, "enabled"), "dormancy.enabled must be true or false")
        texts = {k: self.text(raw, path, k) for k in ("system", "table", "last_active")}
        days, notice = (self.whole(raw, path, k) for k in ("days", "notice_days"))
        if notice >= days:
            self.fail((*path, "notice_days"), "dormancy.notice_days must be less than days")
        email = self.text(raw, path, "email_column") if "email_column" in raw else "email"
        keep = self.whole(raw, path, "keep_days") if "keep_days" in raw else 3 * 365
        return Dormancy(
            **texts,
            days=days,
            notice_days=notice,
            email_column=email,
            enabled=enabled,
            keep_days=keep,
        )

    # The shapes of values.

    def only(self, raw: dict[str, Any], path: tuple[str, ...], allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in raw:
            if key not in allowed:
                where = ".".join(path) + ": " if path else ""
                self.fail(
                    (*path, key), f"{where}unknown key {key!r}; accepted: {', '.join(allowed)}"
                )

    def table(self, raw: object, path: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(path, f"{'.'.join(path)} must be a table")
        return raw

    def text(self, raw: dict[str, Any], path: tuple[str, ...], key: str) -> str:
        if key not in raw:
            self.fail(path, f"{'.'.join(path)}: missing {key!r}")
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), f"{'.'.join((*path, key))} must be a non-empty string")
        return value.strip()

    def whole(self, raw: dict[str, Any], path: tuple[str, ...], key: str) -> int:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(
                (*path, key) if key in raw else path,
                f"dormancy.{key} must be a positive whole number of days",
            )
        return value

    def choice(
        self, raw: dict[str, Any], path: tuple[str, ...], key: str, kind: type[StrEnum]
    ) -> Any:
        value = self.text(raw, path, key)
        try:
            return kind(value)
        except ValueError:
            accepted = ", ".join(member.value for member in kind)
            self.fail(
                (*path, key),
                f"{'.'.join((*path, key))}: unknown {key} {value!r}; accepted: {accepted}",
            )


class RetentionError(RuntimeError):
    """A job cannot run as configured; the message names what to fix."""
