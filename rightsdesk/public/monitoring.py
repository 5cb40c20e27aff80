"""``/healthz`` for load balancers and monitoring, ``/metrics`` for Prometheus.

``/healthz`` is public: database, the worker's heartbeat age and the queues' backlogs, never
personal data or request counts; ``?strict=1`` answers 503 when degraded (no worker seen
within ``RIGHTSDESK_WORKER_STALE_MINUTES``). ``/metrics`` adds the open requests by kind and
due date, so it answers only a bearer token (``RIGHTSDESK_METRICS_TOKEN``, compared in constant
time) or an address in ``RIGHTSDESK_METRICS_ALLOW_FROM``; with neither set it does not exist.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Response, abort, current_app, request
from sqlalchemy.exc import OperationalError

from rightsdesk.core.clock import utcnow
from rightsdesk.core.health import health, metrics_text
from rightsdesk.extensions import db
from rightsdesk.public.blueprint import bp


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    """Database reachability, the worker's heartbeat and the backlogs."""
    try:
        db.session.execute(db.select(1))
        stale_after = float(current_app.config["WORKER_STALE_MINUTES"]) * 60
        answer = health(utcnow(), stale_after=stale_after)
    except OperationalError:
        db.session.rollback()
        return {"status": "database unavailable", "database": "unavailable"}, 503
    db.session.rollback()
    strict = request.args.get("strict") in ("1", "true")
    return answer, 503 if strict and answer["status"] != "ok" else 200


@bp.get("/metrics")
def metrics() -> Response:
    _allow_metrics()
    return Response(metrics_text(utcnow()), mimetype="text/plain; version=0.0.4; charset=utf-8")


def _allow_metrics() -> None:
    token = current_app.config.get("METRICS_TOKEN")
    allowed = _networks(current_app.config.get("METRICS_ALLOW_FROM"))
    if not token and not allowed:
        abort(404)
    if allowed and _address_in(request.remote_addr, allowed):
        return
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return
    abort(401 if token else 403)


def _networks(value: object) -> list:
    """The networks of ``RIGHTSDESK_METRICS_ALLOW_FROM`` (checked at start-up)."""
    parts = [part.strip() for part in str(value or "").split(",") if part.strip()]
    return [ipaddress.ip_network(part, strict=False) for part in parts]


def _address_in(address: str | None, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)
