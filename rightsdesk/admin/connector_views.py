"""A request's jobs for webhook systems and checklist items for manual ones, on its page.

The partial ``admin/_connectors.html`` reads :func:`connector_panel`; handlers and admins retry
a job or tick an item with a note, auditors only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from rightsdesk.admin.blueprint import WORKERS, bp, roles
from rightsdesk.admin.request_views import load_request
from rightsdesk.core.actors import Actor
from rightsdesk.delivery import connectors
from rightsdesk.domain.datamap import DataMap
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import FulfilmentError, configured_datamap
from rightsdesk.models import ChecklistItem, ConnectorJob, Request


@dataclass(frozen=True)
class ChecklistRow:
    item: ChecklistItem
    description: str
    instructions: str


@dataclass(frozen=True)
class Panel:
    jobs: list[ConnectorJob]
    checklist: list[ChecklistRow]


def _datamap() -> DataMap | None:
    try:
        return configured_datamap()
    except FulfilmentError:
        return None


def _instructions(datamap: DataMap | None, system_name: str) -> tuple[str, str]:
    """The system's description and its instructions in the staff member's language."""
    try:
        system = datamap.system(system_name) if datamap else None
    except LookupError:
        system = None
    if system is None:
        return "", ""
    text = system.instructions.get(str(get_locale())) or system.instructions.get("ko", "")
    return system.description, text.strip()


@bp.app_template_global()
def connector_panel(item: Request) -> Panel:
    items = connectors.checklist_for(item)
    datamap = _datamap() if items else None
    rows = [ChecklistRow(i, *_instructions(datamap, i.system)) for i in items]
    return Panel(jobs=connectors.jobs_for(item), checklist=rows)


def _back(reference: str):
    return redirect(url_for("admin.request_detail", reference=reference) + "#connectors")


@bp.post("/requests/<reference>/connectors/<int:job_id>/retry")
@roles(*WORKERS)
def connector_retry(reference: str, job_id: int):
    item = load_request(reference)
    job = db.session.get(ConnectorJob, job_id)
    if job is None or job.request_id != item.id:
        abort(404)
    try:
        connectors.retry(job, actor=Actor.staff(current_user), now=datetime.now(UTC))
    except connectors.ConnectorError as error:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=str(error)), "error")
    else:
        flash(_("The job is sent again by the worker."))
    return _back(reference)


@bp.post("/requests/<reference>/checklist/<int:item_id>/tick")
@roles(*WORKERS)
def checklist_tick(reference: str, item_id: int):
    item = load_request(reference)
    entry = db.session.get(ChecklistItem, item_id)
    if entry is None or entry.request_id != item.id:
        abort(404)
    try:
        connectors.tick(
            entry,
            note=request.form.get("note", ""),
            actor=Actor.staff(current_user),
            now=datetime.now(UTC),
        )
    except connectors.ConnectorError as error:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=str(error)), "error")
    else:
        flash(_("Done."))
    return _back(reference)
