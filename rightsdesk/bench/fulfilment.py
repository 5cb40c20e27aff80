"""``rightsdesk bench fulfilment``: access export and erasure on the demo shop, against the floor.

The shop (the operator's database) is built with ``create_demo_shop`` at ``--shop-url`` (a new
SQLite file by default, or an empty PostgreSQL database), or with ``--no-generate`` an existing
database of the same schema is used (an operator's staging copy). For each of N random users:

* **access**: ``services.fulfilment.prepare_access_package`` for an access request of the user
  (collect over the data map, ZIP, Fernet encryption at rest, the offer on the status page and
  the audit records), and apart from it the fulfilment-level part alone (collect + ZIP);
* **erasure**: ``services.erasure.run`` for a deletion request of the user (steps recorded,
  children first, kept rows encrypted into separated storage, one audit event for the run).

Two floors, hand-written SQL through the bare driver (sqlite3 / psycopg), one connection per
database (``subjects`` and ``equal_work``):

* the **bare floor**: the SELECTs of the same rows; for erasure also the same DELETEs and
  UPDATEs plus a plain INSERT of the rows kept, in one shop transaction, timed and rolled back;
* the **equal-work floor**: what rightsdesk must durably do and nothing more. Access: the
  SELECTs, the ZIP, the package encrypted into a file, one audit event and the offer row in one
  commit. Erasure: the rows kept copied encrypted into separated storage and committed first,
  the set-based DELETEs/UPDATEs in one shop transaction, one commit of the outcome with its
  audit event. Its tables in rightsdesk's own database are dropped at the end.

Before either side is timed, the subject's rows are read once (in the shop and in the twin):
the side timed first would otherwise pay the database's cache misses for the one after it
(rightsdesk's access ran first and was measured on a cold cache, the floors on a warm one).

A generated shop gets an identical twin (a file copy, or ``CREATE DATABASE … TEMPLATE``) on
which the equal-work floor erases, so it and rightsdesk erase the same rows once each. With
``--no-generate`` nothing is erased unless ``--allow-erasure`` is given; then the floors'
transactions in the shop are rolled back and rightsdesk's erasure is real. ``--concurrency N``
then times N worker processes over further distinct subjects, in rounds (``concurrent``).

Rightsdesk's own database is a new SQLite file unless ``--database-url`` names an empty one.
Only the bench's data map is used: the demo map's SQL systems (webhook and manual systems have
no floor to compare with).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import psycopg
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rightsdesk.bench import concurrent, equal_work
from rightsdesk.bench.common import (
    BenchError,
    admin_execute,
    app_context,
    bench_group,
    conninfo,
    peak_mb,
    percentile,
    server,
)
from rightsdesk.bench.subjects import (
    Floor,
    Subject,
    bench_datamap,
    create_retained_table,
    floor_access,
    floor_erasure,
    make_bench_app,
    make_requests,
    ours_access,
    ours_access_service,
    ours_erasure,
    own_database,
    reason,
    shop_engine,
    sqlite_connection,
)

if TYPE_CHECKING:
    from rightsdesk.domain.retention import Schedule

WARMUP = 5  # subjects done first and not timed
MEMORY_SUBJECTS = 3  # subjects done afterwards under tracemalloc, not timed
TARGET_RATIO = 3.0
TARGET_ACCESS_P95_MS = 200.0
SHOP_URL_ENV = "RIGHTSDESK_SHOP_DATABASE_URL"
SHOP_TABLES = (
    "users",
    "orders",
    "payments",
    "access_logs",
    "support_tickets",
    "marketing_consents",
)
ACCESS = "access: collect + ZIP"
ACCESS_SERVICE = "access: + encrypt, offer, audit"
ERASURE = "erasure: services.erasure.run"


# --- the shop --------------------------------------------------------------------------------


@dataclass
class Shop:
    url: str
    backend: str  # "sqlite" or "postgresql"
    generated_seconds: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    twin: str | None = None  # the floor's identical copy, when generated


def resolve_shop_url(value: str | None, workdir: Path) -> str:
    from rightsdesk.systems.connect import sql_url

    if not value:
        return f"sqlite:///{workdir / 'shop.db'}"
    try:
        url = make_url(sql_url(value))
    except ArgumentError:
        raise BenchError(f"malformed --shop-url {value!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BenchError(f"--shop-url must be SQLite or PostgreSQL, not {url.get_backend_name()}")
    if url.get_backend_name() == "sqlite" and not url.database:
        raise BenchError("--shop-url: an in-memory SQLite database cannot be shared; name a file")
    return url.render_as_string(hide_password=False)


def generate_shop(shop: Shop, users: int, say: Callable[[str], None]) -> None:
    from rightsdesk.demo.shop import DemoShopExists, create_demo_shop

    say(f"generating the demo shop with {users:,} users …")
    started = time.perf_counter()
    try:
        create_demo_shop(shop.url, users=users, bench_volumes=True)
    except DemoShopExists as error:
        raise BenchError(f"{error} (or use --no-generate)") from None
    except SQLAlchemyError as error:
        raise BenchError(f"cannot create the shop: {reason(error)}") from None
    shop.generated_seconds = time.perf_counter() - started
    # Statistics, as a database autovacuum has visited.
    if shop.backend == "postgresql":
        with psycopg.connect(conninfo(make_url(shop.url)), autocommit=True) as conn:
            conn.execute(f"VACUUM (ANALYZE) {', '.join(SHOP_TABLES)}")
    else:
        with sqlite_connection(shop.url) as conn:
            conn.execute("ANALYZE")


def check_schema(shop: Shop) -> None:
    engine = shop_engine(shop.url)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
    except SQLAlchemyError as error:
        raise BenchError(f"cannot reach the shop database: {reason(error)}") from None
    finally:
        engine.dispose()
    missing = [t for t in SHOP_TABLES if t not in present]
    if missing:
        raise BenchError(f"the shop database lacks the demo shop's tables: {', '.join(missing)}")


def count_rows(shop: Shop) -> None:
    engine = shop_engine(shop.url)
    try:
        with engine.connect() as connection:
            for table in SHOP_TABLES:
                shop.rows[table] = connection.execute(
                    text(f"SELECT count(*) FROM {table}")
                ).scalar()
    finally:
        engine.dispose()


def pick_subjects(shop: Shop, count: int) -> list[str]:
    """Random users with an e-mail address that is not already erased."""
    engine = shop_engine(shop.url)
    try:
        with engine.connect() as connection:
            emails = connection.execute(
                text(
                    "SELECT email FROM users WHERE email IS NOT NULL"
                    " AND email NOT LIKE 'erased-%' ORDER BY random() LIMIT :n"
                ),
                {"n": count},
            ).scalars()
            return list(emails)
    finally:
        engine.dispose()


@contextmanager
def twin(shop: Shop, workdir: Path, say: Callable[[str], None]) -> Iterator[None]:
    """An identical copy of a freshly generated shop for the floor's erasure; removed after."""
    copy = _sqlite_twin(shop, workdir) if shop.backend == "sqlite" else _postgres_twin(shop, say)
    with copy:
        yield


@contextmanager
def _sqlite_twin(shop: Shop, workdir: Path) -> Iterator[None]:
    """A file copy of the shop, removed after."""
    source = Path(make_url(shop.url).database or "")
    target = workdir / f"floor-{secrets.token_hex(4)}.db"
    shutil.copyfile(source, target)
    shop.twin = f"sqlite:///{target}"
    try:
        yield
    finally:
        target.unlink(missing_ok=True)


@contextmanager
def _postgres_twin(shop: Shop, say: Callable[[str], None]) -> Iterator[None]:
    """``CREATE DATABASE … TEMPLATE`` the shop on the same server, dropped after."""
    url = make_url(shop.url)
    admin = url.set(database="postgres")
    name = f"{url.database}_floor_{secrets.token_hex(4)}"[-63:]
    admin_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    say(f"created the floor's copy {name} on {server(admin)}")
    shop.twin = url.set(database=name).render_as_string(hide_password=False)
    try:
        yield
    finally:
        try:
            admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            say(f"dropped {name}")
        except BenchError as error:
            click.echo(f"warning: could not drop {name}: {error}", err=True)


# --- the measurement ----------------------------------------------------------------------------


@dataclass
class Timings:
    ours: dict[str, list[float]] = field(default_factory=dict)
    floor: dict[str, list[float]] = field(default_factory=dict)
    equal: dict[str, list[float]] = field(default_factory=dict)  # the equal-work floor
    access_rows: list[int] = field(default_factory=list)
    erased: list[dict[str, int]] = field(default_factory=list)

    def add(self, name: str, ours: float, floor: float, equal: float | None = None) -> None:
        self.ours.setdefault(name, []).append(ours)
        self.floor.setdefault(name, []).append(floor)
        if equal is not None:
            self.equal.setdefault(name, []).append(equal)


@dataclass
class Floors:
    """The floors' connections: the shop (reading), its twin (erasing; the shop itself with
    --no-generate), rightsdesk's own database (the equal-work floor's records), its keys."""

    reader: Floor
    eraser: Floor | None
    own: Floor
    keys: equal_work.Keys
    commit: bool  # the equal-work floor's erasure is committed (on the twin) or rolled back


def _same(what: str, email: str, ours: dict[str, int], floor: dict[str, int]) -> None:
    if ours != floor:
        raise click.ClickException(
            f"{what} of {email}: rightsdesk and the floor do different work: {ours} vs {floor}"
        )


def measure_subject(
    subject: Subject, *, floors: Floors, schedule: Schedule, timings: Timings | None
) -> None:
    _measure_access(subject, floors, timings)
    if floors.eraser is not None:
        _measure_erasure(subject, floors, schedule=schedule, timings=timings)


def _measure_access(subject: Subject, floors: Floors, timings: Timings | None) -> None:
    """The subject's rows read once untimed (so no side pays the database's cache misses for
    the next), the access service, then collect + ZIP alone, then the bare floor's SELECTs,
    then the equal-work floor's access."""
    floors.reader.select_subject(subject.email)
    service_ms = ours_access_service(subject)
    ours_ms, ours_counts = ours_access(subject)
    floor_ms, floor_counts = floor_access(floors.reader, subject.email)
    equal_ms = equal_work.access(
        floors.reader, floors.own, floors.keys, subject.email, subject.access_ref
    )
    _same("access", subject.email, ours_counts, floor_counts)
    if timings is not None:
        timings.add(ACCESS_SERVICE, service_ms, floor_ms, equal_ms)
        timings.add(ACCESS, ours_ms, floor_ms)
        timings.access_rows.append(sum(floor_counts.values()))


def _measure_erasure(
    subject: Subject, floors: Floors, *, schedule: Schedule, timings: Timings | None
) -> None:
    """The bare floor's erasure (rolled back), the equal-work floor's, then rightsdesk's: the
    same rows deleted, anonymised and kept."""
    from rightsdesk.fulfilment.erasure import local_today

    assert floors.eraser is not None
    today = local_today(datetime.now(UTC))
    floors.eraser.select_subject(subject.email)  # warm in the twin too, untimed
    floor_ms, floor_counts = floor_erasure(floors.eraser, subject.email, schedule, today)
    equal_ms, equal_counts = equal_work.erasure(
        floors.eraser, floors.own, floors.keys, subject.email, subject.deletion_ref, schedule,
        today, commit=floors.commit,
    )
    ours_ms, ours_counts = ours_erasure(subject)
    _same("erasure", subject.email, ours_counts, floor_counts)
    _same("erasure", subject.email, ours_counts, equal_counts)
    if timings is not None:
        timings.add(ERASURE, ours_ms, floor_ms, equal_ms)
        timings.erased.append(ours_counts)


def measure_memory(subjects: list[Subject], *, erase: bool) -> dict[str, float]:
    """Peak Python allocation of one request (tracemalloc), the largest over the subjects."""
    peaks = {"access_kib": 0.0, "erasure_kib": 0.0}
    tracemalloc.start()
    try:
        for subject in subjects:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            ours_access_service(subject)
            peak = (tracemalloc.get_traced_memory()[1] - base) / 1024
            peaks["access_kib"] = max(peaks["access_kib"], peak)
            if erase:
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
                ours_erasure(subject)
                peak = (tracemalloc.get_traced_memory()[1] - base) / 1024
                peaks["erasure_kib"] = max(peaks["erasure_kib"], peak)
    finally:
        tracemalloc.stop()
    if not erase:
        del peaks["erasure_kib"]
    return peaks


# --- the report -----------------------------------------------------------------------------------


def summarise(timings: Timings) -> list[dict[str, Any]]:
    lines = []
    for name in (ACCESS, ACCESS_SERVICE, ERASURE):
        if name not in timings.ours:
            continue
        ours, floor = timings.ours[name], timings.floor[name]
        p50, p95 = percentile(ours, 50), percentile(ours, 95)
        f50, f95 = percentile(floor, 50), percentile(floor, 95)
        line = {
            "operation": name,
            "p50_ms": round(p50, 2),
            "p95_ms": round(p95, 2),
            "floor_p50_ms": round(f50, 2),
            "floor_p95_ms": round(f95, 2),
            "ratio_p50": round(p50 / f50, 2) if f50 else None,
            "ratio_p95": round(p95 / f95, 2) if f95 else None,
        }
        if name in timings.equal:
            e50, e95 = percentile(timings.equal[name], 50), percentile(timings.equal[name], 95)
            line |= {
                "equal_p50_ms": round(e50, 2),
                "equal_p95_ms": round(e95, 2),
                "equal_ratio_p50": round(p50 / e50, 2) if e50 else None,
                "equal_ratio_p95": round(p95 / e95, 2) if e95 else None,
            }
        lines.append(line)
    return lines


# The targets, against the equal-work floor: p50 and p95 ratios, p50 in milliseconds.
TARGETS = {ACCESS_SERVICE: (2.0, 3.0, 7.0), ERASURE: (2.0, 3.0, 14.0)}


def targets(lines: list[dict[str, Any]]) -> dict[str, bool]:
    checked = {}
    for line in lines:
        if line["operation"] not in TARGETS or "equal_ratio_p50" not in line:
            continue  # the targets are for what staff run: the whole access export, erasure
        ratio50, ratio95, ms50 = TARGETS[line["operation"]]
        name = line["operation"]
        checked[f"{name}: p50 <= {ratio50:g}x equal-work floor"] = _within(
            line["equal_ratio_p50"], ratio50
        )
        checked[f"{name}: p50 <= {ms50:g} ms"] = line["p50_ms"] <= ms50
        checked[f"{name}: p95 <= {ratio95:g}x equal-work floor"] = _within(
            line["equal_ratio_p95"], ratio95
        )
    return checked


def _within(ratio: float | None, limit: float) -> bool:
    return ratio is not None and ratio <= limit


HEADER = (
    f"{'operation':<32}{'p50 ms':>9}{'p95 ms':>9}{'bare p50':>10}{'bare p95':>10}"
    f"{'x p50':>8}{'x p95':>8}{'equal p50':>11}{'equal p95':>11}{'x p50':>8}{'x p95':>8}"
)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def echo_report(report: dict[str, Any]) -> None:
    _echo_setup(report)
    click.echo(HEADER)
    for line in report["operations"]:
        equal = (
            f"{line['equal_p50_ms']:>11.2f}{line['equal_p95_ms']:>11.2f}"
            f"{_ratio(line['equal_ratio_p50']):>8}{_ratio(line['equal_ratio_p95']):>8}"
            if "equal_p50_ms" in line
            else ""
        )
        click.echo(
            f"{line['operation']:<32}{line['p50_ms']:>9.2f}{line['p95_ms']:>9.2f}"
            f"{line['floor_p50_ms']:>10.2f}{line['floor_p95_ms']:>10.2f}"
            f"{_ratio(line['ratio_p50']):>8}{_ratio(line['ratio_p95']):>8}" + equal
        )
    _echo_per_subject(report)
    if report.get("concurrency"):
        concurrent.echo(report["concurrency"])
    scope = "" if report["shop"]["backend"] == "postgresql" else " (the targets are for PostgreSQL)"
    for name, met in report["targets"].items():
        click.echo(f"target {name}: {'met' if met else 'MISSED'}{scope}")


def _echo_setup(report: dict[str, Any]) -> None:
    """The shop, rightsdesk's own database and what was timed."""
    shop = report["shop"]
    rows = ", ".join(f"{n:,} {t}" for t, n in shop["rows"].items())
    made = (
        f"generated in {shop['generated_seconds']:.1f} s"
        if shop["generated_seconds"] is not None
        else "existing database (--no-generate)"
    )
    click.echo(f"shop on {shop['backend']}: {rows}; {made}")
    click.echo(f"rightsdesk's own database: {report['database']}")
    click.echo(
        f"\n{report['subjects']} random subjects after {WARMUP} warm-up ones; per subject: "
        "its rows read once untimed (so neither side pays the database's cache misses for the "
        "other), access (the service, then collect + ZIP alone), floor SELECTs, "
        + ("bare floor erasure (rolled back), equal-work floor erasure, then ours"
           if report["erasure"] else "no erasure")
        + f"; floors = hand-written SQL through {report['floor_driver']}, one connection per"
        " database.\nbare floor: the SELECTs (and for erasure the DELETEs/UPDATEs and a plain"
        " INSERT of the kept rows in one shop transaction).\nequal-work floor: access = the"
        " SELECTs, a ZIP (JSON+CSV per table, summary), Fernet-encrypted into a new file, one"
        " hash-chained audit event and the offer row in one commit of rightsdesk's database;"
        " erasure = the SELECTs, kept rows Fernet-encrypted into separated storage and committed"
        " first, the set-based DELETEs/UPDATEs in one shop transaction, then one commit of the"
        " outcome (a row per table) with its audit event"
    )
    if report["erasure_note"]:
        click.echo(report["erasure_note"])


def _echo_per_subject(report: dict[str, Any]) -> None:
    """Rows per subject, what was erased in all, and the peak memory."""
    per = report["per_subject"]
    click.echo(
        f"rows per subject: {per['access_rows_median']} median, {per['access_rows_max']} max"
        + (
            f"; erased in all: {per['deleted']:,} deleted, {per['anonymised']:,} anonymised, "
            f"{per['kept']:,} kept separately"
            if report["erasure"]
            else ""
        )
    )
    memory = report["memory"]
    click.echo(
        f"peak memory per request (tracemalloc, max of {MEMORY_SUBJECTS} subjects): "
        f"access {memory['access_kib']:,.0f} KiB"
        + (f", erasure {memory['erasure_kib']:,.0f} KiB" if "erasure_kib" in memory else "")
        + f"; process max RSS {memory['max_rss_mib']:,.0f} MiB"
    )


# --- the command ------------------------------------------------------------------------------


@bench_group.command("fulfilment")
@click.option(
    "--shop-url",
    default=None,
    help="The operator's database (the demo shop's schema). Default: a new SQLite file in a "
    "temporary directory; or an empty PostgreSQL database, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/rd_benchfulfil.",
)
@click.option(
    "--users",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=100),
    help="Users of the generated shop.",
)
@click.option(
    "--subjects",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Random users whose access export and erasure are timed.",
)
@click.option(
    "--generate/--no-generate",
    default=True,
    show_default=True,
    help="Build the demo shop at --shop-url (refused if its tables exist), or use the existing "
    "database there (an operator's staging copy).",
)
@click.option(
    "--allow-erasure",
    is_flag=True,
    help="With --no-generate: really erase the timed subjects (plus a few for warm-up and "
    "memory) in that database. Without it only access is timed. The floor's erasure there is "
    "rolled back.",
)
@click.option(
    "--database-url",
    default=None,
    help="rightsdesk's own database; it must be empty (the bench migrates it). Default: a new "
    "SQLite file in a temporary directory.",
)
@click.option(
    "--concurrency",
    default=0,
    show_default=True,
    type=click.IntRange(min=0, max=64),
    help="Afterwards, N worker processes over distinct subjects: throughput of access and "
    f"erasure beside the equal-work floor's at the same concurrency ({concurrent.PER_WORKER} "
    "subjects per worker and round). 0: none.",
)
@click.option(
    "--rounds",
    default=concurrent.ROUNDS,
    show_default=True,
    type=click.IntRange(min=1, max=9),
    help="With --concurrency: rounds of the workers' phases, each on subjects of its own, the "
    "floor's phase beside rightsdesk's (first in every other round); the medians are printed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def fulfilment_command(
    shop_url: str | None,
    users: int,
    subjects: int,
    generate: bool,
    allow_erasure: bool,
    database_url: str | None,
    concurrency: int,
    rounds: int,
    as_json: bool,
) -> None:
    """Time access export and erasure per subject against the raw-SQL floor.

    A generated shop stays at --shop-url afterwards (a PostgreSQL database is the caller's to
    drop), with the timed subjects erased; the floor erases on an identical copy (a file copy
    or CREATE DATABASE … TEMPLATE on the same server) that is removed at the end. With
    --no-generate the bench changes nothing in the database unless --allow-erasure is given.
    """
    options = Options(
        shop_url,
        users,
        subjects,
        generate,
        generate or allow_erasure,
        database_url,
        as_json,
        concurrency,
        rounds,
    )
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rd-bench-")))
        report = _bench(stack, workdir, options)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        echo_report(report)


@dataclass(frozen=True)
class Options:
    shop_url: str | None
    users: int
    subjects: int
    generate: bool
    erase: bool
    database_url: str | None
    as_json: bool
    concurrency: int = 0
    rounds: int = concurrent.ROUNDS

    @property
    def concurrent_subjects(self) -> int:
        return self.concurrency * concurrent.PER_WORKER * self.rounds


def _bench(stack: ExitStack, workdir: Path, options: Options) -> dict[str, Any]:
    say = functools.partial(click.echo, err=options.as_json)
    url = resolve_shop_url(options.shop_url, workdir)
    shop = Shop(url, make_url(url).get_backend_name())
    own = own_database(options.database_url, workdir)
    emails = _prepare_shop(stack, shop, workdir, options, say)
    _start_app(stack, own, workdir, shop)
    say(f"creating {len(emails)} access and deletion requests …")
    people = make_requests(emails)
    parallel = people[len(people) - options.concurrent_subjects :] if options.concurrency else []
    people = people[: len(people) - len(parallel)]
    timings, memory = _measure(stack, shop, own, workdir, people, options, say)
    report = _report(shop, own, options, timings, memory)
    if options.concurrency:
        setup = concurrent.Setup(
            own, str(workdir), str(workdir / "datamap.toml"), shop.url,
            shop.twin if options.erase else None, SHOP_URL_ENV,
        )
        report["concurrency"] = concurrent.measure(
            setup, parallel, options.concurrency, options.rounds, say
        )
        report["targets"] |= report["concurrency"]["targets"]
    return report


def _prepare_shop(
    stack: ExitStack, shop: Shop, workdir: Path, options: Options, say: Callable[[str], None]
) -> list[str]:
    """Generate the shop (with the floor's twin) or check the existing one; the subjects'
    e-mail addresses, warm-up and memory ones included. Too few users is refused before
    anything is generated."""
    needed = WARMUP + options.subjects + MEMORY_SUBJECTS + options.concurrent_subjects
    if options.generate and options.users < needed:
        raise BenchError(_too_few(options.users, needed, options))
    if options.generate:
        generate_shop(shop, options.users, say)
    check_schema(shop)
    count_rows(shop)
    emails = pick_subjects(shop, needed)
    if len(emails) < needed:
        raise BenchError(_too_few(len(emails), needed, options))
    if options.generate:
        stack.enter_context(twin(shop, workdir, say))
    return emails


def _too_few(users: int, needed: int, options: Options) -> str:
    workers = (
        f", {options.concurrent_subjects} for {options.concurrency} workers in "
        f"{options.rounds} rounds: use a larger --users, or a smaller --concurrency or --rounds"
        if options.concurrency
        else ""
    )
    return (
        f"the shop has {users:,} users with an e-mail address; the bench needs {needed:,} "
        f"({options.subjects} timed, {WARMUP} warm-up, {MEMORY_SUBJECTS} memory{workers})"
    )


def _start_app(stack: ExitStack, own: str, workdir: Path, shop: Shop) -> None:
    """rightsdesk on its own database with the bench's data map, migrated, in an app context
    that lasts as long as ``stack``."""
    import flask_migrate

    datamap = workdir / "datamap.toml"
    bench_datamap(datamap)
    app = make_bench_app(own, workdir, datamap)
    stack.enter_context(_environ(SHOP_URL_ENV, shop.url))
    stack.enter_context(app_context(app))
    flask_migrate.upgrade()


def _measure(
    stack: ExitStack,
    shop: Shop,
    own: str,
    workdir: Path,
    people: list[Subject],
    options: Options,
    say: Callable[[str], None],
) -> tuple[Timings, dict[str, float]]:
    """The warm-up subjects, the timed ones, then the memory ones."""
    from rightsdesk.fulfilment.erasure import schedule

    subjects = options.subjects
    warmup, timed = people[:WARMUP], people[WARMUP : WARMUP + subjects]
    floors = _floors(stack, shop, own, workdir, erase=options.erase)
    rules = schedule()
    say(f"timing {subjects} subjects …")
    for person in warmup:
        measure_subject(person, floors=floors, schedule=rules, timings=None)
    timings = Timings()
    for person in timed:
        measure_subject(person, floors=floors, schedule=rules, timings=timings)
    memory = measure_memory(people[WARMUP + subjects :], erase=options.erase)
    memory["max_rss_mib"] = peak_mb()
    return timings, memory


def _floors(stack: ExitStack, shop: Shop, own: str, workdir: Path, *, erase: bool) -> Floors:
    """The floors' connections: reading the shop, erasing (on the twin if there is one), and
    rightsdesk's own database with the equal-work floor's tables (dropped at the end)."""
    reader = Floor(shop.url)
    stack.callback(reader.close)
    equal_work.create_tables(own)
    stack.callback(equal_work.drop_tables, own)
    own_floor = Floor(own)
    stack.callback(own_floor.close)
    eraser = None
    if erase:
        eraser = Floor(shop.twin or shop.url)
        stack.callback(eraser.close)
        create_retained_table(eraser, temporary=shop.twin is None)
    keys = equal_work.Keys(workdir / "floor-packages")
    return Floors(reader, eraser, own_floor, keys, commit=shop.twin is not None)


def _report(
    shop: Shop, own: str, options: Options, timings: Timings, memory: dict[str, float]
) -> dict[str, Any]:
    lines = summarise(timings)
    return {
        "shop": {
            "backend": shop.backend,
            "url": make_url(shop.url).render_as_string(hide_password=True),
            "generated_seconds": shop.generated_seconds,
            "rows": shop.rows,
        },
        "database": f"{make_url(own).get_backend_name()}"
        + (" (temporary file)" if options.database_url is None else ""),
        "floor_driver": "sqlite3" if shop.backend == "sqlite" else "psycopg",
        "subjects": options.subjects,
        "erasure": options.erase,
        "erasure_note": _erasure_note(shop, erase=options.erase),
        "operations": lines,
        "per_subject": _per_subject(timings),
        "memory": {k: round(v, 1) for k, v in memory.items()},
        "targets": targets(lines),
    }


def _erasure_note(shop: Shop, *, erase: bool) -> str:
    if not erase:
        return "erasure not timed: --no-generate without --allow-erasure changes nothing"
    if shop.twin is None:
        return "the floor's erasure transactions were rolled back (timed before the rollback)"
    return ""


def _per_subject(timings: Timings) -> dict[str, int]:
    rows = sorted(timings.access_rows)
    return {
        "access_rows_median": rows[len(rows) // 2],
        "access_rows_max": rows[-1],
        "deleted": sum(e["deleted"] for e in timings.erased),
        "anonymised": sum(e["anonymised"] for e in timings.erased),
        "kept": sum(e["kept"] for e in timings.erased),
    }


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
