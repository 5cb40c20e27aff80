"""Jobs for the data map's webhook systems, checklists for its manual ones.

A *job* asks a host application to do one action for one request (access, erasure,
correction, stop). :func:`ensure_job` adds it (once per request, system and action) to the
caller's transaction; the worker's :func:`deliver_due` posts it, signed (see
``systems/webhook.py``), and records the answer: the counts, and for access the rows
themselves, encrypted at rest (Fernet, as the files offered to subjects) until the package is
built. A job that fails waits 1 min, 5 min, 30 min, 2 h, 6 h, 12 h and is then ``failed``,
shown to staff with its last error and a retry button. Every attempt and outcome is audited
(counts, never data).

Two workers never post the same job at once: the jobs are a queue
(:mod:`rightsdesk.core.jobqueue`) whose claim is a conditional UPDATE that sets its lease
(``FOR UPDATE SKIP LOCKED`` first on PostgreSQL). Delivery is at least once: a worker that dies
after the host app answered but before its commit leaves a lease that runs out, and the job is
posted again — host apps deduplicate on ``X-Rightsdesk-Job-Id`` (the ``job`` field).

A *checklist item* turns a manual system's instructions into something staff tick, with a note.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core import audit, jobqueue, stopping
from rightsdesk.core.actors import Actor
from rightsdesk.core.keys import package_cipher
from rightsdesk.core.stopping import worker_lease
from rightsdesk.delivery.outbox import LEASE, DeliveryReport, advancing
from rightsdesk.domain.datamap import DataMap, System, SystemKind, acceptable_webhook_url
from rightsdesk.extensions import db
from rightsdesk.models import ChecklistItem, ConnectorJob, Request
from rightsdesk.systems.configured import FulfilmentError, configured_datamap
from rightsdesk.systems.webhook import JobError, JobResult, job_body, post_job

ACTIONS = ("access", "erasure", "correction", "stop")
PENDING, DONE, FAILED = "pending", "done", "failed"
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1  # about 21 hours of trying, then staff decide
ACTOR = "system:connectors"

#: A job stays ``pending`` while it is tried; a worker holds it until ``lease_until``; by id.
JOBS = jobqueue.Queue(
    model=ConnectorJob,
    due=ConnectorJob.next_attempt_at,
    order_by=(ConnectorJob.id,),
    state=ConnectorJob.state,
    waiting=PENDING,
    lease=jobqueue.Lease(ConnectorJob.lease_until, LEASE, ends=True),
    error=ConnectorJob.last_error,
    attempts=ConnectorJob.attempts,
    failed=FAILED,
)


class ConnectorError(ValueError):
    """A connector action cannot be done as asked; the message says why."""


# --- creating jobs and checklist items -------------------------------------------------------


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ConnectorError(f"unknown action {action!r}; accepted: {', '.join(ACTIONS)}")


def _find(model, request: Request, system_name: str, action: str):
    return db.session.scalar(
        select(model).where(
            model.request_id == request.id, model.system == system_name, model.action == action
        )
    )


def _add_once(model, request: Request, system_name: str, action: str, **values):
    """The row for (request, system, action): the existing one, or a new one in a savepoint
    (a concurrent writer that got there first wins, and its row is returned)."""
    _check_action(action)
    found = _find(model, request, system_name, action)
    if found is not None:
        return found, False
    row = model(request=request, system=system_name, action=action, **values)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return _find(model, request, system_name, action), False
    return row, True


def ensure_job(request: Request, system_name: str, action: str, *, now: datetime) -> ConnectorJob:
    """The job for (request, system, action), created due now if there is none.

    Idempotent. Adds to the caller's transaction (flushed, audited) and does not commit: the
    caller commits with the change that asked for the job, and the worker sends it.
    """
    job, created = _add_once(
        ConnectorJob,
        request,
        system_name,
        action,
        state=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    if created:
        _audit("connector.job_created", job, now)
    return job


def ensure_checklist(
    request: Request, system_name: str, action: str, *, now: datetime
) -> ChecklistItem:
    """The checklist item for a manual system's part of an action; idempotent, not committed."""
    item, created = _add_once(ChecklistItem, request, system_name, action, created_at=now)
    if created:
        audit.record(
            "connector.checklist_created",
            actor=ACTOR,
            now=now,
            request_ref=request.reference,
            data={"item": item.id, "system": system_name, "action": action},
        )
    return item


def job_state(request: Request, system_name: str, action: str) -> str | None:
    """``pending``, ``done``, ``failed``, or ``None`` if there is no such job."""
    job = _find(ConnectorJob, request, system_name, action)
    return job.state if job else None


def secret_env_set(system: System) -> bool:
    return bool(os.environ.get(system.secret_env))


def start(request: Request, datamap: DataMap, action: str, *, now: datetime) -> list[ConnectorJob]:
    """The jobs for every webhook system whose secret is set, and a checklist item for every
    manual system; returns the jobs (not committed)."""
    jobs = []
    for system in datamap.systems:
        if system.kind == SystemKind.WEBHOOK and secret_env_set(system):
            jobs.append(ensure_job(request, system.name, action, now=now))
        elif system.kind == SystemKind.MANUAL:
            ensure_checklist(request, system.name, action, now=now)
    return jobs


def jobs_for(request: Request) -> list[ConnectorJob]:
    return list(
        db.session.scalars(
            select(ConnectorJob)
            .where(ConnectorJob.request_id == request.id)
            .order_by(ConnectorJob.id)
        )
    )


def checklist_for(request: Request) -> list[ChecklistItem]:
    return list(
        db.session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.request_id == request.id)
            .order_by(ChecklistItem.id)
        )
    )


# --- staff ------------------------------------------------------------------------------------


def retry(job: ConnectorJob, *, actor: Actor, now: datetime) -> None:
    """Send a failed (or back-off waiting) job again now, with a fresh round of attempts."""
    if job.state == DONE:
        raise ConnectorError("this job is done already")
    if job.lease_until is not None and job.lease_until > now:
        raise ConnectorError("this job is being sent right now")
    previous = job.attempts
    job.state, job.attempts, job.next_attempt_at = PENDING, 0, now
    _audit("connector.retry_requested", job, now, actor=actor, previous_attempts=previous)
    db.session.commit()


def send_again(job: ConnectorJob, *, now: datetime) -> None:
    """A job whose content grew (another correction approved for its system) goes out again,
    with every change so far (setting a value twice is harmless). In the caller's transaction."""
    if job.state != PENDING:
        job.state, job.attempts, job.next_attempt_at = PENDING, 0, now
        job.finished_at = None


def tick(item: ChecklistItem, *, note: str, actor: Actor, now: datetime) -> None:
    """Staff did a manual system's part; the note says what (it stays out of the audit data)."""
    if item.done_at is not None:
        raise ConnectorError("this item is ticked already")
    note = note.strip()
    if not note:
        raise ConnectorError("say in a note what was done")
    item.done_by, item.done_at, item.note = actor, now, note
    audit.record(
        "connector.checklist_done",
        actor=actor,
        now=now,
        request_ref=item.request.reference,
        data={"item": item.id, "system": item.system, "action": item.action},
    )
    db.session.commit()


# --- results -----------------------------------------------------------------------------------


def access_results(request: Request) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The rows each webhook system returned for access: ``{system: {table: rows}}``."""
    results = {}
    for job in jobs_for(request):
        if job.action == "access" and job.state == DONE and job.result_ciphertext:
            try:
                results[job.system] = json.loads(package_cipher().decrypt(job.result_ciphertext))
            except InvalidToken:
                raise ConnectorError(
                    f"the answer of {job.system} no longer decrypts (the key changed): retry it"
                ) from None
    return results


def forget_answers(request: Request) -> int:
    """Drop the apps' access answers (personal data) once the request is closed: the package
    made from them is the subject's copy. In the caller's transaction; how many were dropped."""
    return db.session.execute(
        update(ConnectorJob)
        .where(ConnectorJob.request_id == request.id, ConnectorJob.result_ciphertext.is_not(None))
        .values(result_ciphertext=None)
    ).rowcount


# --- the worker -------------------------------------------------------------------------------


def claim(*, now: datetime, batch: int, lease: timedelta = LEASE) -> list[int]:
    """Take up to ``batch`` due jobs for ``lease``: a conditional UPDATE only one worker wins."""
    ids = jobqueue.claim(JOBS, now=now, batch=batch, lease=lease)
    db.session.commit()
    return ids


def deliver_due(*, now: datetime, worker: str, batch: int = 20) -> DeliveryReport:
    """Post every due job once; commit after each. Without a data map there is nothing to do."""

    report = DeliveryReport()
    try:
        datamap = configured_datamap()
    except FulfilmentError:
        return report
    longest = max((s.timeout for s in datamap.systems), default=0)
    lease = worker_lease() + timedelta(seconds=longest)  # renewed between jobs
    ids = claim(now=now, batch=batch, lease=lease)
    if not ids:
        return report
    held = jobqueue.worked(
        JOBS, ids, length=lease, worker=None, stop=stopping.requested, clock=advancing(now)
    )
    with httpx.Client(follow_redirects=False) as client:
        for job_id in held:
            job = db.session.get(ConnectorJob, job_id)
            if job is None:
                continue
            crash = jobqueue.isolated(
                JOBS, job_id, lambda j=job: _deliver(client, datamap, j, now, worker, report),
                now=now,
            )
            if crash is not None:
                report.errors.append(f"job {job_id}: {crash}")
    return report


def _deliver(
    client: httpx.Client,
    datamap: DataMap,
    job: ConnectorJob,
    now: datetime,
    worker: str,
    report: DeliveryReport,
) -> None:
    job.attempts += 1
    try:
        result = _send(client, datamap, job)
    except (JobError, ConnectorError) as error:
        _failed_attempt(job, str(error), now, worker, report)
    else:
        _succeeded(job, result, now, worker, report)
    db.session.commit()


def _target(datamap: DataMap, job: ConnectorJob) -> tuple[System, str, str]:
    """The job's system, its URL and its secret, or why the job cannot be sent there."""
    try:
        system = datamap.system(job.system)
    except LookupError:
        raise ConnectorError(f"the data map has no system {job.system!r} any more") from None
    if system.kind != SystemKind.WEBHOOK:
        raise ConnectorError(f"{system.name} is not a webhook system")
    url = (os.environ.get(system.url_env) if system.url_env else "") or system.url
    if not acceptable_webhook_url(url):
        raise ConnectorError(f"{system.name}: the url must be https:// (http:// only to loopback)")
    secret = os.environ.get(system.secret_env)
    if not secret:
        raise ConnectorError(f"{system.secret_env} is not set")
    return system, url, secret


def _send(client: httpx.Client, datamap: DataMap, job: ConnectorJob) -> JobResult:
    system, url, secret = _target(datamap, job)
    request = job.request
    if request.subject is None:
        raise ConnectorError("the subject's identity is no longer known (purged)")
    body = job_body(
        job.id,
        request.reference,
        job.action,
        {"email": request.subject.email},
        request.scope,
        **_extra(job),
    )
    return post_job(
        client,
        url,
        secret=secret,
        body=body,
        job_id=job.id,
        action=job.action,
        timeout=system.timeout,
        timestamp=int(datetime.now(UTC).timestamp()),
    )


def _extra(job: ConnectorJob) -> dict[str, Any]:
    """A correction job carries the approved changes meant for its system."""
    if job.action != "correction":
        return {}
    changes = [
        {"item": c.item, "value": c.correct_value}
        for c in job.request.corrections
        if c.decision == "approved" and c.target == job.system
    ]
    return {"changes": changes}


def _succeeded(
    job: ConnectorJob, result: JobResult, now: datetime, worker: str, report: DeliveryReport
) -> None:
    jobqueue.release(JOBS, job, DONE)
    job.finished_at, job.last_error = now, None
    job.counts = result.counts
    if result.tables is not None:
        payload = json.dumps(result.tables, ensure_ascii=False).encode()
        job.result_ciphertext = package_cipher().encrypt(payload)
    report.sent += 1
    _audit("connector.done", job, now, worker=worker, attempt=job.attempts, counts=result.counts)


def _failed_attempt(
    job: ConnectorJob, error: str, now: datetime, worker: str, report: DeliveryReport
) -> None:
    report.errors.append(f"connector job {job.id} ({job.system}, {job.action}): {error}")
    if job.attempts >= MAX_ATTEMPTS:
        jobqueue.release(JOBS, job, FAILED)
        job.last_error = error[:500]
        report.failed += 1
        _audit("connector.failed", job, now, worker=worker, attempt=job.attempts, error=error)
        return
    wait = RETRY_AFTER[job.attempts - 1]
    jobqueue.give_back(JOBS, job, now=now, wait=wait, error=error[:500])
    report.retrying += 1
    _audit(
        "connector.retrying",
        job,
        now,
        worker=worker,
        attempt=job.attempts,
        error=error,
        next_attempt=job.next_attempt_at.astimezone(UTC).isoformat(timespec="seconds"),
    )


def _audit(action: str, job: ConnectorJob, now: datetime, *, actor: Actor = ACTOR, **data) -> None:
    audit.record(
        action,
        actor=actor,
        now=now,
        request_ref=job.request.reference,
        data={"job": job.id, "system": job.system, "action": job.action, **data},
    )


def retry_now(*, now: datetime) -> int:
    """Make every job waiting on a back-off due at once (after the host app is fixed)."""
    count = jobqueue.retry_now(JOBS, now=now)
    db.session.commit()
    return count
