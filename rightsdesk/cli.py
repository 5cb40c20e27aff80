"""``rightsdesk …``: the operator's commands, thin wrappers over the services.

Bad input gets one line naming the problem and the accepted values, exit status 2, and
nothing is written.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError, ProgrammingError

from rightsdesk.domain.deadlines import (
    Deadline,
    ExtensionNotAllowed,
    NaiveTimestamp,
    compute_deadline,
)
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import RequestKind, parse_kind
from rightsdesk.domain.lifecycle import OPEN, TERMINAL, Status, parse_status
from rightsdesk.domain.profiles import Profile
from rightsdesk.extensions import db
from rightsdesk.models import OverrideAction, Request


class InputError(click.ClickException):
    """Bad input: one line on standard error, exit status 2."""

    exit_code = 2


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn the domain's ValueErrors into one-line exit-2 errors."""
    try:
        yield
    except (ValueError, LookupError) as error:
        raise InputError(str(error)) from None


def parse_timestamp(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"malformed timestamp {value!r}; expected ISO 8601 with an offset, "
            "e.g. 2025-09-24T10:00+09:00 or 2025-09-24T01:00Z"
        ) from None
    if instant.tzinfo is None:
        raise InputError(
            f"naive timestamp {value!r}: the receipt date depends on the time zone; "
            "add an offset, e.g. 2025-09-24T10:00+09:00 or 2025-09-24T01:00Z"
        )
    return instant


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"malformed date {value!r}; expected YYYY-MM-DD") from None


def _language_option(function: Callable) -> Callable:
    return click.option(
        "--lang",
        "language",
        default=None,
        help="Language of the explanation: ko or en (default: RIGHTSDESK_DEFAULT_LOCALE).",
    )(function)


def _language(app_config: dict, language: str | None) -> str:
    chosen = language or app_config["DEFAULT_LOCALE"]
    if chosen not in app_config["LOCALES"]:
        accepted = ", ".join(app_config["LOCALES"])
        raise InputError(f"unknown language {language!r}; accepted: {accepted}")
    return chosen


# --- deadline ------------------------------------------------------------------------------


@click.command("deadline")
@click.option("--received", required=True, help="When the request reached you, with offset.")
@click.option("--kind", required=True, help="access, correction, deletion, suspension, …")
@click.option("--jurisdiction", default=None, help="KR (default), EU, UK, US-CA, BR.")
@click.option("--extended", is_flag=True, help="With one extension (postponement) granted.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_language_option
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

    from rightsdesk.services.context import settings

    instant = parse_timestamp(received)
    lang = _language(current_app.config, language)
    with input_errors():
        request_kind = parse_kind(kind)
        profile = settings().profile(jurisdiction)
    calendar, promises = _calendar_and_promises(profile)
    try:
        result = compute_deadline(
            received_at=instant,
            kind=request_kind,
            profile=profile,
            calendar=calendar,
            tz=settings().tz,
            extensions=1 if extended else 0,
            policy=promises,
        )
    except (ExtensionNotAllowed, NaiveTimestamp) as error:
        raise InputError(str(error)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    with force_locale(lang):
        for line in explain(result, profile, lang):
            click.echo(line)


def _calendar_and_promises(profile: Profile) -> tuple[HolidayCalendar, dict]:
    """The operator's calendar and promises from the database, if it has been set up."""
    from rightsdesk.services.deadlines import calendar_for, promised_periods

    try:
        return calendar_for(profile), promised_periods(profile.code)
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        click.echo(
            "warning: the database is not migrated ('rightsdesk db upgrade'): "
            "holiday overrides and policy promises were not applied",
            err=True,
        )
        return HolidayCalendar(profile.calendar_country, profile.calendar_subdivision), {}


def explain(result: Deadline, profile: Profile, lang: str) -> list[str]:
    """The due date alone, then one line per step of the count."""
    tz = str(result.received_local.tzinfo)
    lines = [result.due.isoformat()]
    lines.append(
        _(
            "Received: %(date)s (%(weekday)s) in %(tz)s, at %(time)s",
            date=result.received_local_date.isoformat(),
            weekday=_weekday(result.received_local_date, lang),
            tz=tz,
            time=result.received_local.strftime("%H:%M"),
        )
    )
    lines.append(
        _(
            "Period: %(amount)s %(unit)s under %(jurisdiction)s (%(basis)s)",
            amount=result.period.amount,
            unit=_unit(result.period.unit.value),
            jurisdiction=profile.code,
            basis=result.period.basis,
        )
    )
    if result.extensions:
        rule = profile.extension(result.kind)
        lines.append(
            _(
                "Extended %(count)s time(s): %(basis)s",
                count=result.extensions,
                basis=rule.basis if rule else "",
            )
        )
        lines.append(
            _(
                "Tell the subject of the extension, with its reason, by %(day)s",
                day=result.extension_notice_by,
            )
        )
    if result.first_day == result.received_local_date:
        lines.append(_("Received at 00:00, so the day of receipt counts (Civil Act §157)"))
    else:
        lines.append(_("The day of receipt is not counted; day 1 is %(day)s", day=result.first_day))
    lines.append(
        _(
            "Raw last day: %(day)s (%(weekday)s)",
            day=result.raw_last_day.isoformat(),
            weekday=_weekday(result.raw_last_day, lang),
        )
    )
    for off in result.skipped:
        lines.append(
            _("Skipped %(day)s: %(reason)s", day=off.day.isoformat(), reason=off.reason(lang))
        )
    if not result.skipped and profile.roll_forward:
        lines.append(_("The last day is a working day: nothing to skip"))
    if not profile.roll_forward:
        lines.append(_("No roll-forward under %(jurisdiction)s", jurisdiction=profile.code))
    lines.append(
        _(
            "Due: %(day)s (%(weekday)s), ends at 24:00 %(tz)s",
            day=result.due.isoformat(),
            weekday=_weekday(result.due, lang),
            tz=tz,
        )
    )
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


# --- requests ------------------------------------------------------------------------------

requests_group = AppGroup("requests", help="List and inspect requests.")


def _statuses(values: tuple[str, ...]) -> list[Status]:
    chosen: list[Status] = []
    for value in values:
        for part in value.split(","):
            part = part.strip().lower()
            if part == "open":
                chosen.extend(sorted(OPEN))
            elif part == "closed":
                chosen.extend(sorted(TERMINAL))
            elif part:
                try:
                    chosen.append(parse_status(part))
                except ValueError as error:
                    raise InputError(f"{error}, open, closed") from None
    return chosen


def _kinds(values: tuple[str, ...]) -> list[RequestKind]:
    with input_errors():
        return [parse_kind(p) for v in values for p in v.split(",") if p.strip()]


@requests_group.command("list")
@click.option("--status", "statuses", multiple=True, help="A status, 'open' or 'closed'.")
@click.option("--kind", "kinds", multiple=True, help="A request kind.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(statuses: tuple[str, ...], kinds: tuple[str, ...], as_json: bool) -> None:
    """One line per request: reference, kind, status, channel, received, due."""
    from rightsdesk.services.context import settings
    from rightsdesk.services.requests import list_requests

    wanted_statuses, wanted_kinds = _statuses(statuses), _kinds(kinds)
    rows = list_requests(statuses=wanted_statuses, kinds=wanted_kinds)
    tz = settings().tz
    if as_json:
        click.echo(json.dumps([_request_json(r, tz) for r in rows], ensure_ascii=False))
        return
    for r in rows:
        received = r.received_at.astimezone(tz).isoformat(timespec="minutes")
        click.echo(
            "\t".join(
                (
                    r.reference,
                    r.kind.value,
                    r.status.value,
                    r.channel.value,
                    received,
                    r.due_date.isoformat(),
                )
            )
        )


@requests_group.command("revoke-link")
@click.argument("reference")
@click.option("--send-new", is_flag=True, help="Mail the subject a new link.")
def revoke_link_command(reference: str, send_new: bool) -> None:
    """Revoke every status link sent for REFERENCE (e.g. one was forwarded by mistake)."""
    from rightsdesk.services.intake import revoke_status_links

    with input_errors():
        found = revoke_status_links(
            reference.strip(), send_new=send_new, actor=actor(), now=utcnow()
        )
    click.echo(f"{found.reference}: every status link sent so far no longer works")
    if send_new:
        click.echo(f"{found.reference}: a new link is queued for the subject")


def _request_json(r: Request, tz) -> dict[str, object]:
    return {
        "reference": r.reference,
        "kind": r.kind.value,
        "status": r.status.value,
        "channel": r.channel.value,
        "jurisdiction": r.jurisdiction,
        "received": r.received_at.astimezone(tz).isoformat(),
        "due": r.due_date.isoformat(),
        "promised_due": r.promised_due_date.isoformat() if r.promised_due_date else None,
        "email": r.subject.email,
    }


# --- audit ---------------------------------------------------------------------------------

audit_group = AppGroup("audit", help="The hash-chained audit trail.")


@audit_group.command("verify")
def verify_command() -> None:
    """Recompute the chain; exit 1 if any event was edited or deleted."""
    from rightsdesk.services.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"OK: {report.events} events, chain intact, head {report.head_hash}")
        return
    click.echo(f"FAILED: {len(report.problems)} problem(s) in {report.events} events")
    for problem in report.problems:
        click.echo(f"  {problem}")
    sys.exit(1)


# --- holidays ------------------------------------------------------------------------------

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
    from rightsdesk.services.calendars import list_overrides

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
    from rightsdesk.services.calendars import set_override

    when = parse_day(day)
    if not name.strip():
        raise InputError("--name must not be empty")
    result = set_override(
        country=country.upper(),
        day=when,
        action=OverrideAction.ADD,
        name=name.strip(),
        actor=actor(),
        now=utcnow(),
    )
    _report_recompute(result)


@holidays_group.command("remove")
@click.argument("day")
@click.option("--reason", required=True, help="Why the listed holiday is a working day.")
@_country_option
def holidays_remove(day: str, reason: str, country: str) -> None:
    """Declare a listed holiday a working day; re-dates open requests."""
    from rightsdesk.services.calendars import set_override

    when = parse_day(day)
    if not reason.strip():
        raise InputError("--reason must not be empty")
    result = set_override(
        country=country.upper(),
        day=when,
        action=OverrideAction.REMOVE,
        name=reason.strip(),
        actor=actor(),
        now=utcnow(),
    )
    _report_recompute(result)


@holidays_group.command("clear")
@click.argument("day")
@_country_option
def holidays_clear(day: str, country: str) -> None:
    """Drop the override of DAY; re-dates open requests."""
    from rightsdesk.services.calendars import clear_override

    when = parse_day(day)
    result = clear_override(country=country.upper(), day=when, actor=actor(), now=utcnow())
    if result is None:
        raise InputError(f"no override for {when} in {country.upper()}")
    _report_recompute(result)


# --- organisation and policy ---------------------------------------------------------------

org_group = AppGroup("org", help="The operator and its privacy officer.")


@org_group.command("setup")
@click.option("--slug", required=True)
@click.option("--name-ko", required=True)
@click.option("--name-en", required=True)
@click.option("--officer-name", required=True, help="개인정보 보호책임자")
@click.option("--officer-email", required=True)
@click.option("--officer-phone", default=None)
def org_setup(
    slug: str,
    name_ko: str,
    name_en: str,
    officer_name: str,
    officer_email: str,
    officer_phone: str | None,
) -> None:
    """Create or update the organisation."""
    from rightsdesk.domain.identity import normalise_email
    from rightsdesk.services.organisation import set_up_organisation

    with input_errors():
        email = normalise_email(officer_email)
    organisation = set_up_organisation(
        slug=slug,
        name_ko=name_ko,
        name_en=name_en,
        officer_name=officer_name,
        officer_email=email,
        officer_phone=officer_phone,
        actor=actor(),
        now=utcnow(),
    )
    click.echo(f"organisation {organisation.slug}: {organisation.name_ko} / {organisation.name_en}")


policy_group = AppGroup("policy", help="Promises of the operator's privacy policy.")


@policy_group.command("promise")
@click.option("--kind", required=True)
@click.option("--days", type=int, default=None, help="Days promised; omit with --clear.")
@click.option("--clear", is_flag=True, help="Drop the promise: the statute's period applies.")
@click.option("--jurisdiction", default=None)
def policy_promise(kind: str, days: int | None, clear: bool, jurisdiction: str | None) -> None:
    """Promise a shorter response period than the statute (never a longer one)."""
    from rightsdesk.services.organisation import promise_period

    if clear == (days is not None):
        raise InputError("give either --days N or --clear")
    if days is not None and days <= 0:
        raise InputError("--days must be a positive number of days")
    with input_errors():
        changed = promise_period(
            kind=parse_kind(kind),
            days=days,
            jurisdiction=jurisdiction,
            actor=actor(),
            now=utcnow(),
        )
    click.echo(f"saved; {changed} open request(s) re-dated")


@policy_group.command("show")
def policy_show() -> None:
    """The organisation and every response period, statutory and promised."""
    from rightsdesk.services.context import settings
    from rightsdesk.services.deadlines import promised_periods
    from rightsdesk.services.organisation import current_organisation

    with input_errors():
        organisation = current_organisation()
    click.echo(f"{organisation.name_ko} / {organisation.name_en}")
    click.echo(f"privacy officer: {organisation.privacy_officer_name}")
    profile = settings().profile()
    promises = promised_periods(profile.code)
    for kind in RequestKind:
        period = profile.period(kind)
        line = f"{kind.value}\t{period.amount} {period.unit.value}\t{period.basis}"
        if kind in promises:
            line += f"\tpromised: {promises[kind].amount} days"
        click.echo(line)


from rightsdesk.policy_cli import add_commands as _add_policy_commands  # noqa: E402

_add_policy_commands(policy_group)  # add, publish, list, campaigns: versions and notices


# --- demo ----------------------------------------------------------------------------------


@click.command("demo")
@click.argument("action", type=click.Choice(["load"]))
@with_appcontext
def demo_command(action: str) -> None:
    """Load the demo organisation and sample requests (once; a second run does nothing)."""
    from flask import current_app

    from rightsdesk.services.demo import DEMO_LOGIN, load_demo

    if current_app.config["ENV"] == "production":
        raise InputError("the demo is never loaded in production (RIGHTSDESK_ENV=production)")
    created = load_demo(now=utcnow(), actor=actor())
    if created:
        click.echo(f"demo loaded: {created} sample request(s)")
    else:
        click.echo("demo already loaded: nothing to do")
    click.echo(
        f"demo admin console: {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]} at /admin/ "
        "(a demo account: never use it for real data)"
    )


# --- mail ----------------------------------------------------------------------------------

mail_group = AppGroup("mail", help="The outbox and inbound e-mail.")


@mail_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as mail becomes due (a worker).")
@click.option(
    "--interval", type=float, default=5.0, show_default=True, help="Seconds between polls."
)
@click.option("--batch", type=int, default=50, show_default=True)
@click.option(
    "--retry-now", is_flag=True, help="Send mail waiting on a back-off now (outage fixed)."
)
@click.option("--max-runs", type=int, default=None, hidden=True)
def mail_send(
    loop: bool, interval: float, batch: int, retry_now: bool, max_runs: int | None
) -> None:
    """Deliver due mail from the outbox; failures wait with back-off and are retried. Web-form
    submissions waiting to be filed are filed first, so their verification mail goes too."""
    import os
    import socket
    import time

    from rightsdesk.mail import outbox
    from rightsdesk.services import intake

    deliver_due = outbox.deliver_due
    if retry_now:
        click.echo(f"{outbox.retry_now(now=utcnow())} waiting message(s) made due")
    worker = f"{socket.gethostname()}:{os.getpid()}"
    runs = 0
    while True:
        filed = intake.process_submissions(now=utcnow(), seconds=10)
        if filed.attempted:
            click.echo(f"intake: {len(filed.filed)} request(s) filed, {len(filed.failed)} retrying")
        report = deliver_due(now=utcnow(), worker=worker, batch=batch)
        runs += 1
        if report.attempted or not loop:
            click.echo(
                f"sent {report.sent}, waiting to retry {report.retrying}, failed {report.failed}"
            )
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        if not loop or (max_runs is not None and runs >= max_runs):
            break
        if report.attempted < batch:
            time.sleep(interval)
    if not loop and report.failed:
        sys.exit(1)


@mail_group.command("ingest")
@click.argument("sources", nargs=-1)
@click.option("--imap", is_flag=True, help="Read unseen mail from RIGHTSDESK_IMAP_HOST.")
def mail_ingest(sources: tuple[str, ...], imap: bool) -> None:
    """Take requests from e-mail: a .eml file, a Maildir, an mbox, '-' (stdin) or IMAP."""
    from rightsdesk.mail.inbound import read_source
    from rightsdesk.services.inbound import ingest

    if not sources and not imap:
        raise InputError("give a file, Maildir, mbox or '-' for standard input, or --imap")
    counts: dict[str, int] = {}

    def take(label: str, raw: bytes) -> None:
        result = ingest(raw, now=utcnow())
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        click.echo(f"{label}\t{result.outcome}\t{result.reference or '-'}")

    for source in sources:
        try:
            for label, raw in read_source(source):
                take(label, raw)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
            raise InputError(str(error)) from None
    if imap:
        _ingest_imap(take)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    click.echo(summary or "no messages")


def _ingest_imap(take: Callable[[str, bytes], None]) -> None:
    """Unseen IMAP mail; each message is marked seen only once it is stored."""
    from flask import current_app

    from rightsdesk.mail import inbound

    config = current_app.config
    if not (config.get("IMAP_HOST") and config.get("IMAP_USER")):
        raise InputError(
            "set RIGHTSDESK_IMAP_HOST, RIGHTSDESK_IMAP_USER and RIGHTSDESK_IMAP_PASSWORD"
        )
    account = {
        "host": config["IMAP_HOST"],
        "user": config["IMAP_USER"],
        "password": config.get("IMAP_PASSWORD") or "",
        "mailbox": config["IMAP_MAILBOX"],
    }
    for label, raw in inbound.read_imap(**account):
        take(label, raw)
        inbound.mark_imap_seen(label=label, **account)


# --- jobs ----------------------------------------------------------------------------------

jobs_group = AppGroup("jobs", help="Scheduled jobs (run them from cron).")

from rightsdesk.jobs.commands import add_commands as _add_retention_commands  # noqa: E402

_add_retention_commands(jobs_group)  # run, schedule, purge-operator, purge-separated, …


@jobs_group.command("expire-unverified")
@click.option("--dry-run", is_flag=True, help="Only say which requests would expire.")
def expire_unverified_command(dry_run: bool) -> None:
    """Expire requests never confirmed in time and purge their personal data."""
    from rightsdesk.services.intake import expire_unverified

    report = expire_unverified(now=utcnow(), dry_run=dry_run)
    verb = "would expire" if dry_run else "expired"
    click.echo(f"{verb} {len(report.expired)} unverified request(s)")
    for reference in report.expired:
        click.echo(f"  {reference}")


# --- staff ---------------------------------------------------------------------------------

staff_group = AppGroup("staff", help="Staff accounts of the admin console.")


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help="admin, handler or auditor")
@click.option("--name", default=None, help="Display name (default: the e-mail address).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
def staff_create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create a staff account; the password is prompted for (never an argument)."""
    from rightsdesk.models import StaffRole
    from rightsdesk.services.staff import StaffError, create_staff

    try:
        staff_role = StaffRole(role.strip().lower())
    except ValueError:
        accepted = ", ".join(r.value for r in StaffRole)
        raise InputError(f"unknown role {role!r}; accepted: {accepted}") from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with input_errors():
        try:
            user = create_staff(
                email=email,
                name=name or email,
                role=staff_role,
                password=password,
                actor=actor(),
                now=utcnow(),
            )
        except StaffError as error:
            raise InputError(str(error)) from None
    click.echo(f"created {user.role.value} {user.email}")


@staff_group.command("list")
def staff_list() -> None:
    """One line per account: e-mail, role, active, two-step."""
    from sqlalchemy import select

    from rightsdesk.models import StaffUser

    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        active = "active" if user.active else "inactive"
        totp = "totp" if user.totp_enabled else "-"
        click.echo(f"{user.email}\t{user.role.value}\t{active}\t{totp}")


@jobs_group.command("purge-downloads")
def purge_downloads_command() -> None:
    """Delete expired files offered to subjects (the record of each stays)."""
    from rightsdesk.services.downloads import purge_expired

    click.echo(f"deleted {purge_expired(now=utcnow())} expired download(s)")


# --- API keys and webhooks ------------------------------------------------------------------

apikey_group = AppGroup("apikey", help="Keys of host applications for the JSON API.")


@apikey_group.command("create")
@click.option("--name", required=True, help="The host application, e.g. shop.")
@click.option(
    "--scopes",
    default="requests:create,requests:read,restrictions:read",
    show_default=True,
    help="Comma-separated.",
)
@click.option("--webhook-url", default=None, help="Where status changes are POSTed (HTTPS).")
def apikey_create(name: str, scopes: str, webhook_url: str | None) -> None:
    """Create a key; the key and its signing secret are printed once and never again."""
    from rightsdesk.services.api import ApiKeyError, create_key

    try:
        issued = create_key(
            name=name,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            webhook_url=webhook_url,
            actor=actor(),
            now=utcnow(),
        )
    except ApiKeyError as error:
        raise InputError(str(error)) from None
    click.echo(f"key for {issued.key.name} ({issued.key.scopes}); store both now, shown once:")
    click.echo(f"api key:        {issued.secret_key}")
    click.echo(f"signing secret: {issued.signing_secret}")


@apikey_group.command("list")
def apikey_list() -> None:
    """One line per key: name, prefix, scopes, state, webhook URL."""
    from sqlalchemy import select

    from rightsdesk.models import ApiKey

    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.name)):
        state = "revoked" if key.revoked_at else "active"
        click.echo(
            f"{key.name}\trdk_{key.prefix}_…\t{key.scopes}\t{state}\t{key.webhook_url or '-'}"
        )


@apikey_group.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke a key at once (its requests and their history stay)."""
    from rightsdesk.services.api import ApiKeyError, revoke_key

    try:
        revoke_key(name, actor=actor(), now=utcnow())
    except ApiKeyError as error:
        raise InputError(str(error)) from None
    click.echo(f"revoked {name}")


@apikey_group.command("subject-key")
def apikey_subject_key() -> None:
    """The key host apps use to name subjects: HMAC-SHA256(key, normalised e-mail), hex."""
    from rightsdesk.services.api import subject_hash_key

    click.echo(subject_hash_key().hex())


@apikey_group.command("rehash-subjects")
def apikey_rehash_subjects() -> None:
    """Recompute every subject's lookup hash (after an upgrade or a new subject-hash key)."""
    from sqlalchemy import select

    from rightsdesk.models import Subject
    from rightsdesk.services.api import subject_hash

    count = 0
    for subject in db.session.scalars(select(Subject)):
        subject.lookup_hash = subject_hash(subject.email)
        count += 1
    db.session.commit()
    click.echo(f"rehashed {count} subject(s)")


webhooks_group = AppGroup("webhooks", help="Status webhooks to host applications.")


@webhooks_group.command("send")
@click.option("--retry-now", is_flag=True, help="Send what waits on a back-off now.")
def webhooks_send(retry_now: bool) -> None:
    """Deliver due webhooks once, in order per request."""
    import os
    import socket

    from rightsdesk.services import webhooks

    if retry_now:
        click.echo(f"{webhooks.retry_now(now=utcnow())} waiting webhook(s) made due")
    report = webhooks.deliver_due(now=utcnow(), worker=f"{socket.gethostname()}:{os.getpid()}")
    click.echo(f"delivered {report.sent}, waiting to retry {report.retrying}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


connectors_group = AppGroup("connectors", help="Jobs for the data map's webhook systems.")


def _connector_round(worker: str) -> int:
    """Post the due jobs of the data map's webhook systems once; how many were attempted."""
    from rightsdesk.services import connectors

    report = connectors.deliver_due(now=utcnow(), worker=worker)
    if report.attempted:
        click.echo(
            f"connector jobs: done {report.sent}, retrying {report.retrying}, "
            f"failed {report.failed}"
        )
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    return report.attempted


@connectors_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as jobs become due.")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--retry-now", is_flag=True, help="Send what waits on a back-off now.")
def connectors_send(loop: bool, interval: float, retry_now: bool) -> None:
    """Post the due jobs to the webhook systems (the worker does this too)."""
    import os
    import socket
    import time

    from rightsdesk.services import connectors

    if retry_now:
        click.echo(f"{connectors.retry_now(now=utcnow())} waiting job(s) made due")
    name = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        if not _connector_round(name) and not loop:
            click.echo("no connector job was due")
        if not loop:
            break
        time.sleep(interval)


@click.command("worker")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@with_appcontext
def worker_command(interval: float, once: bool) -> None:
    """The background worker, until stopped: files the web form's submissions as requests, sends
    the mail outbox, the webhooks and connector jobs, notice campaigns and the retention jobs."""
    import os
    import socket
    import time

    from rightsdesk.jobs.commands import worker_tick as retention_tick
    from rightsdesk.mail import outbox
    from rightsdesk.policy_cli import campaign_round
    from rightsdesk.services import intake, webhooks

    name = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        # Web-form submissions first, so their verification mail goes out in this round.
        filed = intake.process_submissions(now=utcnow(), seconds=None if once else 10)
        if filed.attempted:
            click.echo(f"intake: {len(filed.filed)} request(s) filed, {len(filed.failed)} retrying")
        for problem in filed.failed:
            click.echo(f"  {problem}", err=True)
        mail = outbox.deliver_due(now=utcnow(), worker=name)
        hooks = webhooks.deliver_due(now=utcnow(), worker=name)
        if mail.attempted or hooks.attempted:
            click.echo(
                f"mail: sent {mail.sent}, retrying {mail.retrying}, failed {mail.failed}; "
                f"webhooks: delivered {hooks.sent}, retrying {hooks.retrying}"
            )
        for error in mail.errors + hooks.errors:
            click.echo(f"  {error}", err=True)
        _connector_round(name)
        campaign_round(name)  # notice campaigns: read recipients, send at their rate
        retention_tick(check_every=0 if once else 60)  # the due retention jobs, hourly
        if once:
            break
        if not filed.attempted:  # a backlog of submissions is worked off without pausing
            time.sleep(interval)


def register(app: Flask) -> None:
    from rightsdesk.bench import bench_group
    from rightsdesk.datamap_cli import datamap_group
    from rightsdesk.notify import notify_group
    from rightsdesk.policy_cli import campaigns_group

    for command in (
        campaigns_group,
        bench_group,
        datamap_group,
        notify_group,
        apikey_group,
        webhooks_group,
        connectors_group,
        worker_command,
        deadline_command,
        requests_group,
        audit_group,
        holidays_group,
        org_group,
        policy_group,
        demo_command,
        mail_group,
        jobs_group,
        staff_group,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from rightsdesk import create_app

    return create_app()


class RightsdeskGroup(FlaskGroup):
    """The ``rightsdesk`` command: a database that is not migrated yet gets one clear line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            if _looks_unmigrated(error):
                click.echo(
                    "Error: the database has no rightsdesk tables yet: run 'rightsdesk db upgrade'",
                    err=True,
                )
                ctx.exit(1)
            raise


def _looks_unmigrated(error: Exception) -> bool:
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


main = RightsdeskGroup(
    name="rightsdesk",
    create_app=_create_app,
    add_version_option=True,
    set_debug_flag=False,
    load_dotenv=False,
    help="rightsdesk: data-subject rights requests to the letter of the law.",
)
