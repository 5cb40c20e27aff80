"""Correction (정정): each item approved into the data map's field, or rejected with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import current_organisation, settings
from rightsdesk.delivery import connectors, recipient_notices
from rightsdesk.delivery.outbox import queue
from rightsdesk.domain.datamap import Recipient
from rightsdesk.domain.messages import N_
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import subject_identities
from rightsdesk.models import CorrectionItem, ErasureStep, Request
from rightsdesk.systems.collect import (
    TableRows,
    apply_correction,
    collect_rows,
    correction_targets,
)
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine

RECIPIENT_REPLY_DAYS = 10  # recipients confirm the correction of their copy by then


def targets() -> list[str]:
    return correction_targets(configured_datamap())


def decide_correction(
    request: Request,
    item_id: int,
    *,
    approve: bool,
    target: str | None,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> CorrectionItem:
    """Approve (and apply) or reject one correction item; recipients of the corrected field's
    category are told of an applied correction. One commit, after the operator's database
    accepted the change."""
    item = _undecided_item(request, item_id)
    note = (note or "").strip() or None
    if approve:
        _apply(request, item, target, now)
    elif not note:
        raise FulfilmentError(N_("say why the item is rejected: the subject will be told"))
    item.decision = _decision(approve, item)
    item.decision_note = item.decision_note if item.decision == NOT_FOUND else note
    item.decided_by, item.decided_at = actor, now
    _audit_decision(request, item, actor, now)
    db.session.commit()
    return item


NOT_FOUND = "not_found"  # approved, but the subject has no row there (erased, or never held)


def _decision(approve: bool, item: CorrectionItem) -> str:
    if not approve:
        return "rejected"
    if item.target and "." in item.target and not item.rows_changed:
        return NOT_FOUND
    return "approved"


def _undecided_item(request: Request, item_id: int) -> CorrectionItem:
    item = db.session.get(CorrectionItem, item_id)
    if item is None or item.request_id != request.id:
        raise FulfilmentError(N_("no such correction item on this request"))
    if item.decision is not None:
        raise FulfilmentError(N_("this item is decided already"))
    return item


def _apply(request: Request, item: CorrectionItem, target: str | None, now: datetime) -> None:
    """Apply the item to ``target``: a webhook system's job (the app applies it when the job
    arrives), or an UPDATE in a SQL system, whose recipients are then told. A target where
    the subject has no row (erased, or never held) is not corrected: the item says why."""
    datamap = configured_datamap()
    if target not in correction_targets(datamap):
        raise FulfilmentError(N_("choose the field of the data map to correct"))
    item.target = target
    if "." not in target:  # a webhook system: the app applies it when the job arrives
        job = connectors.ensure_job(request, target, "correction", now=now)
        connectors.send_again(job, now=now)
        return
    system_name, table_name, column = target.split(".", 2)
    system = datamap.system(system_name)
    identities = subject_identities(request)
    with system_engine(system) as engine:
        found, _tables = collect_rows(system, engine, identities)
        old_values = [row.get(column) for row in found[table_name].rows]
        try:
            item.rows_changed = apply_correction(
                system, engine, identities, table_name, column, item.correct_value
            )
        except ValueError as error:  # e.g. a table with no primary key: staff correct by hand
            raise FulfilmentError(str(error)) from None
    if not item.rows_changed:
        item.decision_note = _not_found_reason(request, f"{system_name}.{table_name}")
        return
    known = RecipientFacts(found, _distinct(old_values))
    _notify_recipients(datamap, request, system_name, table_name, column, item, known, now)


@dataclass(frozen=True)
class RecipientFacts:
    """What a recipient's notice carries besides the new value: the subject's rows (for the
    identifiers each recipient knows them by) and the value it holds now."""

    rows: dict[str, TableRows]
    old_value: str

    def identifiers(self, recipient: Recipient, system_name: str) -> list[tuple[str, str]]:
        """(label, values) for each of the recipient's identifiers in this system."""
        found = []
        for label, dotted in recipient.identifiers.items():
            system, table, column = dotted.split(".", 2)
            part = self.rows.get(table) if system == system_name else None
            values = _distinct([row.get(column) for row in part.rows]) if part else ""
            found.append((label, values or "—"))
        return found


def _distinct(values: list[object]) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values if v is not None))


def _not_found_reason(request: Request, place: str) -> str:
    """Why nothing was corrected, in the subject's language: their data was erased (when, on
    which request), or we hold no row of theirs there."""
    erased = db.session.execute(
        select(Request.reference, ErasureStep.finished_at)
        .join(ErasureStep, ErasureStep.request_id == Request.id)
        .where(Request.subject_id == request.subject_id, ErasureStep.state == "done")
        .order_by(ErasureStep.finished_at.desc())
        .limit(1)
    ).first()
    with force_locale(request.language):
        if erased is not None:
            day = erased.finished_at.astimezone(settings().tz).date().isoformat()
            return _(
                "Not corrected: we no longer hold this record. Your data was erased on "
                "%(day)s (request %(reference)s).",
                day=day,
                reference=erased.reference,
            )
        return _("Not corrected: we hold no record of yours in which to correct this item.")


def _audit_decision(request: Request, item: CorrectionItem, actor: Actor, now: datetime) -> None:
    audit.record(
        "fulfilment.correction",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "item": item.id,
            "decision": item.decision,
            "target": item.target,
            "rows": item.rows_changed,
        },
    )


def _notify_recipients(
    datamap, request, system_name, table_name, column, item, known: RecipientFacts, now
) -> None:
    """Recipients of the field's category are told, by e-mail: whose record (the identifiers
    they know the person by), the field, the old and the new value, the reference, and the
    day to confirm by. Each mail is in the outbox, its delivery shown on the request's page."""
    table = next(t for t in datamap.system(system_name).tables if t.name == table_name)
    category = table.fields.get(column)
    reply_by = now.astimezone(settings().tz).date() + timedelta(days=RECIPIENT_REPLY_DAYS)
    facts = {
        "item": request,
        "field": f"{table_name}.{column}",
        "old_value": known.old_value or "—",
        "value": item.correct_value,
        "reply_by": reply_by,
    }
    for recipient in datamap.recipients:
        if category not in recipient.categories:
            continue
        identifiers = known.identifiers(recipient, system_name)
        if recipient.channel == "webhook":
            recipient_notices.queue_notice(
                request.reference, recipient, _webhook_payload(facts, identifiers), now=now
            )
        elif "@" in (recipient.contact or ""):
            _mail_recipient(recipient, {**facts, "identifiers": identifiers}, now)


def _mail_recipient(recipient: Recipient, facts: dict, now: datetime) -> None:
    queue(
        "recipient_correction",
        recipient=recipient.contact,
        language="ko",
        context={**facts, "organisation": _organisation_or_none(), "recipient": recipient},
        now=now,
        request_ref=facts["item"].reference,
    )


def _webhook_payload(facts: dict, identifiers: list[tuple[str, str]]) -> dict:
    """What a webhook recipient is posted: the same facts as the mail, as JSON."""
    return {
        "type": "correction",
        "reference": facts["item"].reference,
        "identifiers": {label: values for label, values in identifiers},
        "field": facts["field"],
        "old_value": facts["old_value"],
        "new_value": facts["value"],
        "reply_by": facts["reply_by"].isoformat(),
    }


def _organisation_or_none():
    try:
        return current_organisation()
    except LookupError:
        return None
