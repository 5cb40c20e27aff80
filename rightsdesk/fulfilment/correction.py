"""Correction (정정): each item approved into the data map's field, or rejected with a reason."""

from __future__ import annotations

from datetime import datetime

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import current_organisation
from rightsdesk.delivery import connectors
from rightsdesk.delivery.outbox import queue
from rightsdesk.domain.messages import N_
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import subject_identities
from rightsdesk.models import CorrectionItem, Request
from rightsdesk.systems.collect import (
    apply_correction,
    correction_targets,
)
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine


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
    item.decision = "approved" if approve else "rejected"
    item.decision_note = note
    item.decided_by, item.decided_at = actor, now
    _audit_decision(request, item, actor, now)
    db.session.commit()
    return item


def _undecided_item(request: Request, item_id: int) -> CorrectionItem:
    item = db.session.get(CorrectionItem, item_id)
    if item is None or item.request_id != request.id:
        raise FulfilmentError(N_("no such correction item on this request"))
    if item.decision is not None:
        raise FulfilmentError(N_("this item is decided already"))
    return item


def _apply(request: Request, item: CorrectionItem, target: str | None, now: datetime) -> None:
    """Apply the item to ``target``: a webhook system's job (the app applies it when the job
    arrives), or an UPDATE in a SQL system, whose recipients are then told."""
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
    with system_engine(system) as engine:
        try:
            item.rows_changed = apply_correction(
                system,
                engine,
                subject_identities(request),
                table_name,
                column,
                item.correct_value,
            )
        except ValueError as error:  # e.g. a table with no primary key: staff correct by hand
            raise FulfilmentError(str(error)) from None
    _notify_recipients(datamap, request, system_name, table_name, column, item, now)


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


def _notify_recipients(datamap, request, system_name, table_name, column, item, now) -> None:
    """Recipients of the field's category get the corrected value (they hold the old one)."""
    table = next(t for t in datamap.system(system_name).tables if t.name == table_name)
    category = table.fields.get(column)
    for recipient in datamap.recipients:
        if category not in recipient.categories or "@" not in (recipient.contact or ""):
            continue
        queue(
            "recipient_correction",
            recipient=recipient.contact,
            language="ko",
            context={
                "item": request,
                "organisation": _organisation_or_none(),
                "recipient": recipient,
                "field": column,
                "value": item.correct_value,
            },
            now=now,
            request_ref=request.reference,
        )


def _organisation_or_none():
    try:
        return current_organisation()
    except LookupError:
        return None
