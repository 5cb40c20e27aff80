"""Status webhooks to host applications, through the same durable pattern as e-mail.

Every status change of a request filed through the API becomes a row in the same transaction
as the change. A sender posts rows in order per request — a delivery is taken only when every
earlier one for that request went through — signs each body with the key's signing secret
(``X-Rightsdesk-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">``), and retries failures
with back-off until they are accepted (any 2xx). Delivery is at least once: receivers
deduplicate on ``X-Rightsdesk-Event-Id``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from rightsdesk.delivery.outbox import LEASE, DeliveryReport, backoff, one_line
from rightsdesk.domain.lifecycle import Status
from rightsdesk.domain.signing import SIGNATURE_HEADER, sign
from rightsdesk.extensions import db
from rightsdesk.models import ApiKey, OutboxState, Request, WebhookDelivery

EVENT_HEADER = "X-Rightsdesk-Event-Id"


def enqueue_status_event(request: Request, *, previous: Status | None, now: datetime) -> None:
    """Add the event for this status to the caller's transaction (if a host app listens)."""
    if request.api_key_id is None:
        return
    key = db.session.get(ApiKey, request.api_key_id)
    if key is None or key.revoked_at is not None or not key.webhook_url:
        return
    last = db.session.scalar(
        select(func.max(WebhookDelivery.sequence)).where(
            WebhookDelivery.request_ref == request.reference
        )
    )
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "type": "request.created" if previous is None else "request.status_changed",
            "created": now.astimezone(UTC).isoformat(),
            "data": {
                "reference": request.reference,
                "kind": request.kind.value,
                "status": request.status.value,
                "previous_status": previous.value if previous else None,
                "due": request.due_date.isoformat(),
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    db.session.add(
        WebhookDelivery(
            api_key_id=key.id,
            request_ref=request.reference,
            sequence=(last or 0) + 1,
            event_id=event_id,
            url=key.webhook_url,
            body=body,
            state=OutboxState.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _claimable(now: datetime):
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.request_ref == WebhookDelivery.request_ref,
        earlier.sequence < WebhookDelivery.sequence,
        earlier.state != OutboxState.SENT,
    )
    due = or_(
        and_(WebhookDelivery.state == OutboxState.QUEUED, WebhookDelivery.next_attempt_at <= now),
        and_(
            WebhookDelivery.state == OutboxState.SENDING,
            WebhookDelivery.claimed_at < now - LEASE,
        ),
    )
    return and_(due, ~blocked)


def claim(*, now: datetime, worker: str, batch: int) -> list[int]:
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    candidates = (
        select(WebhookDelivery.id).where(_claimable(now)).order_by(WebhookDelivery.id).limit(batch)
    )
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(candidates))
    if ids:
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), _claimable(now))
            .values(state=OutboxState.SENDING, claimed_at=now, claimed_by=token)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if not ids:
        return []
    return sorted(
        db.session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.claimed_by == token))
    )


MAX_ROUNDS = 20


def deliver_due(*, now: datetime, worker: str, batch: int = 50) -> DeliveryReport:
    """Post what is due, one request's events strictly in order; commit after each.

    A request's next event becomes claimable only once the one before it went through, so
    rounds repeat while the last one delivered something (bounded).
    """
    report = DeliveryReport()
    timeout = float(current_app.config["WEBHOOK_TIMEOUT"])
    failed_refs: set[str] = set()
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _round in range(MAX_ROUNDS):
            sent_before = report.sent
            _deliver_round(client, now, worker, batch, failed_refs, report)
            if report.sent == sent_before:
                break
    return report


def _deliver_round(
    client: httpx.Client,
    now: datetime,
    worker: str,
    batch: int,
    failed_refs: set[str],
    report: DeliveryReport,
) -> None:
    for delivery_id in claim(now=now, worker=worker, batch=batch):
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state is not OutboxState.SENDING:
            continue
        if delivery.request_ref in failed_refs:  # an earlier one just failed: keep order
            delivery.state, delivery.claimed_by = OutboxState.QUEUED, None
            db.session.commit()
            continue
        delivery.attempts += 1
        error = _post(client, delivery)
        if error is None:
            delivery.state = OutboxState.SENT
            delivery.delivered_at = datetime.now(UTC)
            delivery.last_error = None
            report.sent += 1
        else:
            failed_refs.add(delivery.request_ref)
            delivery.state = OutboxState.QUEUED
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            delivery.last_error = error
            report.retrying += 1
            report.errors.append(f"webhook {delivery.id}: {error}")
        delivery.claimed_by = None
        db.session.commit()


def _post(client: httpx.Client, delivery: WebhookDelivery) -> str | None:
    key = db.session.get(ApiKey, delivery.api_key_id)
    if key is None:
        return "the API key is gone"
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(key.signing_secret, timestamp, delivery.body),
        EVENT_HEADER: delivery.event_id,
        "User-Agent": "rightsdesk-webhooks",
    }
    try:
        response = client.post(delivery.url, content=delivery.body.encode(), headers=headers)
    except httpx.HTTPError as error:
        return one_line(f"{type(error).__name__}: {error}")[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def retry_now(*, now: datetime) -> int:
    result = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.state == OutboxState.QUEUED, WebhookDelivery.next_attempt_at > now)
        .values(next_attempt_at=now)
    )
    db.session.commit()
    return result.rowcount
