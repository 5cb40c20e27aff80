"""Suspension of processing and consent withdrawal: the data map's actions for the
purposes in scope, audited per table.
"""

from __future__ import annotations

from datetime import datetime

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.delivery import connectors
from rightsdesk.domain.datamap import SystemKind
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.messages import N_
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import subject_identities
from rightsdesk.models import Request
from rightsdesk.systems.collect import (
    stop_purposes,
)
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine

STOPPING = (RequestKind.SUSPENSION, RequestKind.CONSENT_WITHDRAWAL)


def stop_processing(request: Request, *, actor: Actor, now: datetime) -> dict[str, int]:
    """For a suspension or consent withdrawal: carry out the data map's actions for the purposes
    in the request's scope (all purposes for "everything") in every reachable SQL system."""
    if request.kind not in STOPPING:
        raise FulfilmentError(N_("stopping processing is for suspension and consent withdrawal"))
    identities = subject_identities(request)
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
            _audit_stop(request, system.name, table, rows, purposes, actor=actor, now=now)
    connectors.start(request, datamap, "stop", now=now)  # webhook jobs, manual checklist items
    db.session.commit()
    return affected


def _audit_stop(
    request: Request,
    system: str,
    table: str,
    rows: int,
    purposes: set[str] | None,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    audit.record(
        "fulfilment.stop",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "system": system,
            "table": table,
            "rows": rows,
            "purposes": sorted(purposes) if purposes else "all",
        },
    )
