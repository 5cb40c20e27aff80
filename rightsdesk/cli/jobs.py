"""The retention commands under ``rightsdesk jobs``, and the worker's hourly tick.

Output: one tab-separated line per category and place (job, system.table, rule, count, method,
cutoff day, legal basis), then a summary line. On a terminal each step shows a progress bar;
otherwise progress and events are JSON lines on standard error, for the log collector. A failing
job is named on standard error and the exit status is 1; a bad retention file is one line and
exit status 2, and nothing runs.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow

JOB_CHOICES = click.Choice(
    [
        "expire-unverified",
        "purge-downloads",
        "purge-requests",
        "purge-separated",
        "purge-operator",
        "dormancy",
    ]
)


class RetentionInputError(click.ClickException):
    """A retention file with a problem: one line, exit status 2, nothing run."""

    exit_code = 2


class CliReporter:
    """A progress bar per step on a terminal; JSON lines on standard error otherwise."""

    LOG_EVERY = 5.0  # seconds between progress lines in a log

    def __init__(self, interactive: bool | None = None) -> None:
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self.bar: Any = None
        self.label = ""
        self.total = self.done = 0
        self.logged = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        if self.interactive:
            self.bar = click.progressbar(length=total, label=label, show_pos=True, show_eta=True)
            self.bar.__enter__()
        else:
            self.event("step_started", step=label, total=total)

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif time.monotonic() - self.logged >= self.LOG_EVERY:
            self.event("progress", step=self.label, done=self.done, total=self.total)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        elif self.label:
            self.event("step_finished", step=self.label, done=self.done, total=self.total)
        self.label = ""

    def event(self, name: str, **fields: Any) -> None:
        if self.interactive:
            return
        self.logged = time.monotonic()
        line = {"at": utcnow().isoformat(timespec="seconds"), "event": name, **fields}
        click.echo(json.dumps(line, ensure_ascii=False, default=str), err=True)


def run_and_report(names: list[str] | None, *, dry_run: bool, batch_size: int | None) -> None:
    from rightsdesk.cli.common import actor
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.retention.jobs import run_jobs

    try:
        echo_warnings(checked_schedule())
        report = run_jobs(
            names,
            now=utcnow(),
            actor=actor(),
            dry_run=dry_run,
            reporter=CliReporter(),
            batch_size=batch_size,
        )
    except RetentionError as error:
        raise RetentionInputError(str(error)) from None
    echo_report(report, checked_schedule())
    if report.failed:
        sys.exit(1)


def checked_schedule():
    """The schedule in force; a bad retention file is one line and exit status 2."""
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.systems.configured import current_schedule

    try:
        return current_schedule()
    except RetentionError as error:
        raise RetentionInputError(str(error)) from None


def echo_warnings(schedule) -> None:
    """Obsolete or repealed rules the file still cites as law: one line each on stderr."""
    for warning in schedule.warnings:
        click.echo(warning, err=True)


def echo_report(report, schedule=None) -> None:
    """One line per place; the last column is the basis kind (statute, policy,
    statute+policy)."""
    from rightsdesk.core.context import settings
    from rightsdesk.domain.retention import DEFAULT_SCHEDULE

    verb = "would destroy" if report.dry_run else "destroyed"
    tz = settings().tz
    schedule = schedule or DEFAULT_SCHEDULE
    for job in report.jobs:
        for item in job.items:
            cutoff = item.cutoff.astimezone(tz).date().isoformat() if item.cutoff else "-"
            click.echo(
                f"{_verb(item.method, report.dry_run, verb)}\t{item.job}\t"
                f"{item.system}.{item.table}\t{item.rule}\t{item.count}\t"
                f"{item.method}\tbefore {cutoff}\t{item.basis}\t"
                f"{schedule.kind_of(item.rule) or '-'}"
            )
        if job.skipped:
            click.echo(f"skipped\t{job.job}\t{job.skipped}")
    for job in report.failed:
        click.echo(f"failed: {job.job}: {job.error}", err=True)
    destroyed = [item for job in report.jobs for item in job.items if item.method not in VERBS]
    if destroyed:
        count = sum(item.count for item in destroyed)
        click.echo(f"{verb} {count} record(s) in {len(destroyed)} place(s) (run {report.run_id})")
    elif any(job.items for job in report.jobs):
        click.echo(f"{verb} nothing (run {report.run_id})")
    elif not report.failed:
        click.echo("nothing to do")


VERBS = {  # dormancy notices and separations are not destructions: say what they are
    "notice": ("would notify", "notified"),
    "separate": ("would separate", "separated"),
    "held": ("would hold", "held"),  # due, but its notice was not delivered in time
}


def _verb(method: str, dry_run: bool, destroy: str) -> str:
    verbs = VERBS.get(method)
    return destroy if verbs is None else verbs[0 if dry_run else 1]


def _options(function):
    function = click.option("--dry-run", is_flag=True, help="Count and print; destroy nothing.")(
        function
    )
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=None,
        help="Rows per transaction (default: RIGHTSDESK_RETENTION_BATCH_SIZE, 5000).",
    )(function)


def _add_retention_commands(group: AppGroup) -> None:
    """Add the retention commands to the ``jobs`` group."""
    _add_run_command(group)
    for name, summary in (
        ("purge-operator", "Purge rows of the data map's SQL systems past their retention."),
        ("purge-separated", "Destroy separately stored records past their purge-after day."),
        ("purge-requests", "Purge closed requests' personal data past the record retention."),
        ("dormancy", "Notice, then separate, accounts unused for the configured days (if on)."),
    ):
        group.command(name, help=summary)(_options(_single(name)))
    _add_schedule_command(group)


def _add_run_command(group: AppGroup) -> None:
    @group.command("run")
    @click.option("--only", "only", multiple=True, type=JOB_CHOICES, help="Run just this job.")
    @_options
    def run_command(only: tuple[str, ...], dry_run: bool, batch_size: int | None) -> None:
        """Run every retention job that is due (or --only some), in order."""
        run_and_report(list(only) or None, dry_run=dry_run, batch_size=batch_size)


def _add_schedule_command(group: AppGroup) -> None:
    @group.command("schedule")
    def schedule_command() -> None:
        """Print the retention schedule in force."""
        schedule = checked_schedule()
        echo_warnings(schedule)
        echo_schedule(schedule)


def _single(name: str):
    def command(dry_run: bool, batch_size: int | None) -> None:
        run_and_report([name], dry_run=dry_run, batch_size=batch_size)

    command.__name__ = name.replace("-", "_")
    return command


def echo_schedule(schedule) -> None:
    source = schedule.source or "the defaults (legal.md §3); set RIGHTSDESK_RETENTION_FILE to add"
    click.echo(f"retention schedule: {source}")
    click.echo(f"grace: {schedule.grace_days} day(s) after the end of each period")
    click.echo("category\tperiod\tstarts at\tat the end\tbasis\tlabel\tkind\treason")
    for rule in schedule:
        period = f"{rule.amount} {rule.unit.value}" if rule.keeps else "-"
        click.echo(
            f"{rule.code}\t{period}\t{rule.start.value}\t{rule.action.value}\t{rule.basis}\t"
            f"{rule.label('en')}\t{rule.kind_text}\t{rule.reason or '-'}"
        )
    dormancy = schedule.dormancy
    if dormancy is None:
        click.echo("dormancy: off")
    else:
        click.echo(
            f"dormancy: {dormancy.system}.{dormancy.table} inactive {dormancy.days} days by "
            f"{dormancy.last_active} (notice {dormancy.notice_days} days before), separated "
            f"data kept {dormancy.keep_days} days (the operator's policy)"
        )


# --- the worker ---------------------------------------------------------------------------------

_last_check = [0.0]


def worker_tick(*, check_every: float = 60.0) -> None:
    """Run the due retention jobs at most once per RIGHTSDESK_RETENTION_EVERY_MINUTES across all
    workers (a never-released lease is the slot). Checked at most once a minute per worker."""
    from rightsdesk.cli.common import actor
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.retention.jobs import run_jobs
    from rightsdesk.retention.runner import claim_slot

    if time.monotonic() - _last_check[0] < check_every:
        return
    _last_check[0] = time.monotonic()
    every = timedelta(minutes=float(current_app.config["RETENTION_EVERY_MINUTES"]))
    if every <= timedelta(0) or not claim_slot(every):
        return
    try:
        report = run_jobs(
            now=utcnow(), actor=Actor(f"worker:{actor()}"), reporter=CliReporter(False)
        )
    except RetentionError as error:
        click.echo(f"retention: {error}", err=True)
        return
    if report.count or report.failed:
        echo_report(report, checked_schedule())


jobs_group = AppGroup("jobs", help="Scheduled jobs (run them from cron).")


@jobs_group.command("expire-unverified")
@click.option("--dry-run", is_flag=True, help="Only say which requests would expire.")
def expire_unverified_command(dry_run: bool) -> None:
    """Expire requests never confirmed in time and purge their personal data."""
    from rightsdesk.requests.intake import expire_unverified

    report = expire_unverified(now=utcnow(), dry_run=dry_run)
    verb = "would expire" if dry_run else "expired"
    click.echo(f"{verb} {len(report.expired)} unverified request(s)")
    for reference in report.expired:
        click.echo(f"  {reference}")


@jobs_group.command("purge-downloads")
def purge_downloads_command() -> None:
    """Delete expired files offered to subjects (the record of each stays)."""
    from rightsdesk.requests.downloads import purge_expired

    click.echo(f"deleted {purge_expired(now=utcnow())} expired download(s)")


_add_retention_commands(jobs_group)  # run, schedule, purge-operator, purge-separated, …
