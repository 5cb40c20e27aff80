"""Fulfilment on the operator's real data, as the data map describes it.

This slice does access (열람): collect the subject's rows from every SQL system whose database
is configured, package them, and offer the package (encrypted at rest) on the status page.
Each run writes one audit event: the offer of the package with the execution record — counts
and fields per table, never the data. Webhook systems get a signed job (services/connectors.py)
whose answer joins the package; manual systems become checklist items and are listed in the
package as checked separately.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, case, func, inspect, select
from sqlalchemy.orm.base import NO_VALUE

from rightsdesk.core.actors import Actor
from rightsdesk.core.direct import Direct
from rightsdesk.core.driver import pipelined
from rightsdesk.delivery import connectors
from rightsdesk.domain.datamap import DataMap, System, SystemKind
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.domain.messages import N_
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import ConnectorJob, Download, Organisation, Request, Subject
from rightsdesk.requests.downloads import offer
from rightsdesk.systems.collect import (
    Collection,
    RemoteRows,
    SeparatedRows,
    build_package,
    collect_sql,
)
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine


class AccessWaiting(FulfilmentError):
    """Not a failure: the package waits for the apps' answers, which the worker fetches."""


def subject_identities(request: Request) -> dict[str, str]:
    """What the subject is known by: the e-mail address; without one, the phone number staff
    took down (never both: a mistyped number must not pull in someone else's account)."""
    return identities_later(request)()


def identities_later(request: Request) -> Callable[[], dict[str, str]]:
    """:func:`subject_identities`, its statement sent now (in a pipeline, with others) and its
    answer read when the result is called. From the subject already loaded, else read as two
    columns (not the whole subject, which fulfilment does not otherwise need)."""
    loaded = inspect(request).attrs.subject.loaded_value
    if loaded is not NO_VALUE:
        row = (loaded.email, loaded.phone) if loaded is not None else None
        return lambda: _identities_of(row)
    if request.subject_id is None:
        return lambda: _identities_of(None)
    answer = _CONTACT.send({"subject": request.subject_id})
    return lambda: _identities_of(answer.first())


def _identities_of(contact: tuple[str | None, str | None] | None) -> dict[str, str]:
    if contact is None:
        raise FulfilmentError(N_("the subject's identity is no longer known (purged)"))
    return _identities(contact[0], contact[1])


def _identities(email: str | None, phone: str | None) -> dict[str, str]:
    if email:
        return {"email": email}
    if phone:
        return {"phone": phone}
    raise FulfilmentError(N_("the subject has neither an e-mail address nor a phone number"))


_CONTACT = Direct(
    select(Subject.email, Subject.phone).where(Subject.id == bindparam("subject"))
)


def separated_rows(request: Request, email: str | None) -> list[SeparatedRows]:
    """The subject's rows in separated storage (kept by their erasures, or by dormancy; the
    latter found by ``email``, the subject's address), decrypted, marked with their basis and
    purge date, per table."""
    return separated_rows_later(request, email)()


def separated_rows_later(
    request: Request, email: str | None
) -> Callable[[], list[SeparatedRows]]:
    """:func:`separated_rows`, its statement sent now, read when the result is called."""
    if request.subject_id is None:
        return list
    opened = separated.of_subject_later(request.subject_id, email)

    def rows() -> list[SeparatedRows]:
        tables: dict[tuple[str, str], SeparatedRows] = {}
        for kept in opened():
            key = (kept.system, kept.table)
            part = tables.setdefault(key, SeparatedRows(kept.system, kept.table))
            part.rows.append(
                {
                    **kept.row,
                    "_separated": True,
                    "_basis": kept.basis,
                    "_purge_after": kept.purge_after.isoformat(),
                }
            )
        return list(tables.values())

    return rows


def collect(
    datamap: DataMap, request: Request, identities: dict[str, str] | None = None
) -> Collection:
    """The subject's rows in every system of the map, and in separated storage; ``identities``
    when the caller has read them already."""
    identities = identities or subject_identities(request)
    collection = Collection()
    webhooks = any(s.kind == SystemKind.WEBHOOK for s in datamap.systems)
    answers = connectors.access_results(request) if webhooks else {}
    # Separated storage is in rightsdesk's own database: its statement goes first, and its
    # answer arrives while the operator's databases are read (PostgreSQL's pipeline).
    with pipelined(db.session.connection()):
        separated_later = separated_rows_later(request, identities.get("email"))
        for system in datamap.systems:
            _collect_system(collection, system, identities, answers)
    collection.separated = separated_later()
    return collection


def _collect_system(
    collection: Collection, system: System, identities: dict[str, str], answers: dict
) -> None:
    """The system's part of the collection: its rows, or why it was not reached. Nothing here
    runs a statement in rightsdesk's own database (:func:`collect` pipelines one there)."""
    if system.kind == SystemKind.WEBHOOK and system.name in answers:
        collection.remote += _remote(system, answers[system.name])
        return
    if system.kind == SystemKind.WEBHOOK and not connectors.secret_env_set(system):
        collection.unreached.append((system.name, f"{system.secret_env} is not set"))
        return
    if system.kind != SystemKind.SQL:
        collection.unreached.append((system.name, system.description or system.kind))
        return
    if not os.environ.get(system.url_env):
        collection.unreached.append((system.name, f"{system.url_env} is not set"))
        return
    with system_engine(system) as engine:
        collection.tables += collect_sql(system, engine, identities)


def _remote(system: System, tables: dict[str, list[dict]]) -> list[RemoteRows]:
    return [RemoteRows(system.name, name, system.categories, rows) for name, rows in tables.items()]


def _await_connectors(request: Request, datamap: DataMap, action: str, now: datetime) -> None:
    """Ensure the webhook jobs and checklist items of ``action``. A job that has not answered
    stops here, committed so the worker sends it; the worker builds the package once every
    app has answered (:func:`build_waiting_packages`)."""
    waiting = [j for j in connectors.start(request, datamap, action, now=now) if j.state != "done"]
    if not waiting:
        return
    db.session.commit()
    failed = [j.system for j in waiting if j.state == connectors.FAILED]
    if failed:
        raise FulfilmentError(
            N_("%(systems)s failed: retry its job, then collect again"), systems=", ".join(failed)
        )
    raise AccessWaiting(
        N_(
            "waiting for %(systems)s to answer: the worker sends the job and offers the "
            "package once every app has answered"
        ),
        systems=", ".join(j.system for j in waiting),
    )


def prepare_access_package(request: Request, *, actor: Actor, now: datetime) -> Download:
    """Collect, package and offer the subject's data for an access request."""
    if request.kind is not RequestKind.ACCESS:
        raise FulfilmentError(N_("an access package is for access requests"))
    identities, organisation = _identities_and_organisation(request)
    datamap = configured_datamap()
    _await_connectors(request, datamap, "access", now)
    collection = collect(datamap, request, identities)
    package = build_package(
        collection,
        datamap,
        reference=request.reference,
        organisation=organisation,
        generated=now,
    )
    return offer(
        request,
        package,
        f"{request.reference}-personal-data.zip",
        actor=actor,
        now=now,
        ttl_days=int(current_app.config["PACKAGE_TTL_DAYS"]),
        action="fulfilment.access",
        details={"tables": _collected_tables(collection)},
        kind=("application/zip", "zip"),
    )


def _identities_and_organisation(request: Request) -> tuple[dict[str, str], str]:
    """:func:`subject_identities` and the organisation's name (for the package's summary), in
    one statement unless the subject is loaded already."""
    if request.subject_id is None or inspect(request).attrs.subject.loaded_value is not NO_VALUE:
        return subject_identities(request), _organisation_name()
    row = _CONTACT_AND_ORGANISATION.first({"subject": request.subject_id})
    identities = _identities_of(row[:2] if row else None)  # raises when no row: purged
    return identities, row[2] or ""


def _organisation_name() -> str:
    row = _ORGANISATION_NAME.first()
    return (row[0] if row else None) or ""


# The organisation's name as core.context.current_organisation finds it (the first one).
_FIRST_ORGANISATION = select(Organisation.name_ko).order_by(Organisation.id).limit(1)
_ORGANISATION_NAME = Direct(_FIRST_ORGANISATION)
_CONTACT_AND_ORGANISATION = Direct(
    select(Subject.email, Subject.phone, _FIRST_ORGANISATION.scalar_subquery()).where(
        Subject.id == bindparam("subject")
    )
)


def _collected_tables(collection: Collection) -> list[dict]:
    """The run's execution record, kept with the offer in one audit event: per table collected
    its counts and fields, never the data."""
    tables = [
        {
            "system": part.system,
            "table": part.table.name,
            "rows": len(part.rows),
            "fields": sorted(part.table.fields),
        }
        for part in collection.tables
    ]
    separated_tables = [
        {"separated": f"{kept.system}.{kept.table}", "rows": len(kept.rows)}
        for kept in collection.separated
    ]
    return tables + separated_tables + [
        {"system": remote.system, "table": remote.name, "rows": len(remote.rows)}
        for remote in collection.remote
    ]


# --- packages the worker finishes -----------------------------------------------------------

WORKER_ACTOR = "system:access-packages"


def build_waiting_packages(*, now: datetime) -> list[str]:
    """Build the packages staff asked for that waited for the apps' answers, once every app
    has answered (the worker calls this each round): collecting is one click for staff, who
    see the package arrive on the request's page. The references built."""
    built = []
    for request in _waiting_for_a_package():
        try:
            prepare_access_package(request, actor=WORKER_ACTOR, now=now)
        except FulfilmentError:
            db.session.rollback()  # still waiting, or a problem staff see on "Collect"
            continue
        built.append(request.reference)
    return built


def _waiting_for_a_package() -> list[Request]:
    """Open access requests whose apps have all answered since the last file was offered."""
    answered = (
        select(ConnectorJob.request_id, func.max(ConnectorJob.finished_at).label("last"))
        .where(ConnectorJob.action == "access")
        .group_by(ConnectorJob.request_id)
        .having(func.count() == func.sum(case((ConnectorJob.state == connectors.DONE, 1), else_=0)))
        .subquery()
    )
    offered = (
        select(Download.request_id, func.max(Download.created_at).label("at"))
        .group_by(Download.request_id)
        .subquery()
    )
    query = (
        select(Request)
        .join(answered, answered.c.request_id == Request.id)
        .outerjoin(offered, offered.c.request_id == Request.id)
        .where(
            Request.kind == RequestKind.ACCESS,
            Request.status.in_(OPEN),
            (offered.c.at.is_(None)) | (offered.c.at < answered.c.last),
        )
        .order_by(Request.id)
    )
    return list(db.session.scalars(query))
