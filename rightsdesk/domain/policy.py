"""The privacy policy (개인정보 처리방침): the advance-notice rule, its generated sections, diffs.

Notice rule. Every seed policy promises that a change is announced at least 7 days before it
takes effect, and at least 30 days before when users' rights change materially (collection
items, purposes, provision to third parties). The notice period is counted like the response
deadlines (민법 §155–§161): from the moment the notice goes out, taken as a date in the
operator's time zone; that day is not counted (§157) unless the notice goes out at 00:00; the
period ends at 24:00 of its last day (§159); a last day that is a Saturday or public holiday
moves to the next working day (§161, the conservative reading: it only lengthens the notice).
The change may take effect on the day after the period has run in full: a notice sent on
1 March for a minor change allows 9 March at the earliest (2–8 March are the 7 days).

Generated sections. What rightsdesk itself knows — the retention schedule, the recipients of
the data map, the rights and how to use them, the privacy officer — is written into the policy
from the same data the system runs on. A draft names where each goes with a marker on a line
of its own (``[[retention]]``, ``[[third_parties]]``, ``[[processors]]``, ``[[rights]]``,
``[[officer]]``); a marker left out is appended at the end, so a published policy always
carries all five. The data map's recipients go by their role: third parties under
개인정보의 제3자 제공 (PIPA §17), processors under 개인정보 처리업무의 위탁 (§26).
``[[recipients]]``, the marker of texts written before roles, stands for both, third parties
first.
Generated text is Markdown with every value escaped.

Pure: no Flask, no SQLAlchemy (the services pass plain values in).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from rightsdesk.domain.datamap import Recipient
from rightsdesk.domain.holiday_calendar import DayOff, HolidayCalendar
from rightsdesk.domain.retention import Rule
from rightsdesk.domain.right_periods import RightPeriod, period_text


class ChangeKind(StrEnum):
    MINOR = "minor"  # 7 days' notice
    MATERIAL = "material"  # 30 days': collection items, purposes, third-party provision


NOTICE_DAYS: Mapping[ChangeKind, int] = {ChangeKind.MINOR: 7, ChangeKind.MATERIAL: 30}
SECTIONS = ("retention", "third_parties", "processors", "rights", "officer")
RECIPIENT_SECTIONS = ("third_parties", "processors")  # what [[recipients]] stands for
LANGUAGES = ("ko", "en")


def parse_change(value: str) -> ChangeKind:
    try:
        return ChangeKind(value.strip().lower())
    except ValueError:
        raise ValueError(f"unknown change {value!r}; accepted: minor, material") from None


# --- the notice period -----------------------------------------------------------------------


@dataclass(frozen=True)
class NoticePeriod:
    """How long a notice sent at ``notice_at`` must run, and the first allowed effective date."""

    change: ChangeKind
    days: int
    notice_local: datetime
    first_day: date
    raw_last_day: date
    skipped: tuple[DayOff, ...]
    last_day: date

    @property
    def earliest_effective(self) -> date:
        return self.last_day + timedelta(days=1)


def notice_period(
    *,
    notice_at: datetime,
    change: ChangeKind,
    calendar: HolidayCalendar,
    tz: ZoneInfo,
    midnight_counts: bool = True,
    roll_forward: bool = True,
) -> NoticePeriod:
    """The notice period of a ``change`` announced at ``notice_at`` (an aware instant)."""
    if notice_at.tzinfo is None or notice_at.utcoffset() is None:
        raise ValueError("the notice moment needs a UTC offset")
    local = notice_at.astimezone(tz)
    days = NOTICE_DAYS[change]
    starts_at_midnight = midnight_counts and local.time() == time(0)
    first = local.date() if starts_at_midnight else local.date() + timedelta(days=1)
    raw_last = first + timedelta(days=days - 1)
    last, skipped = raw_last, []
    while roll_forward and (off := calendar.day_off(last)) is not None:
        skipped.append(off)
        last += timedelta(days=1)
    return NoticePeriod(change, days, local, first, raw_last, tuple(skipped), last)


class NoticeTooShort(ValueError):
    """An effective date that leaves less than the promised notice."""

    def __init__(self, effective: date, period: NoticePeriod) -> None:
        self.effective = effective
        self.period = period
        super().__init__(
            f"a {period.change.value} change needs {period.days} days' notice: announced on "
            f"{period.notice_local.date().isoformat()}, it can take effect on "
            f"{period.earliest_effective.isoformat()} at the earliest, not "
            f"{effective.isoformat()}"
        )


def check_effective_date(effective: date, period: NoticePeriod) -> None:
    if effective < period.earliest_effective:
        raise NoticeTooShort(effective, period)


# --- generated sections ----------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BLOCK_START = re.compile(r"^(\d*)([#+\-=.)])")
MARKER = re.compile(
    r"^[ \t]*\[\[(retention|recipients|third_parties|processors|rights|officer)\]\][ \t]*$",
    re.M,
)


def md_escape(text: str) -> str:
    """A value as literal Markdown text on one line: no markup, no HTML, no table breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return _BLOCK_START.sub(r"\1\\\2", escaped, count=1)


@dataclass(frozen=True)
class Officer:
    name: str
    email: str
    phone: str | None = None
    title: str | None = None  # 직위
    department: str | None = None  # 소속 부서


@dataclass(frozen=True)
class PolicyFacts:
    """Everything the generated sections are made of, as plain values."""

    organisation_ko: str
    organisation_en: str
    officer: Officer
    rules: Sequence[Rule]
    recipients: Sequence[Recipient]
    request_url: str  # the request form; ?kind=… is appended
    periods: Mapping[str, RightPeriod]  # by kind value: the statute's period and any promise
    objection_ko: str
    objection_en: str
    kr_bodies: bool = True  # list KISA 118, 1301, 182 (the KR profile)


_TEXT = {
    "retention": {
        "ko": ("## 개인정보의 보유 기간", ""),
        "en": ("## How long we keep records", ""),
    },
    "retention_statute": {
        "ko": (
            "### 법령에 따른 보존",
            "다른 법령에 따라 보존하는 기록과 그 기간은 다음과 같습니다.",
        ),
        "en": ("### Kept because a law requires it", "Records other laws make us keep:"),
    },
    "retention_policy": {
        "ko": (
            "### 내부 방침에 따른 보존",
            "법령상 의무가 아니라 회사의 내부 방침에 따라 보존하는 기록과 그 목적은 다음과 "
            "같습니다.",
        ),
        "en": (
            "### Kept under our own policy",
            "Records we keep by our own choice, not because a law requires it, and why:",
        ),
    },
    "retention_none": {
        "ko": "해당 없음.",
        "en": "None.",
    },
    "retention_head": {
        "ko": "| 구분 | 보유 기간 | 근거 |\n|---|---|---|",
        "en": "| Category | Period | Basis |\n|---|---|---|",
    },
    "retention_policy_head": {
        "ko": "| 구분 | 보유 기간 | 목적 |\n|---|---|---|",
        "en": "| Category | Period | Purpose |\n|---|---|---|",
    },
    "recipients": {
        "ko": ("## 개인정보의 제3자 제공", "개인정보를 다음과 같이 제공합니다."),
        "en": ("## Provision to third parties", "We provide personal data to:"),
    },
    "recipients_head": {
        "ko": "| 제공받는 자 | 제공받는 자의 이용 목적 | 제공 항목 | 보유·이용 기간 | 연락처 |\n"
        "|---|---|---|---|---|",
        "en": "| Recipient | Their purpose | Categories | How long they keep it | Contact |\n"
        "|---|---|---|---|---|",
    },
    "no_recipients": {
        "ko": "개인정보를 제3자에게 제공하지 않습니다.",
        "en": "We provide personal data to no third party.",
    },
    "processors": {
        "ko": (
            "## 개인정보 처리업무의 위탁",
            "원활한 서비스 제공을 위하여 다음과 같이 개인정보 처리업무를 위탁하고 있습니다.",
        ),
        "en": (
            "## Processing entrusted to others",
            "We entrust the processing of personal data to these processors:",
        ),
    },
    "processors_head": {
        "ko": "| 수탁자 | 위탁업무의 내용 | 항목 | 연락처 |\n|---|---|---|---|",
        "en": "| Processor | Task entrusted | Categories | Contact |\n|---|---|---|---|",
    },
    "no_processors": {
        "ko": "개인정보 처리업무를 위탁하지 않습니다.",
        "en": "We entrust the processing of personal data to no one.",
    },
    "rights": {
        "ko": (
            "## 정보주체의 권리와 행사 방법",
            "정보주체(만 14세 미만 아동은 법정대리인)는 언제든지 다음 권리를 행사할 수 있으며, "
            "대리인(위임장 필요)을 통해서도 할 수 있습니다. 요청을 받은 날부터 권리별로 아래 "
            "기간 이내에 처리하고 결과를 알려 드립니다.",
        ),
        "en": (
            "## Your rights and how to use them",
            "You (or the legal representative of a child under 14, or an agent with a power of "
            "attorney) may at any time make these requests. We answer within the period shown "
            "for each right, counted from receiving a request.",
        ),
    },
    "objection": {"ko": "### 이의제기 방법", "en": "### How to object"},
    "bodies": {
        "ko": (
            "개인정보 침해에 대한 신고나 상담은 다음 기관에도 문의할 수 있습니다: "
            "개인정보침해신고센터(privacy.kisa.or.kr, 국번 없이 118), "
            "개인정보 분쟁조정위원회(www.kopico.go.kr, 1833-6972), "
            "대검찰청(www.spo.go.kr, 국번 없이 1301), 경찰청(ecrm.police.go.kr, 국번 없이 182)."
        ),
        "en": (
            "You may also contact: the Personal Information Infringement Report Center "
            "(privacy.kisa.or.kr, call 118), the Personal Information Dispute Mediation Committee "
            "(www.kopico.go.kr, 1833-6972), the Supreme Prosecutors' Office (www.spo.go.kr, "
            "call 1301), the Korean National Police Agency (ecrm.police.go.kr, call 182)."
        ),
    },
    "officer": {
        "ko": (
            "## 개인정보 보호책임자",
            "개인정보 관련 문의, 불만 처리, 피해 구제는 아래로 연락해 주십시오.",
        ),
        "en": ("## Privacy officer", "For questions, complaints and remedies, contact:"),
    },
}

RIGHTS = (
    ("access", "열람", "Access to your personal data"),
    ("correction", "정정", "Correction"),
    ("deletion", "삭제", "Deletion"),
    ("suspension", "처리정지", "Suspension of processing"),
    ("consent_withdrawal", "동의 철회", "Withdrawal of consent"),
    ("automated_decision", "자동화된 결정에 대한 거부·설명 요구", "Automated decisions"),
)


def _retention_row(rule: Rule, language: str, basis: str, period: str) -> str:
    return f"| {md_escape(rule.label(language))} | {md_escape(period)} | {md_escape(basis)} |"


def retention_section(rules: Iterable[Rule], language: str) -> str:
    """Two tables: what a statute makes the operator keep (with the article), and what its own
    policy keeps (with its stated purpose; a statute kept longer by reason appears in both)."""
    kept = [r for r in rules if r.keeps]
    statute = [
        _retention_row(r, language, r.basis, r.statutory_text(language))
        for r in kept
        if r.statutory
    ]
    policy = [
        _retention_row(r, language, r.reason or r.basis, r.period_text(language))
        for r in kept
        if not r.statutory or r.reason
    ]
    lines = [_TEXT["retention"][language][0]]
    for key, head, rows in (
        ("retention_statute", "retention_head", statute),
        ("retention_policy", "retention_policy_head", policy),
    ):
        title, intro = _TEXT[key][language]
        lines += ["", title, ""]
        if rows:
            lines += [intro, "", _TEXT[head][language], *rows]
        else:
            lines.append(_TEXT["retention_none"][language])
    return "\n".join(lines)


def _cell(value: str) -> str:
    return md_escape(value) if value.strip() else "-"


#: Words for the data categories maps commonly use; any other category is shown as written
#: (write it in the policy's own words in the data map, e.g. "주문 정보").
CATEGORY_WORDS: Mapping[str, tuple[str, str]] = {
    "identity": ("성명 등 신원 정보", "identity (name, date of birth)"),
    "contact": ("연락처(이메일·전화번호·주소)", "contact details (e-mail, phone, address)"),
    "order": ("주문·배송 정보", "orders and deliveries"),
    "payment": ("결제 정보", "payments"),
    "marketing": ("마케팅 수신 동의 정보", "marketing consents"),
    "complaint": ("상담·불만 처리 기록", "complaints and support"),
    "access_log": ("접속 기록", "access logs"),
    "device": ("기기 정보", "device data"),
}


def categories_text(categories: Sequence[str], language: str) -> str:
    """The items provided or entrusted, in the policy's language."""
    index = 0 if language == "ko" else 1
    return ", ".join(
        CATEGORY_WORDS[c][index] if c in CATEGORY_WORDS else c for c in categories
    )


def third_parties_section(recipients: Sequence[Recipient], language: str) -> str:
    """개인정보의 제3자 제공: the recipients that are no processors, with their own purpose,
    the items provided and how long they keep them (PIPA §17②)."""
    title, intro = _TEXT["recipients"][language]
    third = [r for r in recipients if not r.is_processor]
    if not third:
        return "\n".join([title, "", _TEXT["no_recipients"][language]])
    rows = [
        f"| {md_escape(r.name)} | {md_escape(r.purpose_in(language))} | "
        f"{md_escape(categories_text(r.categories, language))} | "
        f"{_cell(r.retention_in(language))} | {_cell(r.contact)} |"
        for r in third
    ]
    return "\n".join([title, "", intro, "", _TEXT["recipients_head"][language], *rows])


def processors_section(recipients: Sequence[Recipient], language: str) -> str:
    """개인정보 처리업무의 위탁: the processors (수탁자) and the task entrusted (PIPA §26②)."""
    title, intro = _TEXT["processors"][language]
    processors = [r for r in recipients if r.is_processor]
    if not processors:
        return "\n".join([title, "", _TEXT["no_processors"][language]])
    rows = [
        f"| {md_escape(r.name)} | {md_escape(r.purpose_in(language))} | "
        f"{md_escape(categories_text(r.categories, language))} | {_cell(r.contact)} |"
        for r in processors
    ]
    return "\n".join([title, "", intro, "", _TEXT["processors_head"][language], *rows])


def rights_section(facts: PolicyFacts, language: str) -> str:
    title, intro = _TEXT["rights"][language]
    separator = "&" if "?" in facts.request_url else "?"
    items = [
        f"- [{ko if language == 'ko' else en}]"
        f"(<{facts.request_url}{separator}kind={kind}&lang={language}>)"
        + (f": {period_text(facts.periods[kind], language)}" if kind in facts.periods else "")
        for kind, ko, en in RIGHTS
    ]
    objection = facts.objection_ko if language == "ko" else facts.objection_en
    lines = [title, "", intro, "", *items, ""]
    lines += [_TEXT["objection"][language], "", md_escape(objection)]
    if facts.kr_bodies:
        lines += ["", _TEXT["bodies"][language]]
    return "\n".join(lines)


def officer_section(facts: PolicyFacts, language: str) -> str:
    title, intro = _TEXT["officer"][language]
    officer = facts.officer
    labels = _OFFICER_LABELS[language]
    values = (officer.name, officer.title, officer.department, officer.email, officer.phone)
    lines = [title, "", intro, ""]
    lines += [f"- {label}: {md_escape(v)}" for label, v in zip(labels, values, strict=True) if v]
    return "\n".join(lines)


_OFFICER_LABELS = {
    "ko": ("성명", "직위", "소속 부서", "이메일", "전화"),
    "en": ("Name", "Title", "Department", "E-mail", "Phone"),
}


def generated_sections(facts: PolicyFacts, language: str) -> dict[str, str]:
    """The generated sections of the policy in ``language`` (ko or en), as Markdown, by
    marker name (``recipients`` is the third parties' and the processors' sections)."""
    third_parties = third_parties_section(facts.recipients, language)
    processors = processors_section(facts.recipients, language)
    return {
        "retention": retention_section(facts.rules, language),
        "third_parties": third_parties,
        "processors": processors,
        "recipients": f"{third_parties}\n\n{processors}",
        "rights": rights_section(facts, language),
        "officer": officer_section(facts, language),
    }


def expand(body: str, sections: Mapping[str, str]) -> str:
    """``body`` with each marker replaced by its section; sections without a marker are
    appended in the standard order."""
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        used.update(RECIPIENT_SECTIONS if name == "recipients" else (name,))
        if name == "recipients" and "recipients" not in sections:
            return "\n\n".join(sections[part] for part in RECIPIENT_SECTIONS)
        return sections[name]

    expanded = MARKER.sub(replace, body.replace("\r\n", "\n")).rstrip()
    missing = [sections[name] for name in SECTIONS if name not in used]
    return "\n\n".join([expanded, *missing]).strip() + "\n"


def drifted(published: str, sections: Mapping[str, str]) -> list[str]:
    """The generated sections that no longer appear verbatim in a published text: the
    system's facts changed since it was published, so a new version is due."""
    text = published.replace("\r\n", "\n")
    return [name for name in SECTIONS if sections[name] not in text]


# --- diffs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    op: str  # "equal", "delete", "insert"
    text: str


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: kept, removed, added, or changed (with word-level segments)."""

    op: str  # "equal", "delete", "insert", "change"
    old_number: int | None
    new_number: int | None
    segments: tuple[Segment, ...]


_WORDS = re.compile(r"\s+|[^\s]+")


def _segments(old: str, new: str) -> tuple[Segment, ...]:
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(Segment("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("delete", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("insert", "".join(b[j1:j2])))
    return tuple(out)


def diff(old: str, new: str, *, context: int | None = 3) -> list[DiffLine]:
    """Line diff of two texts; a changed line pairs with its replacement and shows which words
    changed. ``context`` unchanged lines are kept around each change (``None``: all of them);
    a skipped run is one ``equal`` line with no numbers and the text ``…``."""
    a, b = old.replace("\r\n", "\n").split("\n"), new.replace("\r\n", "\n").split("\n")
    lines: list[DiffLine] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [
                DiffLine("equal", i1 + k + 1, j1 + k + 1, (Segment("equal", a[i1 + k]),))
                for k in range(i2 - i1)
            ]
        else:
            lines += _changed(tag, a, b, (i1, i2, j1, j2))
    return lines if context is None else _trim(lines, context)


def _changed(
    tag: str, a: list[str], b: list[str], span: tuple[int, int, int, int]
) -> list[DiffLine]:
    """One non-equal opcode: replaced lines paired as changes (word by word), then the
    remaining deletions and insertions."""
    i1, i2, j1, j2 = span
    pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
    lines = [
        DiffLine("change", i1 + k + 1, j1 + k + 1, _segments(a[i1 + k], b[j1 + k]))
        for k in range(pairs)
    ]
    lines += [
        DiffLine("delete", i + 1, None, (Segment("delete", a[i]),)) for i in range(i1 + pairs, i2)
    ]
    lines += [
        DiffLine("insert", None, j + 1, (Segment("insert", b[j]),)) for j in range(j1 + pairs, j2)
    ]
    return lines


def _trim(lines: list[DiffLine], context: int) -> list[DiffLine]:
    changed = [i for i, line in enumerate(lines) if line.op != "equal"]
    keep = {j for i in changed for j in range(i - context, i + context + 1)}
    out: list[DiffLine] = []
    for i, line in enumerate(lines):
        if i in keep or line.op != "equal":
            out.append(line)
        elif not out or out[-1].old_number is not None or out[-1].op != "equal":
            out.append(DiffLine("equal", None, None, (Segment("equal", "…"),)))
    return out


def has_changes(lines: Iterable[DiffLine]) -> bool:
    return any(line.op != "equal" for line in lines)
