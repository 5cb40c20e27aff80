"""``rightsdesk policy add|import|publish|list|campaigns`` and ``rightsdesk campaigns send``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from rightsdesk.cli.common import InputError, actor, input_errors, parse_day, worker_name
from rightsdesk.core.clock import utcnow
from rightsdesk.domain.kinds import RequestKind, parse_kind
from rightsdesk.domain.policy import NoticeTooShort, parse_change
from rightsdesk.extensions import db

policy_group = AppGroup("policy", help="Promises of the operator's privacy policy.")


class PolicyInputError(click.ClickException):
    """Bad input or a refusal: one line on standard error, exit status 2."""

    exit_code = 2


def _read(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyInputError(f"cannot read {path}: {error}") from None


@policy_group.command("add")
@click.option("--ko", "ko_file", required=True, help="The Korean text (Markdown file).")
@click.option("--en", "en_file", default=None, help="The English text (Markdown file).")
@click.option("--change", required=True, help="minor (7 days' notice) or material (30 days').")
@click.option("--effective", required=True, help="Effective date, YYYY-MM-DD.")
@click.option("--label", default=None, help="Version label (default: the effective date).")
@click.option("--summary-ko", default="", help="What changes, for the notice e-mail.")
@click.option("--summary-en", default="")
@click.option("--publish", "then_publish", is_flag=True, help="Publish at once.")
def policy_add(
    ko_file: str,
    en_file: str | None,
    change: str,
    effective: str,
    label: str | None,
    summary_ko: str,
    summary_en: str,
    then_publish: bool,
) -> None:
    """Import a version of the privacy policy as a draft (and optionally publish it)."""
    from rightsdesk.policy import versions as policy

    day = parse_day(effective)
    draft = policy.Draft(
        label=label or day.isoformat(),
        change=_change(change),
        effective_date=day,
        body_ko=_read(ko_file),
        body_en=_read(en_file),
        summary_ko=summary_ko,
        summary_en=summary_en,
    )
    with force_locale("en"), _refusals():
        version = policy.create_version(draft, actor=actor(), now=utcnow())
    click.echo(f"draft {version.id}: {version.label}, {version.change}, effective {day}")
    if then_publish:
        _publish(version.id)


@policy_group.command("import")
@click.option("--ko", "ko_file", required=True, help="The Korean text as it was published.")
@click.option("--en", "en_file", default=None, help="The English text, if there was one.")
@click.option("--effective", required=True, help="The past date it took effect, YYYY-MM-DD.")
@click.option("--source", required=True, help="Where it was published (address or text).")
@click.option("--label", default=None, help="Version label (default: the effective date).")
def policy_import(
    ko_file: str, en_file: str | None, effective: str, source: str, label: str | None
) -> None:
    """Import a version already published elsewhere, with its real past effective date (no
    notice period, no notice e-mail: it was announced where it was published)."""
    from rightsdesk.policy import versions as policy

    day = parse_day(effective)
    draft = policy.Draft(
        label=label or day.isoformat(),
        change="material",
        effective_date=day,
        body_ko=_read(ko_file),
        body_en=_read(en_file),
    )
    with force_locale("en"), _refusals():
        version = policy.import_version(draft, source, actor=actor(), now=utcnow())
    click.echo(f"imported {version.label}: effective {day}, published at {version.imported_from}")


def _change(value: str) -> str:
    try:
        return parse_change(value).value
    except ValueError as error:
        raise PolicyInputError(str(error)) from None


class _refusals:
    """Refusals and bad input as one line, exit 2, nothing written."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        from rightsdesk.core.context import NoOrganisation
        from rightsdesk.policy.versions import PolicyError

        if isinstance(error, NoticeTooShort | PolicyError | NoOrganisation):
            db.session.rollback()
            raise PolicyInputError(f"refused: {error}") from None
        return False


@policy_group.command("publish")
@click.argument("label")
def policy_publish(label: str) -> None:
    """Publish a draft: checks the notice period, then starts the notice e-mail."""
    from rightsdesk.policy import versions as policy

    version = policy.by_label(label, published_only=False)
    if version is None:
        raise PolicyInputError(f"no version labelled {label!r}")
    _publish(version.id)


def _publish(version_id: int) -> None:
    from rightsdesk.models import PolicyVersion
    from rightsdesk.policy import versions as policy

    version = db.session.get(PolicyVersion, version_id)
    with force_locale("en"), _refusals():
        result = policy.publish(version, actor=actor(), now=utcnow())
    click.echo(
        f"published {result.version.label}: effective {result.version.effective_date} "
        f"(earliest allowed {result.period.earliest_effective})"
    )
    if result.campaign is not None:
        click.echo(f"notice campaign {result.campaign.id} started from {result.campaign.source}")
    else:
        click.echo(f"warning: no notice e-mail: {result.warning}", err=True)


@policy_group.command("list")
def policy_list() -> None:
    """Every version: label, change, effective date, state."""
    from rightsdesk.policy import versions as policy

    today = policy.local_today(utcnow())
    timeline = policy.timeline(today)
    rows = [(v, "upcoming") for v in reversed(timeline.upcoming)]
    rows += [(timeline.current, "in force")] if timeline.current else []
    rows += [(v, f"until {until}") for v, until in timeline.history]
    rows += [(v, "draft") for v in policy.drafts()]
    for version, state in rows:
        change = "imported" if version.imported_from else version.change
        click.echo(f"{version.label}\t{change}\t{version.effective_date}\t{state}")


@policy_group.command("campaigns")
def policy_campaigns() -> None:
    """Notice campaigns: id, purpose, state, queued, sent, bounced, failed, first/last sent."""
    from rightsdesk.policy import campaigns

    for c in campaigns.list_campaigns(limit=1000):
        first = c.first_sent_at.isoformat() if c.first_sent_at else "-"
        last = c.last_sent_at.isoformat() if c.last_sent_at else "-"
        click.echo(
            f"{c.id}\t{c.purpose}\t{c.state}\tqueued {c.queued}\tsent {c.sent}\t"
            f"bounced {c.bounced}\tfailed {c.failed}\t{first}\t{last}"
        )


campaigns_group = AppGroup("campaigns", help="Mass legal notices (policy changes, dormancy).")


def campaign_round(worker: str, *, read_seconds: float = 5.0) -> int:
    """Read and send once (the worker calls this); how much happened."""
    from rightsdesk.policy import campaigns

    read, sent = campaigns.work(now=utcnow(), worker=worker, read_seconds=read_seconds)
    if read.queued or sent.attempted:
        click.echo(
            f"campaigns: queued {read.queued}, sent {sent.sent}, retrying {sent.retrying}, "
            f"bounced {sent.bounced}, failed {sent.failed}"
        )
    for error in read.problems + sent.errors[:20]:
        click.echo(f"  {error}", err=True)
    return read.queued + sent.attempted


@campaigns_group.command("send")
@click.option("--loop", is_flag=True, help="Keep going until every campaign is done.")
@click.option("--interval", type=float, default=1.0, show_default=True)
def campaigns_send(loop: bool, interval: float) -> None:
    """Read recipients and send what is due, at each campaign's rate."""
    from rightsdesk.models import NoticeCampaign

    worker = worker_name()
    while True:
        busy = campaign_round(worker)
        open_ = db.session.query(NoticeCampaign).filter(NoticeCampaign.state != "done").count()
        db.session.commit()
        if not loop or not open_:
            break
        if not busy:
            time.sleep(interval)
    click.echo(f"{open_} campaign(s) still open")


@policy_group.command("promise")
@click.option("--kind", required=True)
@click.option("--days", type=int, default=None, help="Days promised; omit with --clear.")
@click.option("--clear", is_flag=True, help="Drop the promise: the statute's period applies.")
@click.option("--jurisdiction", default=None)
def policy_promise(kind: str, days: int | None, clear: bool, jurisdiction: str | None) -> None:
    """Promise a shorter response period than the statute (never a longer one)."""
    from rightsdesk.organisation.setup import promise_period

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
    from rightsdesk.core.context import current_organisation, settings
    from rightsdesk.requests.deadlines import promised_periods

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
