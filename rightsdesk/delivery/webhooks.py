"""Status webhooks to host applications, through the same durable pattern as e-mail.

Every status change of a request filed through the API becomes a row in the same transaction
as the change. A sender posts rows in order per request — a delivery is taken only when every
earlier one for that request went through — signs each body with the key's signing secret
(``X-Rightsdesk-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">``), and retries failures
with back-off until they are accepted (any 2xx). The rows are a queue
(:mod:`rightsdesk.core.jobqueue`) with one more condition: an event is due only once its
request's earlier ones are sent. Delivery is at least once: receivers deduplicate on
``X-Rightsdesk-Event-Id``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from flask import current_app
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from rightsdesk.core import jobqueue, stopping
from rightsdesk.core.stopping import worker_lease
from rightsdesk.delivery.outbox import LEASE, DeliveryReport, advancing, backoff, one_line
from rightsdesk.domain.lifecycle import Status
from rightsdesk.domain.signing import SIGNATURE_HEADER, sign
from rightsdesk.extensions import db
from rightsdesk.models import ApiKey, OutboxState, Request, WebhookDelivery

EVENT_HEADER = "X-Rightsdesk-Event-Id"


#: Events wait ``queued``, are ``sending`` while a sender holds them (``claimed_at``,
#: ``claimed_by``) for the outbox's lease; by id, and only in order per request (``_in_order``).
HOOKS = jobqueue.Queue(
    model=WebhookDelivery,
    due=WebhookDelivery.next_attempt_at,
    order_by=(WebhookDelivery.id,),
    state=WebhookDelivery.state,
    waiting=OutboxState.QUEUED,
    held=OutboxState.SENDING,
    lease=jobqueue.Lease(
        WebhookDelivery.claimed_at, LEASE, ends=False, holder=WebhookDelivery.claimed_by
    ),
    error=WebhookDelivery.last_error,
    attempts=WebhookDelivery.attempts,
    failed=OutboxState.FAILED,
)


def enqueue_status_event(request: Request, *, previous: Status | None, now: datetime) -> None:
    """Add the event for this status to the caller's transaction (if a host app listens)."""
    key = _listening_key(request)
    if key is None:
        return
    event_id = f"evt_{uuid.uuid4().hex}"
    db.session.add(
        WebhookDelivery(
            api_key_id=key.id,
            request_ref=request.reference,
            sequence=_next_sequence(request.reference),
            event_id=event_id,
            url=key.webhook_url,
            body=_event_body(request, previous, now, event_id),
            state=OutboxState.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _listening_key(request: Request) -> ApiKey | None:
    """The API key the request was filed with, if it is live and has a webhook URL."""
    if request.api_key_id is None:
        return None
    key = db.session.get(ApiKey, request.api_key_id)
    if key is None or key.revoked_at is not None or not key.webhook_url:
        return None
    return key


def _next_sequence(reference: str) -> int:
    last = db.session.scalar(
        select(func.max(WebhookDelivery.sequence)).where(WebhookDelivery.request_ref == reference)
    )
    return (last or 0) + 1


def _event_body(request: Request, previous: Status | None, now: datetime, event_id: str) -> str:
    """The event's JSON, exactly as it is signed and sent."""
    return json.dumps(
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


def _in_order():
    """Every earlier event of the same request went through."""
    earlier = aliased(WebhookDelivery)
    return ~exists().where(
        earlier.request_ref == WebhookDelivery.request_ref,
        earlier.sequence < WebhookDelivery.sequence,
        earlier.state != OutboxState.SENT,
    )


def claim(
    *, now: datetime, worker: str, batch: int, lease: timedelta | None = None
) -> list[int]:
    ids = jobqueue.claim(
        HOOKS, now=now, batch=batch, worker=worker, where=_in_order(), lease=lease
    )
    db.session.commit()
    return ids


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
    lease = worker_lease()
    ids = claim(now=now, worker=worker, batch=batch, lease=lease)
    held = jobqueue.worked(
        HOOKS, ids, length=lease, worker=worker, stop=stopping.requested, clock=advancing(now)
    )
    for delivery_id in held:
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state is not OutboxState.SENDING:
            continue
        if delivery.request_ref in failed_refs:  # an earlier one just failed: keep order
            jobqueue.release(HOOKS, delivery)
            db.session.commit()
            continue
        ref = delivery.request_ref
        crash = jobqueue.isolated(
            HOOKS, delivery_id, lambda d=delivery: _deliver(client, d, now, failed_refs, report),
            now=now,
        )
        if crash is not None:
            failed_refs.add(ref)
            report.errors.append(f"webhook {delivery_id}: {crash}")


def _deliver(
    client: httpx.Client,
    delivery: WebhookDelivery,
    now: datetime,
    failed_refs: set[str],
    report: DeliveryReport,
) -> None:
    """Post one claimed event and settle it: sent, or back to wait (and its request's later
    events with it, for the rest of this call)."""
    delivery.attempts += 1
    error = _post(client, delivery)
    if error is None:
        jobqueue.release(HOOKS, delivery, OutboxState.SENT)
        delivery.delivered_at = datetime.now(UTC)
        delivery.last_error = None
        report.sent += 1
        return
    failed_refs.add(delivery.request_ref)
    wait = backoff(delivery.attempts)
    jobqueue.give_back(HOOKS, delivery, now=now, wait=wait, error=error)
    report.retrying += 1
    report.errors.append(f"webhook {delivery.id}: {error}")


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
    count = jobqueue.retry_now(HOOKS, now=now)
    db.session.commit()
    return count
