"""What monitoring reads: the worker's heartbeat, the queues' backlogs, the open requests by
due date, failures, retention job runs and destruction counts — counts only, no personal data.

``/healthz`` shows the heartbeat and the backlogs; the Prometheus endpoint (behind a token or
an address list) shows everything here, drawn from the database at each scrape, so every web
process answers the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from rightsdesk.core import heartbeat
from rightsdesk.core.context import settings
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.extensions import db
from rightsdesk.models import (
    ConnectorJob,
    DestructionRecord,
    IntakeSubmission,
    OutboxMessage,
    OutboxState,
    Request,
    WebhookDelivery,
)


@dataclass(frozen=True)
class Backlog:
    """A queue's waiting items, the age of the oldest (seconds) and those failed for good."""

    queue: str
    waiting: int
    oldest_seconds: float | None
    failed: int


#: queue name → (model, created column, waiting condition, failed condition)
QUEUES: dict[str, tuple[Any, Any, Any, Any]] = {
    "intake": (IntakeSubmission, IntakeSubmission.received_at, None, None),
    "outbox": (
        OutboxMessage,
        OutboxMessage.created_at,
        OutboxMessage.state.in_([OutboxState.QUEUED, OutboxState.SENDING]),
        OutboxMessage.state == OutboxState.FAILED,
    ),
    "webhooks": (
        WebhookDelivery,
        WebhookDelivery.created_at,
        WebhookDelivery.state.in_([OutboxState.QUEUED, OutboxState.SENDING]),
        WebhookDelivery.state == OutboxState.FAILED,
    ),
    "connectors": (
        ConnectorJob,
        ConnectorJob.created_at,
        ConnectorJob.state == "pending",
        ConnectorJob.state == "failed",
    ),
}

#: Days to the legal due date, as buckets: (label, last day of the bucket or None).
DUE_BUCKETS = (("overdue", -1), ("0-2", 2), ("3-7", 7), ("8-14", 14), ("15+", None))


def backlogs(now: datetime) -> list[Backlog]:
    found = []
    for name, (model, created, waiting, failed) in QUEUES.items():
        query = select(func.count(), func.min(created)).select_from(model)
        if waiting is not None:
            query = query.where(waiting)
        count, oldest = db.session.execute(query).one()
        failures = 0
        if failed is not None:
            failures = db.session.scalar(select(func.count()).select_from(model).where(failed))
        age = (now - oldest).total_seconds() if oldest is not None else None
        found.append(Backlog(name, count, age, failures))
    return found


def due_bucket(due: date, today: date) -> str:
    days = (due - today).days
    for label, last in DUE_BUCKETS:
        if last is None or days <= last:
            return label
    return DUE_BUCKETS[-1][0]


def open_requests(now: datetime) -> Counter:
    """Open requests by (kind, days-to-due bucket), by the legal due date in the operator's
    time zone."""
    today = now.astimezone(settings().tz).date()
    rows = db.session.execute(
        select(Request.kind, Request.due_date, func.count())
        .where(Request.status.in_(list(OPEN)))
        .group_by(Request.kind, Request.due_date)
    )
    counts: Counter = Counter()
    for kind, due, count in rows:
        counts[(str(kind), due_bucket(due, today))] += count
    return counts


def destruction() -> tuple[Counter, Counter]:
    """Retention job runs by job, and rows destroyed by job and method, since the start."""
    runs = Counter(
        dict(
            db.session.execute(
                select(DestructionRecord.job, func.count(func.distinct(DestructionRecord.run_id)))
                .group_by(DestructionRecord.job)
            ).all()
        )
    )
    rows: Counter = Counter()
    for job, method, count in db.session.execute(
        select(DestructionRecord.job, DestructionRecord.method, func.sum(DestructionRecord.count))
        .group_by(DestructionRecord.job, DestructionRecord.method)
    ):
        rows[(job, method)] = int(count or 0)
    return runs, rows


def health(now: datetime, *, stale_after: float) -> dict[str, Any]:
    """What ``/healthz`` answers once the database has answered: the worker's heartbeat age
    and the backlogs; ``degraded`` when no worker is running (seen within ``stale_after``
    seconds, and not stopped)."""
    age = heartbeat.age(now)
    worker_ok = bool(heartbeat.running(now, timedelta(seconds=stale_after)))
    return {
        "status": "ok" if worker_ok else "degraded",
        "database": "ok",
        "worker": {
            "last_seen_seconds_ago": None if age is None else round(age, 1),
            "ok": worker_ok,
        },
        "backlog": {
            b.queue: {
                "waiting": b.waiting,
                "oldest_seconds": None if b.oldest_seconds is None else round(b.oldest_seconds),
                "failed": b.failed,
            }
            for b in backlogs(now)
        },
    }


class _Snapshot:
    """A Prometheus collector over one reading of the database."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Any]:
        yield from self._requests()
        yield from self._queues()
        yield from self._worker()
        yield from self._retention()

    def _requests(self) -> Iterator[Any]:
        by_due = GaugeMetricFamily(
            "rightsdesk_open_requests",
            "Open requests by kind and days to the legal due date",
            labels=["kind", "due"],
        )
        counts = open_requests(self.now)
        for (kind, bucket), count in sorted(counts.items()):
            by_due.add_metric([kind, bucket], count)
        yield by_due
        overdue = sum(c for (_, bucket), c in counts.items() if bucket == "overdue")
        yield GaugeMetricFamily(
            "rightsdesk_overdue_requests", "Open requests past their legal due date", overdue
        )

    def _queues(self) -> Iterator[Any]:
        waiting = GaugeMetricFamily(
            "rightsdesk_queue_backlog", "Items waiting in a queue", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "rightsdesk_queue_oldest_age_seconds",
            "Age of the oldest waiting item (0 when none waits)",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "rightsdesk_queue_failed", "Items failed for good, for staff", labels=["queue"]
        )
        for backlog in backlogs(self.now):
            waiting.add_metric([backlog.queue], backlog.waiting)
            oldest.add_metric([backlog.queue], backlog.oldest_seconds or 0)
            failed.add_metric([backlog.queue], backlog.failed)
        yield from (waiting, oldest, failed)

    def _worker(self) -> Iterator[Any]:
        age = heartbeat.age(self.now)
        yield GaugeMetricFamily(
            "rightsdesk_worker_heartbeat_age_seconds",
            "Seconds since a worker was last seen (-1: never)",
            -1 if age is None else age,
        )
        stale = timedelta(minutes=float(current_app.config["WORKER_STALE_MINUTES"]))
        yield GaugeMetricFamily(
            "rightsdesk_workers_running",
            "Workers seen within RIGHTSDESK_WORKER_STALE_MINUTES and not stopped",
            len(heartbeat.running(self.now, stale)),
        )

    def _retention(self) -> Iterator[Any]:
        runs, rows = destruction()
        job_runs = CounterMetricFamily(
            "rightsdesk_retention_job_runs", "Retention job runs with a destruction record",
            labels=["job"],
        )
        for job, count in sorted(runs.items()):
            job_runs.add_metric([job], count)
        destroyed = CounterMetricFamily(
            "rightsdesk_destroyed_rows", "Rows destroyed or anonymised by retention and erasure",
            labels=["job", "method"],
        )
        for (job, method), count in sorted(rows.items()):
            destroyed.add_metric([job, method], count)
        yield from (job_runs, destroyed)


def metrics_text(now: datetime) -> bytes:
    """The Prometheus text exposition of everything above, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(now))
    text = generate_latest(registry)
    db.session.rollback()  # read only
    return text
