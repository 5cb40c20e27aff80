"""The operator's holiday calendar: the ``holidays`` package plus the override table."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.extensions import db
from rightsdesk.models import HolidayOverride, OverrideAction
from rightsdesk.requests.deadlines import RecomputeResult, calendar_for, recompute_open_deadlines

__all__ = ["calendar_for", "clear_override", "list_overrides", "set_override"]


def list_overrides(country: str) -> list[HolidayOverride]:
    query = select(HolidayOverride).where(HolidayOverride.country == country)
    return list(db.session.scalars(query.order_by(HolidayOverride.day)))


def set_override(
    *, country: str, day: date, action: OverrideAction, name: str, actor: Actor, now: datetime
) -> RecomputeResult:
    """Add a day off (or declare a listed holiday a working day) and re-date open requests."""
    override = db.session.scalar(
        select(HolidayOverride).where(
            HolidayOverride.country == country, HolidayOverride.day == day
        )
    )
    if override is None:
        override = HolidayOverride(country=country, day=day, created_at=now)
        db.session.add(override)
    override.action, override.name = action, name
    db.session.flush()
    audit.record(
        f"holiday.{action.value}",
        actor=actor,
        now=now,
        data={"country": country, "day": day.isoformat(), "name": name},
    )
    result = recompute_open_deadlines(actor=actor, now=now)
    db.session.commit()
    return result


def clear_override(
    *, country: str, day: date, actor: Actor, now: datetime
) -> RecomputeResult | None:
    """Drop an override; ``None`` if there was none for that day."""
    override = db.session.scalar(
        select(HolidayOverride).where(
            HolidayOverride.country == country, HolidayOverride.day == day
        )
    )
    if override is None:
        return None
    db.session.delete(override)
    db.session.flush()
    audit.record(
        "holiday.cleared", actor=actor, now=now, data={"country": country, "day": day.isoformat()}
    )
    result = recompute_open_deadlines(actor=actor, now=now)
    db.session.commit()
    return result
