"""The operator's identity and policy settings."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import current_organisation, settings
from rightsdesk.domain.deadlines import check_policy_period
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.profiles import Period, Unit
from rightsdesk.extensions import db
from rightsdesk.models import Organisation, PromisedPeriod
from rightsdesk.requests.deadlines import recompute_open_deadlines

DEFAULT_OBJECTION_KO = (
    "이 결정에 이의가 있으시면 통지를 받은 날부터 30일 이내에 개인정보 보호책임자에게 이메일로 "
    "이의를 신청해 주십시오. 이의신청을 받은 날부터 10일 이내에 검토 결과를 알려 드립니다."
)


DEFAULT_OBJECTION_EN = (
    "If you disagree with this decision, e-mail an objection to our privacy officer within 30 "
    "days of this notice. We will tell you the outcome of our review within 10 days of receiving "
    "it."
)


# What the operator's identity may not leave empty (법 §30①, §31: the operator and its privacy
# officer are named in the policy and in every notice), with the words CLI and console share.
REQUIRED_IDENTITY = (
    ("slug", _l("The operator's short name (slug) must not be empty.")),
    ("name_ko", _l("The operator's Korean name must not be empty.")),
    ("name_en", _l("The operator's English name must not be empty.")),
    ("officer_name", _l("The privacy officer's name must not be empty.")),
    ("officer_email", _l("The privacy officer's e-mail address must not be empty.")),
)


class OrganisationError(ValueError):
    """An operator's identity that cannot be stored; the message is the user's language's."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(str(message))
        self.field = field


def check_identity(**fields: str | None) -> None:
    """Refuse an empty or whitespace-only required field (the first one, as one message)."""
    for field, message in REQUIRED_IDENTITY:
        if field in fields and not (fields[field] or "").strip():
            raise OrganisationError(field, message)


def set_up_organisation(
    *,
    slug: str,
    name_ko: str,
    name_en: str,
    officer_name: str,
    officer_email: str,
    officer_phone: str | None,
    actor: Actor,
    now: datetime,
    officer_title: str | None = None,
    officer_department: str | None = None,
) -> Organisation:
    """Create or update the operator; an empty name or officer field is an
    :class:`OrganisationError` and nothing is written."""
    check_identity(
        slug=slug,
        name_ko=name_ko,
        name_en=name_en,
        officer_name=officer_name,
        officer_email=officer_email,
    )
    organisation = _the_organisation(slug.strip(), now)
    organisation.slug = slug.strip()
    organisation.name_ko, organisation.name_en = name_ko.strip(), name_en.strip()
    organisation.privacy_officer_name = officer_name.strip()
    organisation.privacy_officer_email = officer_email.strip()
    organisation.privacy_officer_phone = _optional(officer_phone)
    organisation.privacy_officer_title = _optional(officer_title)
    organisation.privacy_officer_department = _optional(officer_department)
    db.session.flush()
    audit.record("organisation.set", actor=actor, now=now, data={"slug": organisation.slug})
    db.session.commit()
    return organisation


def _optional(value: str | None) -> str | None:
    return (value or "").strip() or None


def _the_organisation(slug: str, now: datetime) -> Organisation:
    """The one organisation; a new one (in the session) with the default objection texts."""
    organisation = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if organisation is None:
        organisation = Organisation(
            slug=slug,
            created_at=now,
            objection_method_ko=DEFAULT_OBJECTION_KO,
            objection_method_en=DEFAULT_OBJECTION_EN,
        )
        db.session.add(organisation)
    return organisation


def promise_period(
    *, kind: RequestKind, days: int | None, jurisdiction: str | None, actor: Actor, now: datetime
) -> int:
    """Record (or, with ``days=None``, drop) a shorter period the operator's policy promises.

    Returns how many open requests changed due date. A promise longer than the statute is
    refused: the law's period is a ceiling.
    """
    organisation = current_organisation()
    profile = settings().profile(jurisdiction)
    if days is not None:
        check_policy_period(profile, kind, Period(days, Unit.DAYS))
    _store_promise(organisation, profile.code, kind, days)
    db.session.flush()
    audit.record(
        "policy.promise",
        actor=actor,
        now=now,
        data={"jurisdiction": profile.code, "kind": kind.value, "days": days},
    )
    result = recompute_open_deadlines(actor=actor, now=now)
    db.session.commit()
    return len(result.changed)


def _store_promise(
    organisation: Organisation, jurisdiction: str, kind: RequestKind, days: int | None
) -> None:
    """Add, change or (``days=None``) delete the promise's row, in the session."""
    row = db.session.scalar(
        select(PromisedPeriod).where(
            PromisedPeriod.organisation_id == organisation.id,
            PromisedPeriod.jurisdiction == jurisdiction,
            PromisedPeriod.kind == kind,
        )
    )
    if days is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(
            PromisedPeriod(
                organisation=organisation, jurisdiction=jurisdiction, kind=kind, days=days
            )
        )
    else:
        row.days = days
