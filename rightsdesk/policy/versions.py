"""Privacy policy versions: drafts, publishing with advance notice, and the public history.

A version is a draft until an admin publishes it. Publishing checks the notice rule
(:mod:`rightsdesk.domain.policy`: 7 days for a minor change, 30 for a material one, counted
like the deadlines from the moment of publishing), freezes the text with its generated
sections expanded (what users were shown never changes afterwards), and starts the notice
campaign to every user of the data map's identity source. A published version is never
edited: a correction is a new version.

Versions already published elsewhere (the policy in force when rightsdesk is installed, and
its history) are imported with their real past effective dates and where they were published
(``imported_from``): stored as published and frozen, word for word (no generated sections),
without the notice rule — their notice was given where they were published — and without a
notice campaign. Only past versions older than every version published here can be imported;
anything that takes effect later is a new change and goes through :func:`publish`.

Which version is in force is a matter of dates in the operator's time zone: the published
version with the latest effective date on or before today; later ones are upcoming.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise

from flask import current_app
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import current_organisation, settings
from rightsdesk.core.urls import external_url
from rightsdesk.domain.kinds import SUBJECT_KINDS
from rightsdesk.domain.policy import (
    MARKER,
    ChangeKind,
    NoticePeriod,
    Officer,
    PolicyFacts,
    check_effective_date,
    diff,
    drifted,
    expand,
    generated_sections,
    notice_period,
)
from rightsdesk.domain.right_periods import right_periods
from rightsdesk.extensions import db
from rightsdesk.models import NoticeCampaign, PolicyVersion
from rightsdesk.policy import campaigns
from rightsdesk.requests.deadlines import calendar_for, promised_periods
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, current_schedule

LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_BODY = 200_000
MAX_SOURCE = 500


class PolicyError(ValueError):
    """A version that cannot be saved or published as asked; the message says why."""


# --- Markdown ----------------------------------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def to_html(text: str) -> Markup:
    """Markdown as HTML; raw HTML in the text is shown as text, never passed through, and
    links with unsafe schemes (javascript:, data:, …) are not made links."""
    return Markup(_markdown.render(text or ""))


# --- facts and notice --------------------------------------------------------------------------


def local_today(now: datetime) -> date:
    return now.astimezone(settings().tz).date()


def notice_for(change: ChangeKind, now: datetime) -> NoticePeriod:
    """The notice period of a change announced now, on the default jurisdiction's calendar."""
    profile = settings().profile()
    return notice_period(
        notice_at=now,
        change=change,
        calendar=calendar_for(profile),
        tz=settings().tz,
        midnight_counts=profile.midnight_counts,
        roll_forward=profile.roll_forward,
    )


def _published_rules() -> list:
    """The schedule's rules, and the dormancy keep when the operator's policy has one."""
    schedule = current_schedule()
    dormancy = schedule.dormancy
    extra = [dormancy.as_rule()] if dormancy is not None and dormancy.enabled else []
    return [*schedule, *extra]


def facts() -> PolicyFacts:
    """What the generated sections are made of, from the data the system runs on."""

    organisation = current_organisation()
    profile = settings().profile()
    try:
        recipients = configured_datamap().recipients
    except FulfilmentError:
        recipients = ()
    return PolicyFacts(
        organisation_ko=organisation.name_ko,
        organisation_en=organisation.name_en,
        officer=Officer(
            organisation.privacy_officer_name,
            organisation.privacy_officer_email,
            organisation.privacy_officer_phone,
            organisation.privacy_officer_title,
            organisation.privacy_officer_department,
        ),
        rules=_published_rules(),
        recipients=recipients,
        request_url=external_url("public.new_request"),
        periods={
            right.kind.value: right
            for right in right_periods(profile, SUBJECT_KINDS, promised_periods(profile.code))
        },
        objection_ko=organisation.objection_method_ko,
        objection_en=organisation.objection_method_en,
        kr_bodies=profile.code == "KR",
    )


def expanded(version: PolicyVersion, language: str) -> str:
    """The text users see: frozen once published, expanded from today's facts for a draft."""
    body = version.body_ko if language == "ko" else (version.body_en or "")
    if version.published_at is not None or not body.strip():
        return body
    return expand(body, generated_sections(facts(), language))


# --- drafts ------------------------------------------------------------------------------------


@dataclass
class Draft:
    label: str
    change: str
    effective_date: date
    body_ko: str
    body_en: str = ""
    summary_ko: str = ""
    summary_en: str = ""


def _checked(draft: Draft) -> Draft:
    if not LABEL.fullmatch(draft.label or "") or draft.label == "diff":
        raise PolicyError(
            _("The label must be 1–40 letters, digits, '.', '_' or '-' (e.g. 2026-01-15).")
        )
    if draft.change not in {c.value for c in ChangeKind}:
        raise PolicyError(_("The change must be minor or material."))
    if not draft.body_ko.strip():
        raise PolicyError(_("The Korean text is required."))
    if max(len(draft.body_ko), len(draft.body_en)) > MAX_BODY:
        raise PolicyError(_("The text is longer than 200,000 characters."))
    return draft


def create_version(draft: Draft, *, actor: Actor, now: datetime) -> PolicyVersion:
    _checked(draft)
    if db.session.scalar(select(PolicyVersion.id).where(PolicyVersion.label == draft.label)):
        raise PolicyError(_("A version labelled %(label)s exists already.", label=draft.label))
    version = PolicyVersion(created_by=actor, created_at=now)
    _apply(version, draft)
    db.session.add(version)
    db.session.flush()
    audit.record("policy.drafted", actor=actor, now=now, data=_about(version))
    db.session.commit()
    return version


def update_version(
    version: PolicyVersion, draft: Draft, *, actor: Actor, now: datetime
) -> PolicyVersion:
    if version.published_at is not None:
        raise PolicyError(_("A published version is never changed: write a new version."))
    _checked(draft)
    clash = select(PolicyVersion.id).where(
        PolicyVersion.label == draft.label, PolicyVersion.id != version.id
    )
    if db.session.scalar(clash):
        raise PolicyError(_("A version labelled %(label)s exists already.", label=draft.label))
    _apply(version, draft)
    audit.record("policy.edited", actor=actor, now=now, data=_about(version))
    db.session.commit()
    return version


def _apply(version: PolicyVersion, draft: Draft) -> None:
    version.label = draft.label
    version.change = draft.change
    version.effective_date = draft.effective_date
    version.body_ko = draft.body_ko.replace("\r\n", "\n")
    version.body_en = draft.body_en.replace("\r\n", "\n")
    version.summary_ko = draft.summary_ko.strip() or None
    version.summary_en = draft.summary_en.strip() or None


def _about(version: PolicyVersion) -> dict[str, object]:
    return {
        "version": version.id,
        "label": version.label,
        "change": version.change,
        "effective_date": version.effective_date.isoformat(),
    }


# --- importing versions published elsewhere ---------------------------------------------------


def import_version(draft: Draft, source: str, *, actor: Actor, now: datetime) -> PolicyVersion:
    """Store a version already published elsewhere with its real past effective date, marked
    with where it was published; frozen as given, no notice rule, no campaign; one commit.

    Raises :class:`PolicyError` (nothing written) for a future date (a new change: publish
    it with notice), a date another published version takes effect on, a date after a
    version published here, or generated-section markers in the text."""
    _checked(draft)
    source = " ".join((source or "").split())
    if not source or len(source) > MAX_SOURCE:
        raise PolicyError(
            _(
                "Say where the version was published: an address or a description of up to "
                "500 characters."
            )
        )
    _check_import(draft, local_today(now))
    version = PolicyVersion(created_by=actor, created_at=now, imported_from=source)
    _apply(version, draft)
    version.published_at, version.published_by = now, actor
    db.session.add(version)
    db.session.flush()
    audit.record(
        "policy.imported", actor=actor, now=now, data={**_about(version), "source": source}
    )
    db.session.commit()
    return version


def _check_import(draft: Draft, today: date) -> None:
    day = draft.effective_date.isoformat()
    if draft.effective_date > today:
        raise PolicyError(
            _(
                "%(date)s is in the future: a version not yet in force is a new change; add it "
                "as a draft and publish it with notice.",
                date=day,
            )
        )
    if MARKER.search(draft.body_ko) or MARKER.search(draft.body_en):
        raise PolicyError(
            _(
                "An imported version is kept as it was published: it cannot contain markers "
                "such as [[recipients]]."
            )
        )
    if db.session.scalar(select(PolicyVersion.id).where(PolicyVersion.label == draft.label)):
        raise PolicyError(_("A version labelled %(label)s exists already.", label=draft.label))
    _check_import_date(draft.effective_date)


def _check_import_date(effective: date) -> None:
    published_ = select(PolicyVersion).where(PolicyVersion.published_at.is_not(None))
    same = db.session.scalar(published_.where(PolicyVersion.effective_date == effective).limit(1))
    if same is not None:
        raise PolicyError(
            _(
                "Version %(label)s already takes effect on %(date)s.",
                label=same.label,
                date=effective.isoformat(),
            )
        )
    here = published_.where(
        PolicyVersion.imported_from.is_(None), PolicyVersion.effective_date < effective
    )
    newer = db.session.scalar(here.order_by(PolicyVersion.effective_date).limit(1))
    if newer is not None:
        raise PolicyError(
            _(
                "Version %(label)s was published here with notice and takes effect on "
                "%(date)s: an imported version must be older than every version published here.",
                label=newer.label,
                date=newer.effective_date.isoformat(),
            )
        )


# --- publishing --------------------------------------------------------------------------------


@dataclass
class Published:
    version: PolicyVersion
    period: NoticePeriod
    campaign: NoticeCampaign | None
    warning: str | None = None


def publish(version: PolicyVersion, *, actor: Actor, now: datetime) -> Published:
    """Check the notice rule, freeze the text, start the notice campaign; one commit.

    Raises :class:`~rightsdesk.domain.policy.NoticeTooShort` (naming the earliest allowed
    date) or :class:`PolicyError`; nothing is written then.
    """
    if version.published_at is not None:
        raise PolicyError(_("This version is published already."))
    period = notice_for(ChangeKind(version.change), now)
    check_effective_date(version.effective_date, period)
    _check_order(version)
    for language in ("ko", "en"):
        text = expanded(version, language)
        setattr(version, f"body_{language}", text)
    version.published_at, version.published_by = now, actor
    db.session.flush()
    audit.record(
        "policy.published",
        actor=actor,
        now=now,
        data={**_about(version), "earliest_effective": period.earliest_effective.isoformat()},
    )
    campaign, warning = _start_notice(version, actor=actor, now=now)
    db.session.commit()
    return Published(version, period, campaign, warning)


def _check_order(version: PolicyVersion) -> None:
    later = db.session.scalar(
        select(PolicyVersion)
        .where(
            PolicyVersion.published_at.is_not(None),
            PolicyVersion.effective_date >= version.effective_date,
        )
        .limit(1)
    )
    if later is not None:
        raise PolicyError(
            _(
                "Version %(label)s takes effect on %(date)s: a new version must take effect "
                "after every published one.",
                label=later.label,
                date=later.effective_date.isoformat(),
            )
        )


def _start_notice(
    version: PolicyVersion, *, actor: Actor, now: datetime
) -> tuple[NoticeCampaign | None, str | None]:

    try:
        source = campaigns.identity_source(configured_datamap())
    except (FulfilmentError, campaigns.CampaignError) as error:
        audit.record("campaign.not_started", actor=actor, now=now, data={"reason": str(error)})
        return None, str(error)
    campaign = campaigns.start_campaign(
        purpose="policy_change",
        texts=campaigns.render_texts("policy_change", notice_context(version)),
        source=source,
        policy_version=version,
        actor=actor,
        now=now,
    )
    return campaign, None


def notice_context(version: PolicyVersion) -> dict[str, object]:
    return {
        "organisation": current_organisation(),
        "version": version,
        "privacy_url": external_url("public.privacy"),
        "version_url": external_url("public.privacy_version", label=version.label),
        "material": version.change == ChangeKind.MATERIAL,
    }


# --- reading -----------------------------------------------------------------------------------


@dataclass
class Timeline:
    """Published versions by date: the one in force, those to come, and earlier ones with the
    day each stopped applying."""

    current: PolicyVersion | None
    upcoming: list[PolicyVersion]
    history: list[tuple[PolicyVersion, date]]  # (version, last day in force)


def published() -> list[PolicyVersion]:
    query = select(PolicyVersion).where(PolicyVersion.published_at.is_not(None))
    return list(db.session.scalars(query.order_by(PolicyVersion.effective_date)))


def drafts() -> list[PolicyVersion]:
    query = select(PolicyVersion).where(PolicyVersion.published_at.is_(None))
    return list(db.session.scalars(query.order_by(PolicyVersion.created_at.desc())))


def timeline(today: date) -> Timeline:
    versions = published()
    in_force = [v for v in versions if v.effective_date <= today]
    upcoming = [v for v in versions if v.effective_date > today]
    current = in_force[-1] if in_force else None
    history = [(v, nxt.effective_date - timedelta(days=1)) for v, nxt in pairwise(in_force)]
    return Timeline(current, upcoming, list(reversed(history)))


def by_label(label: str, *, published_only: bool = True) -> PolicyVersion | None:
    query = select(PolicyVersion).where(PolicyVersion.label == label)
    if published_only:
        query = query.where(PolicyVersion.published_at.is_not(None))
    return db.session.scalar(query)


def previous_of(version: PolicyVersion) -> PolicyVersion | None:
    """The published version before ``version`` by effective date (what it replaces)."""
    query = select(PolicyVersion).where(
        PolicyVersion.published_at.is_not(None),
        PolicyVersion.effective_date < version.effective_date,
        PolicyVersion.id != version.id,
    )
    return db.session.scalar(query.order_by(PolicyVersion.effective_date.desc()).limit(1))


def compare(old: PolicyVersion | None, new: PolicyVersion, language: str):
    """The diff users and staff see: the expanded texts, line by line."""
    return diff(expanded(old, language) if old else "", expanded(new, language))


def drift(today: date) -> list[str]:
    """Generated sections of the version in force that no longer match the system's facts.

    None for an imported version: it is the operator's text as published elsewhere, which
    rightsdesk neither generated nor rewrites (:func:`imported_in_force` says so instead)."""
    current = timeline(today).current
    if current is None or current.imported_from is not None:
        return []
    return drifted(current.body_ko, generated_sections(facts(), "ko"))


def imported_in_force(today: date) -> bool:
    """Whether the version in force was imported as published elsewhere."""
    current = timeline(today).current
    return current is not None and current.imported_from is not None


def campaigns_of(version: PolicyVersion) -> list[NoticeCampaign]:
    query = select(NoticeCampaign).where(NoticeCampaign.policy_version_id == version.id)
    return list(db.session.scalars(query.order_by(NoticeCampaign.id)))


def default_locale() -> str:
    return str(current_app.config["DEFAULT_LOCALE"])


# --- the demo ----------------------------------------------------------------------------------

DEMO_BODY_KO = """# 개인정보 처리방침

{org}(이하 "회사")는 「개인정보 보호법」에 따라 이용자의 개인정보를 보호하고 이와 관련한 고충을
신속하고 원활하게 처리할 수 있도록 다음과 같이 개인정보 처리방침을 둡니다.

## 개인정보의 처리 목적

- 회원 가입 및 관리: 본인 확인, 회원자격 유지·관리
- 재화 또는 서비스 제공: 상품 배송, 대금 결제, 주문 내역 안내
{extra_ko}
## 처리하는 개인정보의 항목

이메일, 이름, 휴대전화번호, 생년월일, 배송지 주소, 결제 기록, 접속 기록(IP)

[[retention]]

[[recipients]]

[[rights]]

## 개인정보의 안전성 확보조치

비밀번호와 결제 정보는 암호화하여 저장하고, 개인정보를 처리하는 직원을 최소한으로 제한합니다.

[[officer]]

## 개인정보 처리방침의 변경

이 처리방침의 내용이 추가·삭제·수정되는 경우 시행일 최소 7일 전에, 수집 항목·이용 목적·제3자 제공 등
이용자 권리의 중요한 변경이 있는 경우 최소 30일 전에 이 페이지와 이메일로 알려 드립니다.
"""
DEMO_BODY_EN = """# Privacy policy

{org} ("we") protects your personal information under the Personal Information Protection Act
and sets out this policy so that complaints about it are handled quickly.

## Why we process personal information

- Membership: identifying you and managing your account
- Goods and services: delivery, payment, order updates
{extra_en}
## What we process

E-mail address, name, mobile number, birth date, delivery address, payment records, access logs (IP)

[[retention]]

[[recipients]]

[[rights]]

## How we keep it safe

Passwords and payment data are stored encrypted; only the staff who need it can reach personal data.

[[officer]]

## Changes to this policy

We announce a change at least 7 days before it takes effect, and at least 30 days before when
your rights change materially (what we collect, why, whom we provide it to), on this page and
by e-mail.
"""
DEMO_VERSIONS = (
    ("2024-03-15", "material", "2024-02-13", "", ""),
    (
        "2025-03-15",
        "minor",
        "2025-03-04",
        "- 고객 문의 처리: 문의 내용 확인, 처리 결과 안내\n",
        "- Customer support: reading your questions and answering them\n",
    ),
)


def load_demo_versions(*, actor: Actor) -> int:
    """Two published versions for the demo (the later one in force); none if any exists."""
    if db.session.scalar(select(PolicyVersion.id).limit(1)) is not None:
        return 0
    organisation = current_organisation()
    for label, change, announced, extra_ko, extra_en in DEMO_VERSIONS:
        at = datetime.fromisoformat(f"{announced}T10:00:00+09:00")
        version = PolicyVersion(
            label=label,
            change=change,
            effective_date=date.fromisoformat(label),
            body_ko=DEMO_BODY_KO.format(org=organisation.name_ko, extra_ko=extra_ko),
            body_en=DEMO_BODY_EN.format(org=organisation.name_en, extra_en=extra_en),
            created_by=actor,
            created_at=at,
        )
        db.session.add(version)
        version.body_ko, version.body_en = expanded(version, "ko"), expanded(version, "en")
        version.published_at, version.published_by = at, actor
    db.session.commit()
    return len(DEMO_VERSIONS)
