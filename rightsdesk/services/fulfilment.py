"""Fulfilment on the operator's real data, as the data map describes it.

This slice does access (열람): collect the subject's rows from every SQL system whose database
is configured, package them, and offer the package (encrypted at rest) on the status page.
Each run writes an execution record per table — counts and fields, never the data — into the
audit trail. Webhook and manual systems are listed in the package as checked separately.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from flask import current_app

from ..domain.datamap import DataMap, SystemKind, check_structure, load_datamap
from ..domain.kinds import RequestKind
from ..fulfilment.access import Collection, build_package, collect_sql
from ..fulfilment.connect import engine_for
from ..models import Download, Request
from . import audit
from .downloads import offer
from .organisation import current_organisation


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
    problems = check_structure(datamap)
    if problems:
        raise FulfilmentError(f"the data map has problems: {problems[0].format(str(path))}")
    return datamap


def collect(datamap: DataMap, request: Request) -> Collection:
    identities = {"email": request.subject.email} if request.subject else {}
    collection = Collection()
    for system in datamap.systems:
        if system.kind != SystemKind.SQL:
            collection.unreached.append((system.name, system.description or system.kind))
            continue
        url = os.environ.get(system.url_env)
        if not url:
            collection.unreached.append((system.name, f"{system.url_env} is not set"))
            continue
        engine = engine_for(url)
        try:
            collection.tables += collect_sql(system, engine, identities)
        finally:
            engine.dispose()
    return collection


def prepare_access_package(request: Request, *, actor: str, now: datetime) -> Download:
    """Collect, package and offer the subject's data for an access request."""
    if request.kind is not RequestKind.ACCESS:
        raise FulfilmentError("an access package is for access requests")
    if request.subject is None:
        raise FulfilmentError("the subject's identity is no longer known (purged)")
    datamap = configured_datamap()
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
    return offer(request, package, f"{request.reference}-personal-data.zip", actor=actor, now=now)
