"""Correction notices to recipients whose channel is a signed webhook.

:func:`queue_notice` stores the exact JSON in the caller's transaction; the worker's
:func:`deliver_due` POSTs it, signed like every rightsdesk webhook (``X-Rightsdesk-Signature:
t=<unix time>,v1=<HMAC-SHA256(secret, "t.body")>``, ``X-Rightsdesk-Notice-Id`` to deduplicate
on), to the URL the data map names for that recipient. A 2xx answer delivers it; anything else
waits 1 min, 5 min, 30 min, 2 h, 6 h, 12 h and then shows as failed to staff. Audited with
counts and states, never the values.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from rightsdesk.core import audit, jobqueue, stopping
from rightsdesk.core.stopping import worker_lease
from rightsdesk.delivery.connectors import MAX_ATTEMPTS, RETRY_AFTER
from rightsdesk.delivery.outbox import LEASE, DeliveryReport, advancing
from rightsdesk.domain.datamap import (
    DEFAULT_WEBHOOK_TIMEOUT,
    DataMap,
    Recipient,
    acceptable_webhook_url,
)
from rightsdesk.domain.signing import SIGNATURE_HEADER, sign
from rightsdesk.extensions import db
from rightsdesk.models import RecipientNotice
from rightsdesk.systems.configured import FulfilmentError, configured_datamap

PENDING, DONE, FAILED = "pending", "done", "failed"
NOTICE_HEADER = "X-Rightsdesk-Notice-Id"
ACTOR = "system:recipient-notices"

NOTICES = jobqueue.Queue(
    model=RecipientNotice,
    due=RecipientNotice.next_attempt_at,
    order_by=(RecipientNotice.id,),
    state=RecipientNotice.state,
    waiting=PENDING,
    lease=jobqueue.Lease(RecipientNotice.lease_until, LEASE, ends=True),
    error=RecipientNotice.last_error,
)


class NoticeError(ValueError):
    """The notice could not be delivered; the message says why, never what it carried."""


def queue_notice(
    reference: str, recipient: Recipient, payload: dict[str, Any], *, now: datetime
) -> RecipientNotice:
    """Add the notice (the caller commits); its ``notice`` field is its own id."""
    notice = RecipientNotice(
        request_ref=reference,
        recipient=recipient.name,
        body="",
        state=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(notice)
    db.session.flush()
    notice.body = json.dumps(
        {"notice": notice.id, **payload}, ensure_ascii=False, separators=(",", ":")
    )
    return notice


def notices_of(reference: str) -> list[RecipientNotice]:
    return list(
        db.session.scalars(
            select(RecipientNotice)
            .where(RecipientNotice.request_ref == reference)
            .order_by(RecipientNotice.id)
        )
    )


def deliver_due(*, now: datetime, worker: str, batch: int = 20) -> DeliveryReport:
    """Post every due notice once; commit after each."""
    report = DeliveryReport()
    lease = worker_lease() + timedelta(seconds=DEFAULT_WEBHOOK_TIMEOUT)  # renewed between posts
    ids = jobqueue.claim(NOTICES, now=now, batch=batch, lease=lease)
    db.session.commit()
    if not ids:
        return report
    try:
        datamap: DataMap | None = configured_datamap()
    except FulfilmentError:
        datamap = None
    held = jobqueue.worked(
        NOTICES, ids, length=lease, worker=None, stop=stopping.requested, clock=advancing(now)
    )
    with httpx.Client(follow_redirects=False) as client:
        for notice_id in held:
            notice = db.session.get(RecipientNotice, notice_id)
            if notice is not None:
                _deliver(client, datamap, notice, now, worker, report)
    return report


def _deliver(
    client: httpx.Client,
    datamap: DataMap | None,
    notice: RecipientNotice,
    now: datetime,
    worker: str,
    report: DeliveryReport,
) -> None:
    notice.attempts += 1
    try:
        _post(client, datamap, notice)
    except NoticeError as error:
        _failed_attempt(notice, str(error), now, worker, report)
    else:
        jobqueue.release(NOTICES, notice, DONE)
        notice.delivered_at, notice.last_error = now, None
        report.sent += 1
        _audit("recipient_notice.delivered", notice, now, worker=worker)
    db.session.commit()


def _target(datamap: DataMap | None, name: str) -> tuple[str, str]:
    recipient = next((r for r in datamap.recipients if r.name == name), None) if datamap else None
    if recipient is None or recipient.channel != "webhook":
        raise NoticeError(f"the data map has no webhook recipient {name!r} any more")
    url = (os.environ.get(recipient.url_env) if recipient.url_env else "") or recipient.url
    if not acceptable_webhook_url(url):
        raise NoticeError(f"{name}: the url must be https:// (http:// only to loopback)")
    secret = os.environ.get(recipient.secret_env)
    if not secret:
        raise NoticeError(f"{recipient.secret_env} is not set")
    return url, secret


def _post(client: httpx.Client, datamap: DataMap | None, notice: RecipientNotice) -> None:
    url, secret = _target(datamap, notice.recipient)
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, notice.body),
        NOTICE_HEADER: str(notice.id),
        "User-Agent": "rightsdesk-recipient-notices",
    }
    try:
        response = client.post(
            url, content=notice.body.encode(), headers=headers, timeout=DEFAULT_WEBHOOK_TIMEOUT
        )
    except httpx.TimeoutException:
        raise NoticeError(f"no answer within {DEFAULT_WEBHOOK_TIMEOUT:g} s") from None
    except httpx.HTTPError as error:
        raise NoticeError(f"cannot reach the endpoint ({type(error).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise NoticeError(f"HTTP {response.status_code}")


def _failed_attempt(
    notice: RecipientNotice, error: str, now: datetime, worker: str, report: DeliveryReport
) -> None:
    report.errors.append(f"recipient notice {notice.id} ({notice.recipient}): {error}")
    if notice.attempts >= MAX_ATTEMPTS:
        jobqueue.release(NOTICES, notice, FAILED)
        notice.last_error = error[:500]
        report.failed += 1
        _audit("recipient_notice.failed", notice, now, worker=worker, error=error)
        return
    wait: timedelta = RETRY_AFTER[notice.attempts - 1]
    jobqueue.give_back(NOTICES, notice, now=now, wait=wait, error=error[:500])
    report.retrying += 1
    _audit("recipient_notice.retrying", notice, now, worker=worker, error=error)


def _audit(action: str, notice: RecipientNotice, now: datetime, **data: Any) -> None:
    audit.record(
        action,
        actor=ACTOR,
        now=now,
        request_ref=notice.request_ref,
        data={
            "notice": notice.id,
            "recipient": notice.recipient,
            "attempt": notice.attempts,
            **data,
        },
    )

