"""``rightsdesk requests …``: list requests, revoke status links."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor, input_errors
from rightsdesk.core.clock import utcnow
from rightsdesk.domain.kinds import RequestKind, parse_kind
from rightsdesk.domain.lifecycle import OPEN, TERMINAL, Status, parse_status
from rightsdesk.models import Request

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
    from rightsdesk.core.context import settings
    from rightsdesk.requests.lifecycle import list_requests

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
    from rightsdesk.requests.intake import revoke_status_links

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
