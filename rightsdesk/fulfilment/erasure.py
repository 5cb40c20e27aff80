"""Erasure (삭제) of a subject across the data map, as a recorded, resumable run.

1. **Preview**: per table, how many of the subject's rows will be deleted, anonymised, or kept
   separately, under which statute and until when; webhook and manual systems are listed.
2. **Run**: the steps (one per SQL table, children first, and one per webhook or manual system)
   are planned once and stored with the first record of the run (what it keeps and the counts,
   or a failure); each database is erased in one transaction of its own and the steps are then
   marked done here. Rows a statute makes the operator keep are first copied,
   encrypted, to separated storage (PIPA §21③). A run that crashed, or met a database that was
   down, is simply run again: steps done stay done, and a step is safe to repeat. A lease keeps
   two runs of one request from overlapping.
3. **Decide** what a rule of the operator's own policy (not a statute) would keep: such a keep
   is no §36① 단서 ground, so staff decide per step: keep (naming the basis the operator relies
   on) or delete (the separated copies are destroyed like the rest).
4. **Finish**: once every step is done and decided, the subject is told what was deleted and
   what was kept, why and until when: a partial refusal (법 §36① 단서) only for what a statute
   makes the operator keep; what its own policy keeps is said plainly, with how to object.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Date, Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rightsdesk.core import audit, leases
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.core.direct import Direct
from rightsdesk.core.driver import pipelined
from rightsdesk.delivery import connectors
from rightsdesk.domain.datamap import DataMap, System, SystemKind, Table
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN
from rightsdesk.domain.messages import N_
from rightsdesk.domain.retention import Schedule
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.fulfilment.access import identities_later, subject_identities
from rightsdesk.models import ErasureStep, JobLock, Request, RetainedRecord, UTCDateTime
from rightsdesk.requests import decisions
from rightsdesk.systems.configured import (
    FulfilmentError,
    configured_datamap,
    current_schedule,
    system_engine,
)
from rightsdesk.systems.erasure import (
    Collected,
    TablePlan,
    basis_text,
    collect_all,
    erase_tables,
    erasure_order,
    plan_system,
    plan_table,
)

LEASE_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class PreviewRow:
    system: str
    table: str
    kind: str
    rows: int | None
    strategy: str
    retained: int
    retention: str
    basis: str
    retained_until: date | None
    basis_kind: str = ""  # statute, policy, statute+policy

    @property
    def statutory(self) -> bool:
        return self.basis_kind != "policy"


def schedule() -> Schedule:
    """The retention schedule in force (the operator's, when configured)."""
    return current_schedule()


def local_today(now: datetime) -> date:
    return now.astimezone(settings().tz).date()


def _require_erasure(request: Request) -> None:
    if request.kind is not RequestKind.DELETION:
        raise FulfilmentError(N_("erasure is for deletion requests"))
    if request.status not in OPEN:
        raise FulfilmentError(N_("%(reference)s is closed"), reference=request.reference)


def preview(request: Request, *, now: datetime) -> list[PreviewRow]:
    """What a run would do, read from the operator's databases now; changes nothing."""
    _require_erasure(request)
    identities = subject_identities(request)
    datamap = configured_datamap()
    rows: list[PreviewRow] = []
    for system in datamap.systems:
        if system.kind != SystemKind.SQL:
            rows.append(PreviewRow(system.name, "", system.kind, None, "", 0, "", "", None))
            continue
        with system_engine(system) as engine:
            plans = plan_system(system, engine, identities, schedule(), local_today(now))
        rows += [_preview_row(plan) for plan in plans]
    return rows


def _preview_row(plan: TablePlan) -> PreviewRow:
    return PreviewRow(
        plan.system,
        plan.table,
        "sql",
        plan.rows,
        plan.strategy,
        plan.retained,
        plan.retention,
        plan.basis,
        plan.retained_until,
        plan.kind,
    )


# --- the run ---------------------------------------------------------------------------------


def steps_of(request: Request) -> list[ErasureStep]:
    return list(
        db.session.scalars(
            select(ErasureStep)
            .where(ErasureStep.request_id == request.id)
            .order_by(ErasureStep.position)
        )
    )


@dataclass
class StepState:
    """A step as a run sees it and leaves it: plain values, read or written in one statement
    each (the ORM's objects cost more than the statements on this path), and what
    :func:`run` returns (the console reads the steps themselves afresh, :func:`steps_of`).
    A step is known by its request, system and table (the table's unique key)."""

    request_id: int
    position: int
    system: str
    table_name: str
    kind: str
    state: str
    error: str | None
    attempts: int
    deleted: int
    anonymised: int
    retained: int
    retention: str | None
    basis: str | None
    basis_kind: str | None

    @classmethod
    def of(cls, values) -> StepState:
        return cls(**{name: values.get(name) for name in _STEP_FIELDS})

    @property
    def key(self) -> dict:
        return {"r": self.request_id, "s": self.system, "t": self.table_name}


_STEPS = ErasureStep.__table__
_STEP_FIELDS = list(StepState.__dataclass_fields__)
_STEP_IS = (
    (_STEPS.c.request_id == bindparam("r"))
    & (_STEPS.c.system == bindparam("s"))
    & (_STEPS.c.table_name == bindparam("t"))
)


_PLANNED = Direct(
    select(*(_STEPS.c[name] for name in _STEP_FIELDS))
    .where(_STEPS.c.request_id == bindparam("r"))
    .order_by(_STEPS.c.position)
)
_STEP_COLUMNS = (
    "request_id", "position", "system", "table_name", "kind", "state", "deleted", "anonymised",
    "retained", "attempts", "retention", "basis", "basis_kind",
)
_INSERT_STEPS = Direct(
    insert(_STEPS).values(
        {c: bindparam(c) for c in _STEP_COLUMNS}
        | {
            "started_at": bindparam("started_at", type_=UTCDateTime()),
            "retained_until": bindparam("retained_until", type_=Date()),
        }
    )
)


def _plan_steps(
    request_id: int, existing: list[tuple], datamap: DataMap, rules: Schedule
) -> tuple[list[StepState], bool]:
    """The run's steps: ``existing``, those planned by an earlier run, else a new plan (True),
    not stored yet (see :meth:`_Run.store_plan`). The lease keeps a second planner out."""
    if existing:
        return [StepState(*row) for row in existing], False
    steps, position = [], 0
    for system in datamap.systems:
        tables = erasure_order(system) if system.kind == SystemKind.SQL else [None]
        for table in tables:
            steps.append(StepState.of(_new_step(request_id, position, system, table, rules)))
            position += 1
    return steps, True


def _new_step(
    request_id: int, position: int, system: System, table: Table | None, rules: Schedule
) -> dict:
    """A pending step's row: one SQL table (with its retention rule), or a whole other system."""
    rule = rules.rule(table.retention).on_deletion_request() if table is not None else None
    return {
        "request_id": request_id,
        "position": position,
        "system": system.name,
        "table_name": table.name if table is not None else "",
        "kind": str(system.kind),
        "state": "pending",
        "error": None,
        "deleted": 0,
        "anonymised": 0,
        "retained": 0,
        "attempts": 0,
        "retention": rule.code if rule else None,
        "basis": basis_text(rule)[:200] if rule else None,
        "basis_kind": rule.kind_text if rule else None,
    }


def run(request: Request, *, actor: Actor, now: datetime) -> list[StepState]:
    """Do every step not done yet; returns the steps. A system that fails marks its steps failed
    with the reason (the run goes on with the other systems); run again to retry.

    Per SQL system: the subject's rows are read once; one commit here stores the rows to keep
    (encrypted, in separated storage) and the counts about to be erased, with the plan and the
    lease on the first; one transaction in the operator's database erases every table children
    first; and one last commit marks the steps done with one audit event (counts per table) and
    frees the lease. A crash anywhere is resumed by running again: kept rows are stored once,
    erased rows are no longer found, and the counts recorded before erasing stand."""
    _require_erasure(request)
    datamap = configured_datamap()
    rules = schedule()
    run = _Run(request.id, request.reference, actor, now)
    # Three independent statements, one round trip on PostgreSQL.
    with pipelined(db.session.connection()):
        identities_of = identities_later(request)
        taken = leases.take_later(run.lease, run.holder, now=now, ttl=LEASE_TTL)
        planned = _PLANNED.send({"r": run.request_id})
    try:
        identities = identities_of()
    except FulfilmentError:
        db.session.rollback()  # the lease taken with it
        raise
    if not taken():
        db.session.rollback()
        raise FulfilmentError(
            N_("an erasure of this request is running already: try again shortly")
        )
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.commit()  # SQLite locks the whole file until commit: not while we read
    try:
        steps, new = _plan_steps(run.request_id, planned.all(), datamap, rules)
        run.unstored = steps if new else None
        for system in datamap.systems:
            todo = [s for s in steps if s.system == system.name and s.state != "done"]
            if not todo:
                continue
            if system.kind == SystemKind.SQL:
                _run_sql(run, system, todo, identities, rules)
            else:
                run.store_plan()
                _remote_step(request, system, todo[0], actor=actor, now=now)
        run.store_plan()
        run.finish()
    except BaseException:
        # Nothing half-done is committed with the lease's release: what failed is rolled back
        # (a resumed run redoes it), then the lease is freed in a transaction of its own.
        db.session.rollback()
        run.release()
        raise
    # As written: the request expired with the commits, and reading the steps again costs a
    # query (the console reads them afresh, steps_of).
    return steps


def _remote_step(request, system: System, step: StepState, *, actor: Actor, now: datetime) -> None:
    """A webhook or manual system's step, on its object (the slower path), then as it is now."""
    loaded = db.session.scalars(select(ErasureStep).where(_STEP_IS), step.key).one()
    _run_remote(request, system, loaded, actor=actor, now=now)
    for name in ("state", "error", "attempts", "deleted", "anonymised"):
        setattr(step, name, getattr(loaded, name))


@dataclass
class _Run:
    """One run's identity, and what its SQL systems erased, recorded at the end in one commit."""

    request_id: int
    reference: str
    actor: Actor
    now: datetime
    done: list[dict] = field(default_factory=list)  # per erased table: its key and counts
    lease: str | None = None  # while held
    unstored: list[StepState] | None = None  # a new plan, until its first durable record
    erased: list[StepState] = field(default_factory=list)  # the steps marked done by finish

    def __post_init__(self) -> None:
        self.lease = f"erasure:{self.reference}"

    @property
    def holder(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{self.actor}"

    def store_plan(self, recorded: dict[tuple[str, str], dict] | None = None) -> bool:
        """Store a new plan once, in the transaction of its first record (a system's counts,
        ``recorded`` per (system, table), or a failure): one INSERT. False if it was stored."""
        if self.unstored is None:
            return False
        rows = []
        for step in self.unstored:
            row = {c: getattr(step, c, None) for c in _STEP_COLUMNS}
            rows.append(row | {"started_at": None, "retained_until": None}
                        | (recorded or {}).get((step.system, step.table_name), {}))
        try:
            _INSERT_STEPS.many(rows)
        except IntegrityError:
            db.session.rollback()
            raise FulfilmentError(
                N_("another run planned this erasure at once: run again")
            ) from None
        self.unstored = None
        return True

    def finish(self) -> None:
        """Mark the erased tables' steps done, one audit event with their counts (never the
        data), and free the lease: one commit."""
        if not self.done:
            self.release()
            return
        with pipelined(db.session.connection()):  # one round trip on PostgreSQL
            for system in dict.fromkeys(d["system"] for d in self.done):
                _DONE.execute({"r": self.request_id, "s": system, "finished": self.now})
            self._unlease()
            head = audit.advance_later()
        for step in self.erased:
            step.state, step.error = "done", None
        audit.record(
            "fulfilment.erasure",
            actor=self.actor,
            now=self.now,
            request_ref=self.reference,
            data={"tables": [{k: v for k, v in d.items() if k != "step"} for d in self.done]},
            head=head,
        )
        db.session.commit()
        self.lease = None

    def release(self) -> None:
        """Free the lease, in a commit of its own."""
        if self.lease is not None:
            self._unlease()
            db.session.commit()
            self.lease = None

    def _unlease(self) -> None:
        """The lease's release, in the transaction (still held until it commits)."""
        _RELEASE.execute({"name": self.lease, "holder": self.holder})


# A system's steps its run recorded (and erased) are exactly its steps still pending: the
# others were done before, or failed (not in the map any more, or the system failed).
_DONE = Direct(
    update(_STEPS)
    .where(
        _STEPS.c.request_id == bindparam("r"),
        _STEPS.c.system == bindparam("s"),
        _STEPS.c.state == "pending",
    )
    .values(state="done", error=None, finished_at=bindparam("finished", type_=UTCDateTime()))
)
_RELEASE = Direct(
    delete(JobLock).where(JobLock.name == bindparam("name"), JobLock.holder == bindparam("holder"))
)


def _run_sql(
    run: _Run, system: System, steps: list[StepState], identities, rules: Schedule
) -> None:
    """The system's tables: read once, kept rows stored and counts recorded (one commit), then
    erased children first in one transaction of the operator's database."""
    tables = {t.name: t for t in system.tables}
    for step in [s for s in steps if s.table_name not in tables]:
        run.store_plan()
        _fail(step, f"{system.name}.{step.table_name} is no longer in the data map", run.now)
    steps = [s for s in steps if s.table_name in tables]
    collected = _collect_once(run, system, steps[0], identities) if steps else None
    if collected is None:
        return
    order = [tables[s.table_name] for s in steps]
    try:
        plans = _plans(collected, steps, rules, local_today(run.now))
        recorded = _before(run, system, steps, plans)
        with system_engine(system) as engine:
            erase_tables(engine, collected, order)
    except (FulfilmentError, ValueError) as error:  # the operator's database: ours is intact
        run.store_plan()
        for step in steps:
            _fail(step, str(error), run.now)
        return
    run.done += recorded
    run.erased += steps


def _plans(collected: Collected, steps, rules: Schedule, today: date) -> list[TablePlan]:
    found, described = collected
    return [plan_table(found[s.table_name], described[s.table_name], rules, today) for s in steps]


def _collect_once(
    run: _Run, system: System, first: StepState, identities: dict[str, str]
) -> Collected | None:
    """The subject's rows of every table of the system; ``None`` when the database cannot be
    read (the first step is marked failed, the attempt counted)."""
    try:
        with system_engine(system) as engine:
            return collect_all(system, engine, identities)
    except (FulfilmentError, ValueError) as error:  # the operator's database: ours is intact
        run.store_plan()
        _fail(first, str(error), run.now, attempted=True)
        return None


def _before(run: _Run, system: System, steps: list[StepState], plans: list[TablePlan]):
    """Before the live rows go: store the rows to keep, encrypted, once each, and per step the
    attempt, the counts about to be erased (a repeat after a crash finds the erased rows gone
    and keeps them) and what is kept until when; one commit. Returns the audit entries."""
    stored = separated.keep_all(
        [
            (
                [separated.Kept(k.key, k.row, k.until) for k in plan.kept],
                {
                    "request_ref": run.reference,
                    "system": plan.system,
                    "table_name": plan.table,
                    "category": plan.retention,
                    "basis": plan.basis,
                    "stored_at": run.now,
                },
            )
            for plan in plans
        ]
    )
    first = all(s.attempts == 0 for s in steps)
    kept = _counted(stored) if first and stored is not None else None
    kept = kept if kept is not None else _kept_counts(run.reference, system.name)
    values, entries = [], []
    for step, plan in zip(steps, plans, strict=True):
        erased = plan.rows if plan.strategy == "delete" else 0
        deleted, anonymised = (erased, plan.rows - erased) if plan.rows else (None, None)
        count, until = kept.get(step.table_name, (0, None))
        values.append(
            step.key
            | {
                "p_deleted": deleted,
                "p_anonymised": anonymised,
                "p_kept": count,
                "p_until": until,
                "p_now": run.now,
            }
        )
        entries.append(
            {
                "step": step.key,
                "system": step.system,
                "table": step.table_name,
                "deleted": step.deleted if deleted is None else deleted,
                "anonymised": step.anonymised if anonymised is None else anonymised,
                "kept_separately": count,
                "retention": step.retention,
                "until": until.isoformat() if until else None,
            }
        )
    for step, value in zip(steps, values, strict=True):  # as written, in memory too
        step.attempts += 1
        step.state = "pending"
        step.deleted = step.deleted if value["p_deleted"] is None else value["p_deleted"]
        step.anonymised = (
            step.anonymised if value["p_anonymised"] is None else value["p_anonymised"]
        )
        step.retained = value["p_kept"]
    recorded = {
        (step.system, step.table_name): {
            "attempts": step.attempts, "deleted": step.deleted, "anonymised": step.anonymised,
            "retained": step.retained, "retained_until": value["p_until"],
            "started_at": run.now,
        }
        for step, value in zip(steps, values, strict=True)
    }
    if not run.store_plan(recorded):  # a new plan is stored with these counts, in one INSERT
        _RECORD_PLAN.many(values)
    db.session.commit()
    return entries


_RECORD_PLAN = Direct(
    update(_STEPS)
    .where(_STEP_IS)
    .values(
        attempts=_STEPS.c.attempts + 1,
        started_at=func.coalesce(_STEPS.c.started_at, bindparam("p_now", type_=UTCDateTime())),
        deleted=func.coalesce(bindparam("p_deleted", type_=Integer), _STEPS.c.deleted),
        anonymised=func.coalesce(bindparam("p_anonymised", type_=Integer), _STEPS.c.anonymised),
        retained=bindparam("p_kept", type_=Integer),
        retained_until=bindparam("p_until", type_=Date),
        state="pending",
    )
)


def _counted(stored: list[tuple[str, date]]) -> dict[str, tuple[int, date | None]]:
    """Per table: the rows a first attempt stored, until when (nothing was kept before it)."""
    counts: dict[str, tuple[int, date | None]] = {}
    for table, until in stored:
        count, last = counts.get(table, (0, None))
        counts[table] = (count + 1, max(until, last) if last else until)
    return counts


def _kept_counts(reference: str, system: str) -> dict[str, tuple[int, date | None]]:
    """Per table of the system: how many rows this request keeps separately, until when."""
    rows = db.session.execute(
        select(RetainedRecord.table_name, func.count(), func.max(RetainedRecord.purge_after))
        .where(RetainedRecord.request_ref == reference, RetainedRecord.system == system)
        .group_by(RetainedRecord.table_name)
    )
    return {name: (count, until) for name, count, until in rows}


def _finish_step(
    request, step: ErasureStep, deleted: int, anonymised: int, *, actor: Actor, now: datetime
):
    """A webhook or manual system's step is done: its counts, audited; one commit."""
    step.deleted, step.anonymised = deleted, anonymised
    step.state, step.error, step.finished_at = "done", None, now
    audit.record(
        "fulfilment.erasure",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "tables": [
                {
                    "system": step.system,
                    "table": step.table_name,
                    "deleted": step.deleted,
                    "anonymised": step.anonymised,
                    "kept_separately": 0,
                    "retention": step.retention,
                    "until": None,
                }
            ]
        },
    )
    db.session.commit()


def _fail(step: StepState | ErasureStep, reason: str, now: datetime, *, attempted: bool = False):
    """``attempted``: the attempt failed before it was counted (the database was down)."""
    if isinstance(step, ErasureStep):
        step.attempts += 1 if attempted else 0
        step.started_at = step.started_at or now
        step.state, step.error, step.finished_at = "failed", reason[:500], None
    else:
        _FAILED.execute(
            step.key | {"tried": 1 if attempted else 0, "reason": reason[:500], "now": now}
        )
        step.attempts += 1 if attempted else 0
        step.state, step.error = "failed", reason[:500]
    db.session.commit()


_FAILED = Direct(
    update(_STEPS)
    .where(_STEP_IS)
    .values(
        attempts=_STEPS.c.attempts + bindparam("tried", type_=Integer),
        started_at=func.coalesce(_STEPS.c.started_at, bindparam("now", type_=UTCDateTime())),
        state="failed",
        error=bindparam("reason"),
        finished_at=None,
    )
)


def _run_remote(request, system: System, step: ErasureStep, *, actor: Actor, now: datetime) -> None:
    """Webhook systems get a signed job; manual ones a checklist item. The step is done when
    the app answered (or staff ticked the item)."""
    if system.kind == SystemKind.WEBHOOK and not connectors.secret_env_set(system):
        _fail(
            step, f"{system.secret_env} is not set: cannot reach {system.name}", now, attempted=True
        )
        return
    step.attempts += 1
    step.started_at = step.started_at or now
    if system.kind == SystemKind.WEBHOOK:
        _settle_webhook(request, system, step, actor=actor, now=now)
        return
    item = connectors.ensure_checklist(request, system.name, "erasure", now=now)
    if item.done_at is not None:
        _finish_step(request, step, 0, 0, actor=actor, now=now)
    else:
        step.state = "pending"
        db.session.commit()


def _settle_webhook(
    request: Request, system: System, step: ErasureStep, *, actor: Actor, now: datetime
) -> None:
    """The step follows the system's job: done with its counts, failed, or still pending."""
    job = connectors.ensure_job(request, system.name, "erasure", now=now)
    if job.state == "done":
        counts = job.counts or {}
        step.deleted = int(counts.get("deleted", 0) or 0)
        step.anonymised = int(counts.get("anonymised", 0) or 0)
        _finish_step(request, step, step.deleted, step.anonymised, actor=actor, now=now)
    elif job.state == "failed":
        _fail(step, job.last_error or f"{system.name} failed", now)
    else:
        step.state = "pending"
        db.session.commit()


# --- the outcome -----------------------------------------------------------------------------


def policy_keep(step: ErasureStep) -> bool:
    """The step keeps rows under the operator's own policy only: no §36① 단서 ground."""
    return step.basis_kind == "policy" and step.retained > 0


def decide(
    request: Request, step_id: int, *, keep: bool, basis: str, actor: Actor, now: datetime
) -> ErasureStep:
    """Staff's decision on rows a policy rule kept: keep them, naming the basis the operator
    relies on, or delete them (their separated copies are destroyed). One commit."""
    _require_erasure(request)
    step = next((s for s in steps_of(request) if s.id == step_id), None)
    if step is None or step.state != "done" or not policy_keep(step):
        raise FulfilmentError(
            N_("only finished steps keeping rows under our own policy are decided")
        )
    basis = (basis or "").strip()
    if keep and not basis:
        raise FulfilmentError(N_("name the basis the operator relies on to keep these rows"))
    if not keep:
        destroyed = db.session.execute(
            delete(RetainedRecord).where(
                RetainedRecord.request_ref == request.reference,
                RetainedRecord.system == step.system,
                RetainedRecord.table_name == step.table_name,
            )
        ).rowcount
        step.retained, step.retained_until = 0, None
    step.decision, step.decision_basis = ("keep", basis[:500]) if keep else ("delete", None)
    audit.record(
        "fulfilment.erasure_decision",
        actor=actor,
        now=now,
        request_ref=request.reference,
        data={
            "system": step.system,
            "table": step.table_name,
            "decision": step.decision,
            "basis": step.decision_basis,
            "destroyed": 0 if keep else destroyed,
        },
    )
    db.session.commit()
    return step


@dataclass(frozen=True)
class Outcome:
    done: str  # what was deleted or anonymised, as the subject reads it
    kept: str  # what a statute made us keep separately, why and until when ("" when nothing)
    kept_by_policy: str = ""  # what our own policy keeps, until when, how to object ("")


def outcome(request: Request) -> Outcome:
    """The subject's account of the run, in their language; every step must be done, and every
    policy keep decided."""
    steps = steps_of(request)
    if not steps:
        raise FulfilmentError(N_("run the erasure first"))
    waiting = [s for s in steps if s.state != "done"]
    if waiting:
        raise FulfilmentError(
            N_("the erasure is not finished: %(steps)s"), steps=_names(waiting)
        )
    undecided = [s for s in steps if policy_keep(s) and s.decision != "keep"]
    if undecided:
        raise FulfilmentError(
            N_("decide what our own policy (not a statute) would keep, keep or delete: %(steps)s"),
            steps=_names(undecided),
        )
    language = request.language or "ko"
    where = _Names.load(language).of
    with force_locale(language):
        done = [_done_line(s, where) for s in steps if any(_erased(s)) or s.kind != "sql"]
        kept = [_kept_line(s, where) for s in steps if s.retained and not policy_keep(s)]
        by_policy = [_policy_line(s, where) for s in steps if policy_keep(s)]
        if not done:
            done = [_("We held no personal data about you in our systems.")]
        return Outcome("\n".join(done), "\n".join(kept), "\n".join(by_policy))


def _names(steps: list[ErasureStep]) -> str:
    return ", ".join(f"{s.system}.{s.table_name}".rstrip(".") for s in steps)


@dataclass(frozen=True)
class _Names:
    """What each place holds in the subject's words: the data map's table label, else its
    retention rule's label, else the system's description; never ``system.table``."""

    datamap: DataMap | None
    rules: Schedule | None
    language: str

    @classmethod
    def load(cls, language: str) -> _Names:
        try:
            return cls(configured_datamap(), schedule(), language)
        except (FulfilmentError, ValueError):
            return cls(None, None, language)

    def of(self, step: ErasureStep) -> str:
        system = self._system(step.system)
        table = system.table(step.table_name) if system and step.table_name else None
        if table is not None and table.label(self.language):
            return table.label(self.language)
        if table is not None and self.rules and table.retention != "none":
            return self.rules.rule(table.retention).label(self.language)
        if system is not None and system.description:
            return system.description
        return step.table_name or step.system

    def _system(self, name: str) -> System | None:
        if self.datamap is None:
            return None
        return next((s for s in self.datamap.systems if s.name == name), None)


def _erased(step: ErasureStep) -> tuple[int, int]:
    """Deleted and anonymised rows the subject no longer has anywhere: rows moved to
    separated storage are told as kept, never also as deleted (or anonymised)."""
    deleted = max(step.deleted - step.retained, 0)
    kept_beyond = max(step.retained - step.deleted, 0)
    return deleted, max(step.anonymised - kept_beyond, 0)


def _done_line(step: ErasureStep, where) -> str:
    if step.kind == "manual":
        return _("%(where)s: erased by our staff.", where=where(step))
    deleted, anonymised = _erased(step)
    parts = []
    if deleted:
        parts.append(_("%(count)s record(s) deleted", count=deleted))
    if anonymised:
        parts.append(_("%(count)s record(s) anonymised", count=anonymised))
    if not parts:
        parts.append(_("erased"))
    return f"{where(step)}: {', '.join(parts)}."


def _kept_line(step: ErasureStep, where) -> str:
    return _(
        "%(where)s: %(count)s record(s) kept separately until %(until)s under %(basis)s, "
        "used for no other purpose, then destroyed.",
        where=where(step),
        count=step.retained,
        until=step.retained_until.isoformat() if step.retained_until else "—",
        basis=step.basis or "",
    )


def _policy_line(step: ErasureStep, where) -> str:
    return _(
        "%(where)s: %(count)s record(s) kept until %(until)s under our own policy "
        "(%(basis)s), not because a law requires it. You may object to this in the ways "
        "our notice sets out.",
        where=where(step),
        count=step.retained,
        until=step.retained_until.isoformat() if step.retained_until else "—",
        basis=step.decision_basis or step.basis or "",
    )


def retention_ground(request: Request) -> str:
    """The refusal ground for keeping what a statute requires (never for a policy keep): the
    profile's own, else "other" (always last), the explanation naming each statute."""
    grounds = settings().profile(request.jurisdiction).grounds_for(request.kind)
    codes = [g.code for g in grounds]
    return "retention_required_by_law" if "retention_required_by_law" in codes else codes[-1]


def finish_notice(request: Request):
    """The notice the finish sends: completion, or a partial refusal naming what was kept."""

    result = outcome(request)
    if not result.kept:
        return decisions.completion_notice(
            request, result.done, kept_by_policy=result.kept_by_policy
        )
    return decisions.refusal_notice(
        request,
        retention_ground(request),
        result.kept,
        partial=True,
        done=result.done,
        kept_by_policy=result.kept_by_policy,
    )


def finish(request: Request, actor: Actor, now: datetime) -> None:
    """Close the request with :func:`finish_notice`'s notice (one commit)."""

    result = outcome(request)
    if not result.kept:
        decisions.complete(request, result.done, actor, now, kept_by_policy=result.kept_by_policy)
    else:
        decisions.refuse(
            request,
            retention_ground(request),
            result.kept,
            actor,
            now,
            partial=True,
            done=result.done,
            kept_by_policy=result.kept_by_policy,
        )
