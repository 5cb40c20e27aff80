"""Retention jobs: destroy (파기) what the retention schedule no longer lets anyone keep.

Jobs, each under a named lock and recorded:

- ``expire-unverified``: requests never confirmed in time lose their personal data;
- ``purge-downloads``: expired files offered to subjects;
- ``purge-requests``: closed requests' personal data and proof uploads once the
  ``request_record`` rule has run out (the request row stays for anonymous statistics, and the
  audit chain is never touched);
- ``purge-separated``: separately stored rows (분리 보관, PIPA §21③) past their purge-after day;
- ``purge-operator``: rows of the data map's SQL systems whose period and grace have ended.
  Only tables whose rule keeps something and that name ``retention_from``: a table with
  retention "none" is live data, erased per subject by the erasure workflow, never here.

Every real run writes a :class:`~rightsdesk.models.DestructionRecord` per category and table
(counts, never the data) and an audit event. A dry run counts and changes nothing.

Concurrency: each job takes a lease row in ``job_locks`` (works on SQLite) and, on PostgreSQL,
a session advisory lock on rightsdesk's own database; a second runner skips a job that is held.
A runner killed with SIGKILL leaves its lease, which runs out after :data:`LEASE`; batches are
idempotent (a deleted row is gone, a due row is due again), so the next runner simply
continues. The operator's rows are deleted in bounded batches by primary key, each its own
short transaction, so the operator's application keeps serving.

Counting across two databases: the operator's delete and rightsdesk's record cannot commit
together, so before deleting a table's rows the run writes its plan (how many rows are due by
which cutoff) to the audit trail, and journals each batch (:mod:`rightsdesk.retention.progress`);
a later run that finds a plan without a destruction record (its runner was killed) records for
the interrupted run what its journal says it destroyed — not rows an erasure deleted meanwhile.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.domain.retention import RetentionError
from rightsdesk.extensions import db
from rightsdesk.retention.dormancy import dormancy_job
from rightsdesk.retention.operator import purge_operator_job
from rightsdesk.retention.own_records import (
    expire_unverified_job,
    purge_downloads_job,
    purge_requests_job,
    purge_separated_job,
)
from rightsdesk.retention.runner import (
    DEFAULT_BATCH,
    Job,
    JobResult,
    Reporter,
    RunContext,
    RunReport,
    SkipJob,
    holder_name,
    job_lock,
)
from rightsdesk.systems.configured import current_schedule

JOBS: dict[str, Job] = {
    "expire-unverified": expire_unverified_job,
    "purge-downloads": purge_downloads_job,
    "purge-requests": purge_requests_job,
    "purge-separated": purge_separated_job,
    "purge-operator": purge_operator_job,
    "dormancy": dormancy_job,  # the optional dormancy policy (off by default)
}


def run_jobs(
    names: list[str] | None = None,
    *,
    now: datetime,
    actor: Actor,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    batch_size: int | None = None,
    pause: float | None = None,
) -> RunReport:
    """Run the named jobs (all by default) in order; a failing job is reported and the others
    still run. The schedule is read first: a bad retention file runs nothing."""
    ctx = _run_context(now, actor, dry_run, reporter, batch_size, pause)
    report = RunReport(ctx.run_id, dry_run)
    for name in names or list(JOBS):
        report.jobs.append(_run_one(ctx, name))
    if not dry_run and report.count:
        _audit_run(ctx, report)
        db.session.commit()
    return report


def _run_context(
    now: datetime,
    actor: Actor,
    dry_run: bool,
    reporter: Reporter | None,
    batch_size: int | None,
    pause: float | None,
) -> RunContext:
    """A new run under the current schedule; batch size and pause default to the config."""
    schedule = current_schedule()
    config = current_app.config
    return RunContext(
        run_id=f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}",
        now=now,
        schedule=schedule,
        dry_run=dry_run,
        actor=actor,
        holder=holder_name(),
        reporter=reporter or Reporter(),
        batch_size=batch_size or int(config.get("RETENTION_BATCH_SIZE") or DEFAULT_BATCH),
        pause=float(config.get("RETENTION_BATCH_PAUSE") or 0) if pause is None else pause,
    )


def _audit_run(ctx: RunContext, report: RunReport) -> None:
    audit.record(
        "retention.run",
        actor=ctx.actor,
        now=datetime.now(UTC),
        data={
            "run": ctx.run_id,
            "destroyed": {
                f"{i.job}:{i.system}.{i.table}": i.count for job in report.jobs for i in job.items
            },
            "failed": [job.job for job in report.failed],
        },
    )


def _run_one(ctx: RunContext, name: str) -> JobResult:
    result = JobResult(name)
    ctx.reporter.event("job_started", job=name, run=ctx.run_id, dry_run=ctx.dry_run)
    try:
        _run_job(ctx, name, result)
    except SkipJob as why:
        result.skipped = str(why)
    except (RetentionError, SQLAlchemyError, OSError, KeyError) as error:
        db.session.rollback()
        result.error = _one_line(error)
    finally:
        ctx.lease = None
    ctx.reporter.event(
        "job_finished",
        job=name,
        run=ctx.run_id,
        count=result.count,
        skipped=result.skipped,
        error=result.error,
    )
    return result


def _run_job(ctx: RunContext, name: str, result: JobResult) -> None:
    """Run the job into ``result``: a real run only under its lock (skipped while held)."""
    if ctx.dry_run:
        result.items = JOBS[name](ctx)
        return
    with job_lock(f"retention:{name}", ctx.holder) as lease:
        if lease is None:
            result.skipped = "held by another runner"
        else:
            ctx.lease = lease
            result.items = JOBS[name](ctx)


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig or error).strip().splitlines()
    return text[0] if text else type(error).__name__
