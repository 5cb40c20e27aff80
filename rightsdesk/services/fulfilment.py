"""Fulfilment on the operator's real data, as the data map describes it.

This slice does access (열람): collect the subject's rows from every SQL system whose database
is configured, package them, and offer the package (encrypted at rest) on the status page.
Each run writes an execution record per table — counts and fields, never the data — into the
audit trail. Webhook systems get a signed job (services/connectors.py) whose answer joins the
package; manual systems become checklist items and are listed in the package as checked
separately.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.domain.datamap import DataMap, System, SystemKind, check_structure, load_datamap
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import (
    Collection,
    RemoteRows,
    apply_correction,
    build_package,
    collect_sql,
    correction_targets,
    stop_purposes,
)
from rightsdesk.fulfilment.connect import shared_engine
from rightsdesk.mail.outbox import queue
from rightsdesk.models import CorrectionItem, Download, Request
from rightsdesk.services import audit, connectors
from rightsdesk.services.downloads import offer
from rightsdesk.services.organisation import current_organisation


class FulfilmentError(ValueError):
    """Fulfilment cannot run as asked; the message says what to fix."""


def configured_datamap() -> DataMap:
    path = current_app.config.get("DATAMAP_FILE")
    if not path:
        raise FulfilmentError("no data map: set RIGHTSDESK_DATAMAP_FILE")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise FulfilmentError(f"cannot read the data map {path}: {error.strerror}") from None
    datamap = load_datamap(text, str(path))
    problems = check_structure(datamap, _schedule_categories())
    if problems:
        raise FulfilmentError(f"the data map has problems: {problems[0].format(str(path))}")
    return datamap


def _schedule_categories() -> list[str]:
    """The retention categories a table may name: the operator's schedule's."""
    from rightsdesk.services.retention_jobs import current_schedule

    return list(current_schedule().rules)


@contextmanager
def system_engine(system: System) -> Iterator[Engine]:
    """An engine for an SQL system of the map; a missing URL or a database that is down or
    refuses is a :class:`FulfilmentError` naming the system (the step can be retried), never
    a crash and never a request marked done."""
    url = os.environ.get(system.url_env)
    if not url:
        raise FulfilmentError(f"{system.url_env} is not set: cannot reach {system.name}")
    try:
        yield shared_engine(url)
    except SQLAlchemyError as error:
        reason = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
        raise FulfilmentError(f"{system.name} failed, nothing was changed: {reason}") from None


def _identities(request: Request) -> dict[str, str]:
    if request.subject is None:
        raise FulfilmentError("the subject's identity is no longer known (purged)")
    return {"email": request.subject.email}


def collect(datamap: DataMap, request: Request) -> Collection:
    identities = _identities(request)
    collection = Collection()
    answers = connectors.access_results(request)
    for system in datamap.systems:
        if system.kind == SystemKind.WEBHOOK and system.name in answers:
            collection.remote += _remote(system, answers[system.name])
            continue
        if system.kind == SystemKind.WEBHOOK and not connectors.secret_env_set(system):
            collection.unreached.append((system.name, f"{system.secret_env} is not set"))
            continue
        if system.kind != SystemKind.SQL:
            collection.unreached.append((system.name, system.description or system.kind))
            continue
        if not os.environ.get(system.url_env):
            collection.unreached.append((system.name, f"{system.url_env} is not set"))
            continue
        with system_engine(system) as engine:
            collection.tables += collect_sql(system, engine, identities)
    return collection


def _remote(system: System, tables: dict[str, list[dict]]) -> list[RemoteRows]:
    return [RemoteRows(system.name, name, system.categories, rows) for name, rows in tables.items()]


def _await_connectors(request: Request, datamap: DataMap, action: str, now: datetime) -> None:
    """Ensure the webhook jobs and checklist items of ``action``. A job that has not answered
    stops here, committed so the worker sends it: collect again once it has."""
    waiting = [j for j in connectors.start(request, datamap, action, now=now) if j.state != "done"]
    if not waiting:
        return
    db.session.commit()
    failed = [j.system for j in waiting if j.state == connectors.FAILED]
    if failed:
        raise FulfilmentError(f"{', '.join(failed)} failed: retry its job, then collect again")
    names = ", ".join(j.system for j in waiting)
    raise FulfilmentError(
        f"waiting for {names} to answer (the worker sends the job): collect again once it has"
    )


def prepare_access_package(request: Request, *, actor: str, now: datetime) -> Download:
    """Collect, package and offer the subject's data for an access request."""
    if request.kind is not RequestKind.ACCESS:
        raise FulfilmentError("an access package is for access requests")
    _identities(request)
    datamap = configured_datamap()
    _await_connectors(request, datamap, "access", now)
    collection = collect(datamap, request)
    try:
        organisation = current_organisation().name_ko
    except LookupError:
        organisation = ""
    package = build_package(
        collection,
        datamap,
        reference=request.reference,
        organisation=organisation,
        generated=now,
    )
    for part in collection.tables:
        audit.record(
            "fulfilment.access",
            actor=actor,
            now=now,
            request_ref=request.reference,
            data={
                "system": part.system,
                "table": part.table.name,
                "rows": len(part.rows),
                "fields": sorted(part.table.fields),
            },
        )
    for remote in collection.remote:
        audit.record(
            "fulfilment.access",
            actor=actor,
            now=now,
            request_ref=request.reference,
            data={"system": remote.system, "table": remote.name, "rows": len(remote.rows)},
        )
    return offer(
        request,
        package,
        f"{request.reference}-personal-data.zip",
        actor=actor,
        now=now,
        ttl_days=int(current_app.config["PACKAGE_TTL_DAYS"]),
    )


def targets() -> list[str]:
    return correction_targets(configured_datamap())


def decide_correction(
    request: Request,
    item_id: int,
    *,
    approve: bool,
    target: str | None,
    note: str | None,
    actor: str,
    now: datetime,
) -> CorrectionItem:
    """Approve (and apply) or reject one correction item; recipients of the corrected field's
    category are told of an applied correction. One commit, after the operator's database
    accepted the change."""
    item = db.session.get(CorrectionItem, item_id)
    if item is None or item.request_id != request.id:
        raise FulfilmentError("no such correction item on this request")
    if item.decision is not None:
        raise FulfilmentError("this item is decided already")
    note = (note or "").strip() or None
    if approve:
        datamap = configured_datamap()
        if target not in correction_targets(datamap):
            raise FulfilmentError("choose the field of the data map to correct")
        item.target = target
        if "." not in target:  # a webhook system: the app applies it when the job arrives
            job = connectors.ensure_job(request, target, "correction", now=now)
            connectors.send_again(job, now=now)
        else:
            system_name, table_name, column = target.split(".", 2)
            system = datamap.system(system_name)
            with system_engine(system) as engine:
                item.rows_changed = apply_correction(
                    system, engine, _identities(request), table_name, column, item.correct_value
                )
            _notify_recipients(datamap, request, system_name, table_name, column, item, now)
    elif not note:
        raise FulfilmentError("say why the item is rejected: the subject will be told")
    item.decision = "approved" if approve else "rejected"
    item.decision_note = note
    item.decided_by, item.decided_at = actor, now
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
    db.session.commit()
    return item


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


STOPPING = (RequestKind.SUSPENSION, RequestKind.CONSENT_WITHDRAWAL)


def stop_processing(request: Request, *, actor: str, now: datetime) -> dict[str, int]:
    """For a suspension or consent withdrawal: carry out the data map's actions for the purposes
    in the request's scope (all purposes for "everything") in every reachable SQL system."""
    if request.kind not in STOPPING:
        raise FulfilmentError("stopping processing is for suspension and consent withdrawal")
    identities = _identities(request)
    datamap = configured_datamap()
    scope = request.scope or {"all": True}
    purposes = None if scope.get("all") else set(scope.get("purposes", []))
    affected: dict[str, int] = {}
    for system in datamap.systems:
        if system.kind != SystemKind.SQL:
            continue
        with system_engine(system) as engine:
            done = stop_purposes(system, engine, identities, purposes)
        for table, rows in done.items():
            affected[f"{system.name}.{table}"] = rows
            audit.record(
                "fulfilment.stop",
                actor=actor,
                now=now,
                request_ref=request.reference,
                data={
                    "system": system.name,
                    "table": table,
                    "rows": rows,
                    "purposes": sorted(purposes) if purposes else "all",
                },
            )
    connectors.start(request, datamap, "stop", now=now)  # webhook jobs, manual checklist items
    db.session.commit()
    return affected
