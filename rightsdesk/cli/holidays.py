"""``rightsdesk holidays …``: the holiday calendar and the operator's overrides."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor, input_errors, parse_day
from rightsdesk.core.clock import utcnow
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.models import OverrideAction

holidays_group = AppGroup("holidays", help="Public holidays and the operator's overrides.")


def _country_option(function: Callable) -> Callable:
    return click.option("--country", default="KR", show_default=True, help="Calendar (ISO code).")(
        function
    )


@holidays_group.command("list")
@click.option("--year", type=int, default=None, help="Year (default: this year).")
@_country_option
def holidays_list(year: int | None, country: str) -> None:
    """Every day off of a year that is not a plain weekend, with its source."""
    from rightsdesk.organisation.calendars import list_overrides

    year = year or utcnow().year
    country = country.upper()
    with input_errors():
        overrides = {o.day: o for o in list_overrides(country)}
        calendar = HolidayCalendar(country).with_overrides(
            {d: o.name for d, o in overrides.items() if o.action is OverrideAction.ADD},
            [d for d, o in overrides.items() if o.action is OverrideAction.REMOVE],
        )
        import holidays as holidays_package

        listed = holidays_package.country_holidays(country, years=year)
    days = sorted({d for d in listed} | {d for d in overrides if d.year == year})
    for day in days:
        off = calendar.day_off(day)
        override = overrides.get(day)
        if override and override.action is OverrideAction.REMOVE:
            click.echo(f"{day}\tworking day (override)\t{override.name}")
        elif off:
            source = "override" if override else "holidays"
            click.echo(f"{day}\t{source}\t{off.reason('ko')}\t{off.reason('en')}")


def _report_recompute(result) -> None:
    click.echo(f"re-dated {len(result.changed)} of {result.checked} open request(s)")
    for reference, before, after in result.changed:
        click.echo(f"  {reference}: {before} -> {after}")


@holidays_group.command("add")
@click.argument("day")
@click.option("--name", required=True, help="e.g. 임시공휴일")
@_country_option
def holidays_add(day: str, name: str, country: str) -> None:
    """Declare DAY a day off (e.g. a temporary holiday); re-dates open requests."""
    _set_override(day, OverrideAction.ADD, name, country, empty="--name must not be empty")


@holidays_group.command("remove")
@click.argument("day")
@click.option("--reason", required=True, help="Why the listed holiday is a working day.")
@_country_option
def holidays_remove(day: str, reason: str, country: str) -> None:
    """Declare a listed holiday a working day; re-dates open requests."""
    _set_override(day, OverrideAction.REMOVE, reason, country, empty="--reason must not be empty")


def _set_override(day: str, action: OverrideAction, name: str, country: str, *, empty: str) -> None:
    """Add or remove DAY as a day off, named (or explained) by ``name``; ``empty`` is the error
    for a blank one."""
    from rightsdesk.organisation.calendars import set_override

    when = parse_day(day)
    if not name.strip():
        raise InputError(empty)
    result = set_override(
        country=country.upper(),
        day=when,
        action=action,
        name=name.strip(),
        actor=actor(),
        now=utcnow(),
    )
    _report_recompute(result)


@holidays_group.command("clear")
@click.argument("day")
@_country_option
def holidays_clear(day: str, country: str) -> None:
    """Drop the override of DAY; re-dates open requests."""
    from rightsdesk.organisation.calendars import clear_override

    when = parse_day(day)
    result = clear_override(country=country.upper(), day=when, actor=actor(), now=utcnow())
    if result is None:
        raise InputError(f"no override for {when} in {country.upper()}")
    _report_recompute(result)
