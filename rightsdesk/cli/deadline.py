"""``rightsdesk deadline``: the legal due date of a request, and how it was counted."""

from __future__ import annotations

import json
from datetime import date, datetime

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.cli.common import (
    InputError,
    choose_language,
    input_errors,
    language_option,
    parse_timestamp,
)
from rightsdesk.domain.deadlines import (
    Deadline,
    ExtensionNotAllowed,
    NaiveTimestamp,
    compute_deadline,
)
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import RequestKind, parse_kind
from rightsdesk.domain.profiles import Profile, RegionKind
from rightsdesk.domain.regions import calendar_of
from rightsdesk.extensions import db


@click.command("deadline")
@click.option("--received", required=True, help="When the request reached you, with offset.")
@click.option("--kind", required=True, help="access, correction, deletion, suspension, …")
@click.option("--jurisdiction", default=None, help="KR (default), EU, UK, US-CA, BR.")
@click.option("--extended", is_flag=True, help="With one extension (postponement) granted.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@language_option
@with_appcontext
def deadline_command(
    received: str,
    kind: str,
    jurisdiction: str | None,
    extended: bool,
    as_json: bool,
    language: str | None,
) -> None:
    """Print the legal due date of a request, then how it was counted."""
    from flask import current_app

    from rightsdesk.core.context import settings

    instant = parse_timestamp(received)
    lang = choose_language(current_app.config, language)
    with input_errors():
        request_kind = parse_kind(kind)
        profile = settings().profile(jurisdiction)
    result = _compute(instant, request_kind, profile, extended=extended)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    with force_locale(lang):
        for line in explain(result, profile, lang):
            click.echo(line)


def _compute(instant: datetime, kind: RequestKind, profile: Profile, *, extended: bool) -> Deadline:
    """The deadline under the operator's calendar and promises; a refusal is an input error."""
    from rightsdesk.core.context import settings

    calendar, promises = _calendar_and_promises(profile)
    try:
        return compute_deadline(
            received_at=instant,
            kind=kind,
            profile=profile,
            calendar=calendar,
            tz=settings().tz,
            extensions=1 if extended else 0,
            policy=promises,
        )
    except (ExtensionNotAllowed, NaiveTimestamp) as error:
        raise InputError(str(error)) from None


def _calendar_and_promises(profile: Profile) -> tuple[HolidayCalendar, dict]:
    """The operator's calendar and promises from the database, if it has been set up."""
    from rightsdesk.requests.deadlines import calendar_for, promised_periods

    try:
        return calendar_for(profile), promised_periods(profile.code)
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        click.echo(
            "warning: the database is not migrated ('rightsdesk db upgrade'): "
            "holiday overrides and policy promises were not applied",
            err=True,
        )
        return calendar_of(profile), {}


def explain(result: Deadline, profile: Profile, lang: str) -> list[str]:
    """The due date alone, then one line per step of the count."""
    tz = str(result.received_local.tzinfo)
    return [
        result.due.isoformat(),
        *_receipt_lines(result, profile, lang, tz),
        *_extension_lines(result, profile),
        *_count_lines(result, profile, lang),
        *_due_lines(result, profile, lang, tz),
    ]


def _receipt_lines(result: Deadline, profile: Profile, lang: str, tz: str) -> list[str]:
    """When the request was received, and the period that runs from it."""
    return [
        _(
            "Received: %(date)s (%(weekday)s) in %(tz)s, at %(time)s",
            date=result.received_local_date.isoformat(),
            weekday=_weekday(result.received_local_date, lang),
            tz=tz,
            time=result.received_local.strftime("%H:%M"),
        ),
        _period_line(result, profile),
    ]


def _period_line(result: Deadline, profile: Profile) -> str:
    """The period counted; where the law sets no count ("지체 없이") it is the operator's
    working target and says so, never a statutory period."""
    if result.period.without_delay:
        return _(
            "No period in the law (without delay): your working target is %(amount)s "
            "%(unit)s under %(jurisdiction)s (%(basis)s)",
            amount=result.period.amount,
            unit=_unit(result.period.unit.value),
            jurisdiction=profile.code,
            basis=result.period.basis,
        )
    return _(
        "Period: %(amount)s %(unit)s under %(jurisdiction)s (%(basis)s)",
        amount=result.period.amount,
        unit=_unit(result.period.unit.value),
        jurisdiction=profile.code,
        basis=result.period.basis,
    )


def _extension_lines(result: Deadline, profile: Profile) -> list[str]:
    """The extensions granted, and by when the subject must be told: none without one."""
    if not result.extensions:
        return []
    rule = profile.extension(result.kind)
    if rule and rule.until_ground_ends:
        return [
            _(
                "Postponed until its ground ends (%(basis)s): the date above is the notice's, "
                "with the ground and how to object; access is then due without delay "
                "(your target: %(days)s days)",
                basis=rule.basis,
                days=rule.amount,
            )
        ]
    return [
        _(
            "Extended %(count)s time(s): %(basis)s",
            count=result.extensions,
            basis=rule.basis if rule else "",
        ),
        _(
            "Tell the subject of the extension, with its reason, by %(day)s",
            day=result.extension_notice_by,
        ),
    ]


def _count_lines(result: Deadline, profile: Profile, lang: str) -> list[str]:
    """The first day counted, the raw last day, and each day off skipped after it."""
    if result.first_day == result.received_local_date:
        lines = [_("Received at 00:00, so the day of receipt counts (Civil Act §157)")]
    else:
        lines = [_("The day of receipt is not counted; day 1 is %(day)s", day=result.first_day)]
    lines.append(
        _(
            "Raw last day: %(day)s (%(weekday)s)",
            day=result.raw_last_day.isoformat(),
            weekday=_weekday(result.raw_last_day, lang),
        )
    )
    lines += [
        _("Skipped %(day)s: %(reason)s", day=off.day.isoformat(), reason=off.reason(lang))
        for off in result.skipped
    ]
    if not result.skipped and profile.roll_forward:
        lines.append(_("The last day is a working day: nothing to skip"))
    if not profile.roll_forward:
        lines.append(_("No roll-forward under %(jurisdiction)s", jurisdiction=profile.code))
    if profile.region_kind is RegionKind.MEMBER_STATE and not profile.calendar_country:
        lines.append(
            _(
                "No Member State is set (rightsdesk org jurisdiction %(code)s --region …): "
                "only weekends are skipped",
                code=profile.code,
            )
        )
    return lines


def _due_lines(result: Deadline, profile: Profile, lang: str, tz: str) -> list[str]:
    """The due date, the date the operator's policy promises, and the counting rules."""
    lines = [
        _(
            "Due: %(day)s (%(weekday)s), ends at 24:00 %(tz)s",
            day=result.due.isoformat(),
            weekday=_weekday(result.due, lang),
            tz=tz,
        )
    ]
    if result.promised_due:
        lines.append(
            _(
                "Your policy promises %(amount)s days: work to %(day)s",
                amount=result.promised_period.amount if result.promised_period else "",
                day=result.promised_due.isoformat(),
            )
        )
    lines.append(_("Counting rules: %(basis)s", basis=profile.counting_basis))
    return lines


def _weekday(day: date, lang: str) -> str:
    from rightsdesk.domain.holiday_calendar import WEEKDAY_NAMES

    return WEEKDAY_NAMES[lang][day.weekday()]


def _unit(unit: str) -> str:
    return {
        "days": _("days"),
        "months": _("months"),
        "business_days": _("business days"),
    }[unit]
