"""Due dates of stored requests, and their recomputation when the calendar changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.domain.deadlines import (
    Deadline,
    compute_deadline,
    compute_notice_deadline,
    deferral_due,
)
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.domain.profiles import ClockStart, ExtensionRule, Period, Profile, Unit
from rightsdesk.domain.regions import calendar_of
from rightsdesk.extensions import db
from rightsdesk.models import HolidayOverride, OverrideAction, PromisedPeriod, Request


def calendar_for(profile: Profile) -> HolidayCalendar:
    """The working-day calendar of ``profile``, with the operator's overrides applied."""
    base = calendar_of(profile)
    if not profile.calendar_country:
        return base
    overrides = db.session.scalars(
        select(HolidayOverride).where(HolidayOverride.country == profile.calendar_country)
    ).all()
    added = {o.day: o.name for o in overrides if o.action is OverrideAction.ADD}
    removed = [o.day for o in overrides if o.action is OverrideAction.REMOVE]
    return base.with_overrides(added, removed)


def promised_periods(jurisdiction: str) -> dict[RequestKind, Period]:
    """The operator's own, shorter promises for one jurisdiction, as periods in days."""
    rows = db.session.scalars(
        select(PromisedPeriod).where(PromisedPeriod.jurisdiction == jurisdiction)
    )
    return {row.kind: Period(row.days, Unit.DAYS, "operator policy") for row in rows}


def deadline_for(
    request: Request, calendar: HolidayCalendar | None = None, extensions: int | None = None
) -> Deadline:
    """The request's deadline; ``extensions`` asks what it would be with that many."""
    context = settings()
    profile = context.profile(request.jurisdiction)
    return compute_deadline(
        received_at=clock_start(request, profile),
        kind=request.kind,
        profile=profile,
        calendar=calendar or calendar_for(profile),
        tz=context.tz,
        extensions=request.extension_count if extensions is None else extensions,
        paused_days=request.paused_days,
        policy=promised_periods(request.jurisdiction),
    )


def answer_without_delay(request: Request) -> bool:
    """Whether the law sets no number for this kind ("지체 없이"): its period is then only the
    operator's working target and is never to be called a legal deadline (legal.md §1)."""
    return settings().profile(request.jurisdiction).period(RequestKind(request.kind)).without_delay


def apply_deadline(request: Request, calendar: HolidayCalendar | None = None) -> Deadline:
    """Set the request's due dates from its receipt, kind, extensions and pauses."""
    context = settings()
    profile = context.profile(request.jurisdiction)
    calendar = calendar or calendar_for(profile)
    deadline = deadline_for(request, calendar)
    request.due_date = deadline.due
    request.promised_due_date = deadline.promised_due
    # The promise as made, not as extended: a postponement is told within the original period.
    promised = promised_periods(request.jurisdiction).get(request.kind)
    request.notice_due_date = notice_deadline(request, calendar, promised)
    if is_deferred(request):
        _date_deferral(request, profile, calendar)
    return deadline


def deferral_rule(request: Request) -> ExtensionRule | None:
    """The jurisdiction's deferral-until-the-ground-ends rule for the request's kind, if any."""
    rule = settings().profile(request.jurisdiction).extension(RequestKind(request.kind))
    return rule if rule is not None and rule.until_ground_ends else None


def is_deferred(request: Request) -> bool:
    """Postponed until its ground ends (법 §35③ 후문), whether or not the ground has ended."""
    return request.extension_count > 0 and deferral_rule(request) is not None


def _date_deferral(request: Request, profile: Profile, calendar: HolidayCalendar) -> None:
    """While the ground lasts the request has no legal date: ``due_date`` holds the operator's
    internal review date (shown as such). Once staff record the ground's end, access is due
    without delay: the operator's target from that day. A request postponed before deferrals
    were modelled (no review date) keeps its old date as the review date."""
    rule = deferral_rule(request)
    if rule is None:
        return
    request.promised_due_date = None
    if request.deferral_ended_at is not None:
        request.due_date = deferral_due(
            ended_at=request.deferral_ended_at,
            rule=rule,
            profile=profile,
            calendar=calendar,
            tz=settings().tz,
        )
    elif request.deferral_review_on is not None:
        request.due_date = request.deferral_review_on


def notice_deadline(
    request: Request, calendar: HolidayCalendar | None = None, promised: Period | None = None
) -> date:
    """The last day of a refusal or postponement notice: the statute's notice period, or the
    operator's promise for the kind where it ends earlier. Without ``promised``, the
    statutory date alone (the request page shows it beside the working one)."""
    context = settings()
    profile = context.profile(request.jurisdiction)
    return compute_notice_deadline(
        received_at=clock_start(request, profile),
        profile=profile,
        calendar=calendar or calendar_for(profile),
        tz=context.tz,
        promised=promised,
    )


def clock_start(request: Request, profile: Profile) -> datetime:
    """Receipt, or verification where the profile starts the clock there (receipt until then),
    or the subject's last answer to what staff asked (UK GDPR Art. 12A: identity, fee or
    clarification). The e-mail confirmation every request needs is not such a request."""
    if profile.clock_starts is ClockStart.VERIFICATION and request.verified_at:
        return request.verified_at
    if profile.clock_starts is ClockStart.LAST_ANSWER:
        return max(request.received_at, request.clock_restarted_at or request.received_at)
    return request.received_at


@dataclass
class RecomputeResult:
    checked: int = 0
    changed: list[tuple[str, date, date]] = field(default_factory=list)


def recompute_open_deadlines(*, actor: Actor, now: datetime) -> RecomputeResult:
    """Re-date every open request (after a calendar change); audit each one that moved.

    Runs inside the caller's transaction, so the calendar change and the new dates commit
    together or not at all.
    """
    context = settings()
    calendars: dict[str, HolidayCalendar] = {}
    result = RecomputeResult()
    query = select(Request).where(Request.status.in_(OPEN)).order_by(Request.id)
    for request in db.session.scalars(query).all():
        profile = context.profile(request.jurisdiction)
        if profile.code not in calendars:
            calendars[profile.code] = calendar_for(profile)
        _redate(request, calendars[profile.code], result, actor=actor, now=now)
    return result


def _redate(
    request: Request,
    calendar: HolidayCalendar,
    result: RecomputeResult,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Re-date one request; a move is added to ``result`` and audited."""
    before = (request.due_date, request.promised_due_date)
    apply_deadline(request, calendar)
    result.checked += 1
    after = (request.due_date, request.promised_due_date)
    if after != before:
        result.changed.append((request.reference, before[0], after[0]))
        audit.record(
            "request.redated",
            actor=actor,
            now=now,
            request_ref=request.reference,
            data={"from": _dates(before), "to": _dates(after)},
        )


def _dates(pair: tuple[date, date | None]) -> dict[str, str | None]:
    due, promised = pair
    return {"due": due.isoformat(), "promised": promised.isoformat() if promised else None}
