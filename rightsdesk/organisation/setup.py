"""The operator's identity and policy settings."""

from __future__ import annotations

from datetime import datetime

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
) -> Organisation:
    organisation = _the_organisation(slug, now)
    organisation.slug = slug
    organisation.name_ko, organisation.name_en = name_ko, name_en
    organisation.privacy_officer_name = officer_name
    organisation.privacy_officer_email = officer_email
    organisation.privacy_officer_phone = officer_phone
    db.session.flush()
    audit.record("organisation.set", actor=actor, now=now, data={"slug": slug})
    db.session.commit()
    return organisation


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
