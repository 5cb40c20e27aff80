"""``rightsdesk bench …``: speed is measured here, on a million rows, never in timed tests.

Every case is timed twice on the same data: through rightsdesk's own code path (what the admin
console runs) and as the equivalent hand-written SQL sent through psycopg, the floor that no
ORM can beat. The ratio between the two is the price of the ORM; the floor's own time is the
price of the query plan, which only an index (a migration) can lower.

The bench never writes into an existing database: it creates ``rightsdesk_bench_<random>`` on
the server named by ``--database-url`` (only used for CREATE and DROP DATABASE), migrates it,
loads it and drops it again. The server is never taken from the app's own configuration.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import click
import psycopg
from sqlalchemy.engine import URL

from rightsdesk.bench.common import (
    ADMIN_URL,
    admin_url,
    app_context,
    bench_app,
    bench_group,
    conninfo,
    percentile,
    scratch_database,
)

if TYPE_CHECKING:
    from flask import Flask

    from rightsdesk.requests.queue import QueueFilter


STAFF = 20


SUBJECTS_PER_REQUEST = 0.3  # 300,000 people behind a million requests


YEARS = 3


RECENT_DAYS = 60  # most open requests were received in the last two months


WARMUP = 5


DEEP_PAGE = 100


TARGET_P95_MS = 100.0


@dataclass(frozen=True)
class Dataset:
    requests: int
    open: int
    subjects: int
    representatives: int
    staff: int
    load_seconds: float
    analyze_seconds: float


STAFF_SQL = """
INSERT INTO staff_users (id, email, name, role, password_hash, totp_enabled, active,
                         failed_logins, session_version, created_at)
SELECT g, 'staff' || g || '@bench.example', '담당자 ' || g,
       CASE WHEN g = 1 THEN 'admin' ELSE 'handler' END,
       'bench:not-a-password-hash', false, true, 0, 1, %(now)s
FROM generate_series(1, %(staff)s) AS g
"""


SUBJECTS_SQL = """
INSERT INTO subjects (id, email, name, created_at)
SELECT g, 'subject' || g || '@bench.example', '이용자 ' || g, %(start)s
FROM generate_series(1, %(subjects)s) AS g
"""


# One row per request in receipt order over YEARS years. Most requests of the last RECENT_DAYS
# are open and a few old ones linger (0.3%), which gives ~5% open and ~95% closed.
# MATERIALIZED keeps each random() draw a single value however often it is referenced.
REQUESTS_SQL = """
INSERT INTO requests (
    id, reference, kind, status, jurisdiction, channel, language, subject_id, status_secret,
    personal_data_purged_at, received_at, verified_at, closed_at, due_date, notice_due_date,
    extension_count, paused_days, assignee_id, created_at, updated_at
)
WITH draws AS MATERIALIZED (
    SELECT g AS id,
           %(now)s - (%(rows)s - g + random()) * %(step)s * interval '1 second' AS received_at,
           random() AS u_open, random() AS u_status, random() AS u_kind,
           random() AS u_channel, random() AS u_assigned,
           1 + floor(random() * %(subjects)s)::int AS subject_id,
           1 + floor(random() * %(staff)s)::int AS staff_id
    FROM generate_series(1, %(rows)s) AS g
), shaped AS (
    SELECT d.*,
           (d.received_at AT TIME ZONE %(tz)s)::date AS received_day,
           extract(year FROM d.received_at AT TIME ZONE %(tz)s)::int AS year,
           CASE WHEN d.u_open < CASE WHEN d.received_at > %(now)s - %(recent)s * interval '1 day'
                                     THEN 0.85 ELSE 0.003 END
                THEN CASE WHEN d.u_status < 0.10 THEN 'received_unverified'
                          WHEN d.u_status < 0.40 THEN 'verified'
                          WHEN d.u_status < 0.75 THEN 'in_progress'
                          WHEN d.u_status < 0.90 THEN 'awaiting_subject'
                          ELSE 'extended' END
                ELSE CASE WHEN d.u_status < 0.70 THEN 'completed'
                          WHEN d.u_status < 0.78 THEN 'partially_completed'
                          WHEN d.u_status < 0.85 THEN 'refused'
                          WHEN d.u_status < 0.93 THEN 'withdrawn'
                          ELSE 'expired' END
           END AS status
    FROM draws AS d
), dated AS (
    SELECT s.*,
           s.status IN ('completed', 'partially_completed', 'refused', 'withdrawn', 'expired')
               AS closed,
           least(%(now)s, s.received_at + CASE s.status WHEN 'expired' THEN interval '7 days'
                                                        ELSE interval '6 days' END) AS ended_at,
           row_number() OVER (PARTITION BY s.year ORDER BY s.id) AS number
    FROM shaped AS s
)
SELECT id,
       'RD-' || year || '-' || lpad(number::text, greatest(6, length(number::text)), '0'),
       CASE WHEN u_kind < 0.35 THEN 'access'
            WHEN u_kind < 0.47 THEN 'correction'
            WHEN u_kind < 0.72 THEN 'deletion'
            WHEN u_kind < 0.82 THEN 'suspension'
            WHEN u_kind < 0.95 THEN 'consent_withdrawal'
            ELSE 'automated_decision' END,
       status,
       'KR',
       CASE WHEN u_channel < 0.60 THEN 'web'
            WHEN u_channel < 0.85 THEN 'email'
            WHEN u_channel < 0.95 THEN 'staff'
            ELSE 'api' END,
       'ko',
       CASE WHEN status = 'expired' THEN NULL ELSE subject_id END,
       md5(id::text),
       CASE WHEN status = 'expired' THEN ended_at END,
       received_at,
       CASE WHEN status IN ('received_unverified', 'expired') THEN NULL
            ELSE received_at + interval '2 hours' END,
       CASE WHEN closed THEN ended_at END,
       received_day + CASE WHEN status = 'extended' THEN 20 ELSE 10 END,
       received_day + 3,
       CASE WHEN status = 'extended' THEN 1 ELSE 0 END,
       0,
       CASE WHEN status IN ('received_unverified', 'expired') OR u_assigned >= 0.8 THEN NULL
            ELSE staff_id END,
       received_at,
       CASE WHEN closed THEN ended_at ELSE received_at END
FROM dated
"""


REPRESENTATIVES_SQL = """
INSERT INTO representatives (request_id, role, name, email)
SELECT id, CASE WHEN mod(id, 3) = 0 THEN 'legal_guardian' ELSE 'agent' END,
       '대리인 ' || id, 'agent' || id || '@bench.example'
FROM requests
WHERE mod(id, 100) = 0
"""


COUNTERS_SQL = """
INSERT INTO reference_counters (year, last)
SELECT split_part(reference, '-', 2)::int, count(*) FROM requests GROUP BY 1
"""


SEQUENCE_SQL = (
    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
)


TABLES = ("staff_users", "subjects", "requests", "representatives", "reference_counters")


def load(conn: psycopg.Connection, *, rows: int, tz: str) -> Dataset:
    """Generate the rows inside PostgreSQL (INSERT … SELECT generate_series), then analyse."""
    params = _load_params(rows, tz)
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("SELECT setseed(0.2026)")  # the same data on every run
        for sql in (STAFF_SQL, SUBJECTS_SQL, REQUESTS_SQL, REPRESENTATIVES_SQL, COUNTERS_SQL):
            conn.execute(sql, params)
        for table in ("staff_users", "subjects", "requests"):
            conn.execute(SEQUENCE_SQL.format(table=table))
    loaded = time.perf_counter() - started
    # VACUUM, not only ANALYZE: like a table autovacuum has visited (visibility map, hints).
    conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
    analysed = time.perf_counter() - started - loaded
    return _dataset(conn, load_seconds=loaded, analyze_seconds=analysed)


def _load_params(rows: int, tz: str) -> dict[str, Any]:
    """The parameters of the generating SQL: ``rows`` requests over YEARS years up to now."""
    now = datetime.now(UTC)
    return {
        "now": now,
        "start": now.replace(year=now.year - YEARS),
        "rows": rows,
        "step": YEARS * 365.25 * 86400 / rows,
        "subjects": max(1, int(rows * SUBJECTS_PER_REQUEST)),
        "staff": STAFF,
        "recent": RECENT_DAYS,
        "tz": tz,
    }


def _dataset(conn: psycopg.Connection, *, load_seconds: float, analyze_seconds: float) -> Dataset:
    """What was loaded, counted."""
    return Dataset(
        requests=_count(conn, "requests"),
        open=_count(conn, "requests", f"status IN ({_open_list()})"),
        subjects=_count(conn, "subjects"),
        representatives=_count(conn, "representatives"),
        staff=_count(conn, "staff_users"),
        load_seconds=load_seconds,
        analyze_seconds=analyze_seconds,
    )


def _count(conn: psycopg.Connection, table: str, where: str = "true") -> int:
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    return int(row[0]) if row else 0


def _open_list() -> str:
    from rightsdesk.domain.lifecycle import OPEN

    return ", ".join(f"'{status.value}'" for status in sorted(OPEN))


@dataclass(frozen=True)
class Case:
    name: str
    filters: QueueFilter
    after: tuple[date, int] | None = None
    note: str = ""


def build_cases(conn: psycopg.Connection) -> list[Case]:
    from rightsdesk.domain.kinds import RequestKind
    from rightsdesk.domain.lifecycle import OPEN
    from rightsdesk.requests.queue import QueueFilter

    open_statuses = tuple(sorted(OPEN))
    first = QueueFilter(statuses=open_statuses)
    staff_id = _busiest_deletion_handler(conn)
    filtered = QueueFilter(
        statuses=open_statuses, kind=RequestKind.DELETION, assignee=str(staff_id)
    )
    after, page = _cursor_of_page(first, DEEP_PAGE)
    email = _open_subject_email(conn)
    return [
        Case("first page", first, note="open, by due date"),
        Case("filtered page", filtered, note=f"open + deletion + assignee {staff_id}"),
        Case("deep page", first, after=after, note=f"open, page {page} by keyset cursor"),
        Case(
            "e-mail search",
            QueueFilter(statuses=open_statuses, search=email),
            note=f"open + q={email}",
        ),
        # Not one of the four: "All" + an e-mail, a subject's whole history.
        Case("e-mail, all", QueueFilter(search=email), note=f"all statuses + q={email}"),
    ]


def _busiest_deletion_handler(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce((SELECT assignee_id FROM requests"
        f" WHERE status IN ({_open_list()}) AND kind = 'deletion' AND assignee_id IS NOT NULL"
        " GROUP BY assignee_id ORDER BY count(*) DESC, assignee_id LIMIT 1), 1)"
    ).fetchone()
    return int(row[0]) if row else 1


def _open_subject_email(conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT s.email FROM requests AS r JOIN subjects AS s ON s.id = r.subject_id"
        f" WHERE r.status IN ({_open_list()}) ORDER BY r.id LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else "nobody@bench.example"


def _cursor_of_page(filters: QueueFilter, number: int) -> tuple[tuple[date, int] | None, int]:
    """Follow next_cursor as the console's "Next page" link does; stop early if pages end."""
    from rightsdesk.extensions import db
    from rightsdesk.requests.queue import load_queue_page, parse_cursor

    after, page = None, 1
    while page < number:
        cursor = load_queue_page(filters, after=after, size=page_size()).next_cursor
        db.session.remove()
        if cursor is None:
            break
        after, page = parse_cursor(cursor), page + 1
    return after, page


def page_size() -> int:
    from rightsdesk.admin.queue import PAGE_SIZE

    return PAGE_SIZE


def _columns() -> str:
    """Every column the ORM loads: the request, its subject and its assignee."""
    from rightsdesk.models import Request, StaffUser, Subject

    tables = (("r", Request), ("s", Subject), ("a", StaffUser))
    return ", ".join(
        f"{alias}.{column.name}" for alias, model in tables for column in model.__table__.columns
    )


def floor_where(case: Case, *, with_cursor: bool = True) -> tuple[str, list[Any]]:
    """The WHERE clause load_queue_page builds, written by hand."""
    filters, clauses, params = case.filters, [], []
    if filters.statuses:
        clauses.append(f"r.status IN ({', '.join(['%s'] * len(filters.statuses))})")
        params += [status.value for status in filters.statuses]
    if filters.kind:
        clauses.append("r.kind = %s")
        params.append(filters.kind.value)
    if filters.assignee:
        clauses.append("r.assignee_id = %s")
        params.append(int(filters.assignee))
    if filters.search:
        clauses.append(
            "r.id IN (SELECT id FROM requests WHERE subject_id IN"
            " (SELECT id FROM subjects WHERE email = %s)"
            " UNION SELECT request_id FROM representatives WHERE email = %s)"
        )
        params += [filters.search, filters.search]
    if with_cursor and case.after:
        clauses.append("(r.due_date, r.id) > (%s, %s)")
        params += [case.after[0], case.after[1]]
    return " AND ".join(clauses) or "true", params


def floor_query(case: Case) -> tuple[str, list[Any]]:
    where, params = floor_where(case)
    sql = (
        f"SELECT {_columns()} FROM requests AS r"
        " LEFT OUTER JOIN subjects AS s ON s.id = r.subject_id"
        " LEFT OUTER JOIN staff_users AS a ON a.id = r.assignee_id"
        f" WHERE {where} ORDER BY r.due_date, r.id LIMIT %s"
    )
    return sql, [*params, page_size() + 1]


def matching(conn: psycopg.Connection, case: Case) -> int:
    where, params = floor_where(case, with_cursor=False)
    row = conn.execute(f"SELECT count(*) FROM requests AS r WHERE {where}", params).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Result:
    case: Case
    rows: int
    matching: int
    ours_ms: list[float]
    floor_ms: list[float]


def run_ours(case: Case) -> tuple[float, list[int]]:
    """One page as a console request gets it: a new session, a pooled connection (pinged)."""
    from rightsdesk.extensions import db
    from rightsdesk.requests.queue import load_queue_page

    started = time.perf_counter()
    page = load_queue_page(case.filters, after=case.after, size=page_size())
    elapsed = time.perf_counter() - started
    ids = [row.id for row in page.rows]
    db.session.remove()
    return elapsed * 1000, ids


def run_floor(cursor: psycopg.Cursor, sql: str, params: list[Any]) -> tuple[float, list[int]]:
    started = time.perf_counter()
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    elapsed = time.perf_counter() - started
    return elapsed * 1000, [row[0] for row in rows[: page_size()]]


def measure(conn: psycopg.Connection, case: Case, runs: int) -> Result:
    """Ours and the floor alternately, so background noise falls on both alike."""
    sql, params = floor_query(case)
    cursor = conn.cursor()
    _, ours_ids = run_ours(case)
    _, floor_ids = run_floor(cursor, sql, params)
    if ours_ids != floor_ids:
        raise click.ClickException(f"{case.name}: the floor SQL returns other rows than ours")
    for _ in range(WARMUP):
        run_ours(case)
        run_floor(cursor, sql, params)
    ours, floor = [], []
    for _ in range(runs):
        ours.append(run_ours(case)[0])
        floor.append(run_floor(cursor, sql, params)[0])
    return Result(case, len(ours_ids), matching(conn, case), ours, floor)


def orm_statement(case: Case) -> tuple[str, Any]:
    """The SQL and parameters load_queue_page sends, captured on their way to the driver."""
    from sqlalchemy import event

    from rightsdesk.extensions import db

    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM requests" in statement:
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run_ours(case)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return captured[-1]


def explain_lines(conn: psycopg.Connection, case: Case) -> list[str]:
    statement, parameters = orm_statement(case)
    plan = [
        str(row[0]) for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
    ]
    scans = [line.strip().removeprefix("-> ") for line in plan if " Scan " in line]
    timing = [line.strip() for line in plan if line.startswith("Execution Time")]
    return [
        f"{case.name} ({case.note}):",
        f"  {plan[0].strip()}",
        *(f"  scan: {line}" for line in scans),
        *(f"  {line}" for line in timing),
    ]


HEADER = (
    f"{'case':<15}{'rows':>6}{'matching':>10}{'p50 ms':>9}{'p95 ms':>9}"
    f"{'floor p50':>11}{'floor p95':>11}{'ratio':>8}"
)


def table_line(result: Result) -> str:
    p50, p95 = percentile(result.ours_ms, 50), percentile(result.ours_ms, 95)
    f50, f95 = percentile(result.floor_ms, 50), percentile(result.floor_ms, 95)
    ratio = p50 / f50 if f50 else math.inf
    return (
        f"{result.case.name:<15}{result.rows:>6}{result.matching:>10,}{p50:>9.2f}{p95:>9.2f}"
        f"{f50:>11.2f}{f95:>11.2f}{ratio:>7.1f}x"
    )


def verdict(results: list[Result]) -> str:
    slow = [r.case.name for r in results if percentile(r.ours_ms, 95) >= TARGET_P95_MS]
    if slow:
        return f"target p95 < {TARGET_P95_MS:.0f} ms: MISSED by {', '.join(slow)}"
    return f"target p95 < {TARGET_P95_MS:.0f} ms: met by every case"


def echo_dataset(data: Dataset, server_version: str) -> None:
    click.echo(
        f"PostgreSQL {server_version}: {data.requests:,} requests ({data.open:,} open), "
        f"{data.subjects:,} subjects, {data.representatives:,} representatives, "
        f"{data.staff} staff"
    )
    click.echo(
        f"loaded in {data.load_seconds:.1f} s, VACUUM (ANALYZE) in {data.analyze_seconds:.1f} s"
    )


def echo_results(results: list[Result], runs: int) -> None:
    click.echo(
        f"\n{runs} timed runs per case after {WARMUP} warm-up runs; ours = load_queue_page in "
        "an app context (new session per run), floor = the same SQL through psycopg; "
        "ratio = ours/floor at p50"
    )
    click.echo(HEADER)
    for result in results:
        click.echo(table_line(result))
    for result in results:
        click.echo(f"  {result.case.name}: {result.case.note}")
    click.echo(verdict(results))


@bench_group.command("queue")
@click.option(
    "--rows",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=100),
    help="Requests to load.",
)
@click.option(
    "--runs", default=200, show_default=True, type=click.IntRange(min=1), help="Timed runs."
)
@click.option(
    "--database-url",
    default=ADMIN_URL,
    show_default=True,
    help="Admin connection to the PostgreSQL server; the bench creates its own database there.",
)
@click.option("--keep", is_flag=True, help="Keep the bench database afterwards.")
@click.option("--explain", is_flag=True, help="Summarise EXPLAIN (ANALYZE, BUFFERS) plans.")
def queue_command(rows: int, runs: int, database_url: str, keep: bool, explain: bool) -> None:
    """Load requests into a new database; time the staff queue against the raw-SQL floor."""
    admin = admin_url(database_url)
    with scratch_database(admin, keep=keep) as url:
        app = bench_app(url)
        with app_context(app):
            _bench_queue(url, app, rows=rows, runs=runs, explain=explain)


def _bench_queue(url: URL, app: Flask, *, rows: int, runs: int, explain: bool) -> None:
    import flask_migrate

    flask_migrate.upgrade()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        click.echo(f"loading {rows:,} requests …")
        data = load(conn, rows=rows, tz=app.config["TIMEZONE"])
        echo_dataset(data, str(conn.info.parameter_status("server_version")))
    # A new connection for the floor: the backend that ran the load measures ~50% slower.
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        cases = build_cases(conn)
        results = [measure(conn, case, runs) for case in cases]
        echo_results(results, runs)
        if explain:
            echo_explain(conn, cases[:2])


def echo_explain(conn: psycopg.Connection, cases: list[Case]) -> None:
    click.echo("\nEXPLAIN (ANALYZE, BUFFERS) of the SQL load_queue_page sends:")
    for case in cases:
        for line in explain_lines(conn, case):
            click.echo(line)
