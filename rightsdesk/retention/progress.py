"""A purge's progress per table, batch by batch, in rightsdesk's database.

The operator's delete and rightsdesk's record cannot commit together. Before each batch the
runner writes the batch's keys here (committed); the operator's database then destroys exactly
those rows (still due, locked ``FOR UPDATE`` on PostgreSQL) in one transaction; after its
commit the count is added to ``done`` and the keys cleared. A run killed anywhere in between
is credited with ``done``, plus the batch in flight if none of its keys is still there (that
transaction committed) — never with rows an erasure deleted meanwhile, as counting "planned
minus still due" did. Left ambiguous: a batch in flight at the kill whose every row something
else deleted before the next run looked; it is credited (at most one batch).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from rightsdesk.extensions import db
from rightsdesk.models import PurgeProgress


def start(run_id: str, system: str, table: str) -> int:
    """The progress row of this run in this table, in the session (the caller commits)."""
    row = PurgeProgress(run_id=run_id, system=system, table_name=table, done=0)
    db.session.add(row)
    db.session.flush()
    return row.id


def begin_batch(progress_id: int, keys: list[tuple[Any, ...]]) -> None:
    """The keys about to be destroyed, committed before the operator's transaction commits."""
    row = db.session.get(PurgeProgress, progress_id)
    row.inflight = json.dumps([list(key) for key in keys], default=str)
    db.session.commit()


def end_batch(progress_id: int, count: int) -> None:
    """The operator's database confirmed ``count`` rows of the batch in flight."""
    row = db.session.get(PurgeProgress, progress_id)
    row.done += count
    row.inflight = None
    db.session.commit()


def of_run(run_id: str, system: str, table: str) -> PurgeProgress | None:
    return db.session.scalar(
        select(PurgeProgress).where(
            PurgeProgress.run_id == run_id,
            PurgeProgress.system == system,
            PurgeProgress.table_name == table,
        )
    )


def inflight_keys(row: PurgeProgress) -> list[tuple[Any, ...]]:
    return [tuple(key) for key in json.loads(row.inflight)] if row.inflight else []
