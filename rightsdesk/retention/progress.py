"""A purge's progress per table, batch by batch, in rightsdesk's database.

The operator's delete and rightsdesk's record cannot commit together. Batches go in key order,
so a batch is exactly "the due rows with keys after ``after`` up to ``upto``" (a
:class:`Span`). The operator's database destroys a batch in one transaction; before that
transaction commits, and after its delete has counted the rows, the runner writes the batch
here as in flight (span and count) in the same commit that adds the batch before it, now
committed, to ``done``: one commit of rightsdesk's per batch. After the last batch ``done``
takes the last count and the span is cleared, with the destruction record.

A run killed anywhere in between is credited with ``done``, plus the batch in flight if no row
due by the run's cutoff is left in its span (that transaction committed; had it not, all its
rows would still be there) — never with rows an erasure deleted meanwhile, as counting "planned
minus still due" did. Left ambiguous, each at most one batch: a batch in flight at the kill
whose every row something else deleted before the next run looked (credited), and a committed
one in whose span something made a row due again before the next run looked (not credited:
a row written with a key inside the span and an old date, or a parent whose last child went).

Runs journalled before spans (a list of the batch's keys) are settled as then: credited if
none of the keys is still there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from rightsdesk.extensions import db
from rightsdesk.models import PurgeProgress


@dataclass(frozen=True)
class Span:
    """A batch in flight: the due rows with keys after ``after`` (``None``: from the first)
    up to and including ``upto`` (``None``: to the last), ``count`` of them."""

    after: tuple[Any, ...] | None
    upto: tuple[Any, ...] | None
    count: int


def start(run_id: str, system: str, table: str) -> int:
    """The progress row of this run in this table, in the session (the caller commits)."""
    row = PurgeProgress(run_id=run_id, system=system, table_name=table, done=0)
    db.session.add(row)
    db.session.flush()
    return row.id


def step(progress_id: int, confirmed: int, inflight: Span) -> None:
    """One commit: the batch before (``confirmed`` rows, its transaction committed) is done and
    ``inflight`` is about to commit in the operator's database."""
    _write(progress_id, PurgeProgress.done + confirmed, _dump(inflight))
    db.session.commit()


def finish(progress_id: int, done: int) -> None:
    """No batch in flight, ``done`` rows in all (in the session: the caller commits it with
    the destruction record)."""
    _write(progress_id, done, None)


def _write(progress_id: int, done: Any, inflight: str | None) -> None:
    db.session.execute(
        update(PurgeProgress)
        .where(PurgeProgress.id == progress_id)
        .values(done=done, inflight=inflight)
        .execution_options(synchronize_session=False)
    )


def _dump(span: Span) -> str:
    return json.dumps(
        {
            "after": list(span.after) if span.after is not None else None,
            "upto": list(span.upto) if span.upto is not None else None,
            "count": span.count,
        },
        default=str,
    )


def of_run(run_id: str, system: str, table: str) -> PurgeProgress | None:
    return db.session.scalar(
        select(PurgeProgress).where(
            PurgeProgress.run_id == run_id,
            PurgeProgress.system == system,
            PurgeProgress.table_name == table,
        )
    )


def inflight(row: PurgeProgress) -> Span | list[tuple[Any, ...]] | None:
    """The batch in flight: a :class:`Span`, the key list of a run journalled before spans,
    or ``None``."""
    if not row.inflight:
        return None
    found = json.loads(row.inflight)
    if isinstance(found, list):
        return [tuple(key) for key in found]
    return Span(
        tuple(found["after"]) if found["after"] is not None else None,
        tuple(found["upto"]) if found["upto"] is not None else None,
        int(found["count"]),
    )
