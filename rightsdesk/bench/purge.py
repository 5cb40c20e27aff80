"""``rightsdesk bench purge``: the operator purge against a raw batched DELETE loop.

In a throwaway database it builds an access-log table of ``--rows`` expired rows among
``--live`` recent ones (generate_series, interleaved, with an index on the time column as a log
table has), copies it to a second, identical table, then purges the first with rightsdesk's own
job (the code ``rightsdesk jobs purge-operator`` runs: plan, keyset batches, destruction
record) and the second with the raw loop ``DELETE … WHERE id IN (SELECT id … LIMIT n)``. It
prints rows per second, the process's peak memory, and the ratio of the two times.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
import psycopg

from rightsdesk.bench.common import (
    BENCH,
    admin_url,
    app_context,
    bench_app,
    bench_group,
    conninfo,
    peak_mb,
    scratch_database,
)
from rightsdesk.retention.runner import Reporter

TARGET_RATIO = 1.3
TARGET_MB = 200
CREATE = """
CREATE TABLE {name} (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL,
    ip varchar(45) NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX ix_{name}_at ON {name} (at);
"""


def load(conn: psycopg.Connection, *, expired: int, live: int) -> None:
    """``expired`` rows 100–465 days old among ``live`` rows at most 60 days old, interleaved
    evenly by id (every k-th row is live)."""
    total = expired + live
    every = max(total // max(live, 1), 1) if live else total + 1
    conn.execute(CREATE.format(name="access_logs"))
    conn.execute(
        """
        INSERT INTO access_logs (user_id, ip, at)
        SELECT mod(g, 100000) + 1,
               '198.51.100.' || (mod(g, 254) + 1),
               CASE WHEN mod(g, %(every)s) = 0 AND g / %(every)s <= %(live)s
                    THEN now() - random() * interval '60 days'
                    ELSE now() - interval '100 days' - random() * interval '365 days' END
        FROM generate_series(1, %(total)s) AS g
        """,
        {"every": every, "live": live, "total": total},
    )
    conn.execute(CREATE.format(name="access_logs_raw"))
    conn.execute("INSERT INTO access_logs_raw SELECT * FROM access_logs ORDER BY id")
    conn.execute("VACUUM ANALYZE access_logs")
    conn.execute("VACUUM ANALYZE access_logs_raw")


def raw_loop(conn: psycopg.Connection, cutoff: datetime, batch: int) -> int:
    """The floor: the plain batched delete, each batch its own transaction."""
    deleted = 0
    while True:
        with conn.transaction():
            count = conn.execute(
                "DELETE FROM access_logs_raw WHERE id IN "
                "(SELECT id FROM access_logs_raw WHERE at < %s LIMIT %s)",
                (cutoff, batch),
            ).rowcount
        if not count:
            return deleted
        deleted += count


@bench_group.command("purge")
@click.option(
    "--url",
    "database_url",
    default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="Admin connection to the PostgreSQL server; the bench creates its own database there.",
)
@click.option("--rows", default=5_000_000, show_default=True, type=click.IntRange(min=1))
@click.option("--live", default=None, type=click.IntRange(min=0), help="Default: rows / 4.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1))
@click.option("--keep", is_flag=True, help="Keep the bench database afterwards.")
def purge_command(database_url: str, rows: int, live: int | None, batch_size: int, keep: bool):
    """Purge expired access logs with the retention job and with a raw DELETE loop."""
    admin = admin_url(database_url)
    live = rows // 4 if live is None else live
    with scratch_database(admin, keep=keep) as url:
        app = bench_app(url)
        with app_context(app):
            _bench(app, url, rows=rows, live=live, batch=batch_size)


def _bench(app, url, *, rows: int, live: int, batch: int) -> None:
    import flask_migrate

    flask_migrate.upgrade()
    _load(url, rows=rows, live=live)
    before_mb = peak_mb()
    ours, ours_s = _ours(app, url, batch)
    ours_mb = peak_mb()
    raw, raw_s, left = _raw(app, url, batch)
    ratio = ours_s / raw_s if raw_s else float("inf")
    click.echo(f"rightsdesk job   {ours:>12,} rows  {ours_s:8.1f} s  {ours / ours_s:12,.0f} rows/s")
    click.echo(f"raw DELETE loop  {raw:>12,} rows  {raw_s:8.1f} s  {raw / raw_s:12,.0f} rows/s")
    click.echo(f"ratio            {ratio:.2f}x (target ≤ {TARGET_RATIO}x)")
    click.echo(
        f"peak memory      {ours_mb:.0f} MB (before the purge {before_mb:.0f} MB; "
        f"target < {TARGET_MB} MB)"
    )
    click.echo(f"live rows left   {left:,} (of {live:,})")
    if ours != raw or left != live:
        raise click.ClickException(f"the two purges differ: {ours} vs {raw} rows, {left} left")


def _load(url, *, rows: int, live: int) -> None:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        click.echo(f"loading {rows:,} expired and {live:,} live access-log rows (twice) …")
        started = time.perf_counter()
        load(conn, expired=rows, live=live)
        click.echo(f"loaded in {time.perf_counter() - started:.1f} s")


def _raw(app, url, batch: int) -> tuple[int, float, int]:
    """The floor's purge: (rows deleted, seconds, live rows left in the job's table)."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        cutoff = _cutoff(app)
        started = time.perf_counter()
        raw = raw_loop(conn, cutoff, batch)
        raw_s = time.perf_counter() - started
        left = conn.execute("SELECT count(*) FROM access_logs").fetchone()[0]
    return raw, raw_s, left


def _cutoff(app) -> datetime:
    from rightsdesk.retention.runner import local_midnight, local_today
    from rightsdesk.systems.configured import current_schedule

    return local_midnight(current_schedule().cutoff("access_log", local_today(datetime.now(UTC))))


def _ours(app, url, batch: int) -> tuple[int, float]:
    """The purge through the job's own code path, on a one-table map of the bench database."""
    from rightsdesk.retention.operator import Target, purge_table
    from rightsdesk.systems.configured import current_schedule
    from rightsdesk.systems.connect import engine_for

    schedule = current_schedule()
    system, table = _access_log_system()
    ctx = _run_context(schedule, batch)
    engine = engine_for(url.render_as_string(hide_password=False))
    try:
        started = time.perf_counter()
        item = purge_table(ctx, Target(system, table, schedule.rule("access_log"), ()), engine)
        ended = time.perf_counter()
    finally:
        engine.dispose()
    clock = ctx.reporter
    click.echo(
        f"rightsdesk job: {clock.began - started:.2f} s reading, counting and planning, "
        f"{clock.ended - clock.began:.2f} s in {clock.batches} batches, "
        f"{ended - clock.ended:.2f} s recording"
    )
    return item.count, ended - started


def _access_log_system():
    """The bench database as a data-map system with its one access-log table."""
    from rightsdesk.domain.datamap import System, Table

    table = Table(
        name="access_logs",
        path=("systems", "bench", "tables", "access_logs"),
        retention="access_log",
        erasure="delete",
        identity={"user_id": "user_id"},
        retention_from="at",
    )
    system = System(name="bench", kind="sql", path=("systems", "bench"), tables=(table,))
    return system, table


def _run_context(schedule, batch: int):
    """A retention run of its own for the bench: not a dry run, noting when batches begin."""
    from rightsdesk.retention.runner import RunContext

    now = datetime.now(UTC)
    return RunContext(
        run_id=f"bench-{now:%Y%m%dT%H%M%S}",
        now=now,
        schedule=schedule,
        dry_run=False,
        actor=BENCH,
        holder="bench",
        reporter=_Clock(),
        batch_size=batch,
    )


class _Clock(Reporter):
    """When the batches began and ended: before them the job reads the table, counts what is
    due and records its plan; after them it records the destruction."""

    began = ended = 0.0
    batches = 0

    def start(self, label: str, total: int) -> None:
        self.began = time.perf_counter()

    def advance(self, count: int) -> None:
        self.batches += 1

    def finish(self) -> None:
        self.ended = time.perf_counter()

