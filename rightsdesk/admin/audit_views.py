"""The audit trail, for auditors and admins: browse, export, verify."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, render_template, request
from sqlalchemy import select

from rightsdesk.admin.blueprint import READERS, bp, roles
from rightsdesk.core.audit import verify_chain
from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent

PAGE_SIZE = 100


def _filtered():
    query = select(AuditEvent)
    reference = (request.args.get("reference") or "").strip().upper()
    action = (request.args.get("action") or "").strip()
    if reference:
        query = query.where(AuditEvent.request_ref == reference)
    if action:
        query = query.where(AuditEvent.action == action)
    return query


@bp.get("/audit")
@roles(*READERS)
def audit_trail():
    query = _filtered()
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEvent.seq < before)
    events = db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE)).all()
    next_before = events[-1].seq if len(events) == PAGE_SIZE else None
    return render_template(
        "admin/audit.html",
        events=[(e, json.loads(e.data)) for e in events],
        next_before=next_before,
        args=request.args,
        report=verify_chain() if request.args.get("verify") else None,
    )


@bp.get("/audit.csv")
@roles(*READERS)
def audit_export():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "at", "actor", "action", "request_ref", "data", "prev_hash", "hash"])
    for event in db.session.scalars(_filtered().order_by(AuditEvent.seq)):
        writer.writerow(
            [
                event.seq,
                event.at.isoformat(),
                _cell(event.actor),
                event.action,
                event.request_ref or "",
                _cell(event.data),
                event.prev_hash,
                event.hash,
            ]
        )
    return Response(
        "\ufeff" + buffer.getvalue(),  # a BOM, so spreadsheet programs read Korean as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
