"""``rightsdesk bench intake``: a burst of web-form submissions against gunicorn over PostgreSQL.

The bench serves rightsdesk with gunicorn (several workers) on loopback over the database given
by ``--url``, with one ``rightsdesk worker`` process running beside it as in production, and
drives a bounded load at the public form: each virtual user opens the form once (a CSRF token
and its session cookie), then submits it again and again with a new e-mail address each time,
like people answering a breach notice. The form answers once the submission's row is committed
(acknowledged); the worker files it as a request with its verification mail. The bench reports
the form's throughput and p50/p99 latency, then waits until the worker has filed everything and
checks that every accepted submission (302 to /requests/sent) is stored as a request with its
verification mail in the outbox (zero lost) and that nothing answered 5xx.

The same load then goes to a minimal Flask endpoint in the same stack (the same gunicorn
settings, psycopg, SQLAlchemy's pool, the same database) that does one INSERT per submission
and answers with the same redirect: the floor. The ratio is rightsdesk's throughput over the
floor's (target: at least half).

Only the bench's own server has its limits raised: it runs with ``RIGHTSDESK_SUBMIT_LIMIT`` set
to ``--submit-limit`` (default 1000000 per hour) in gunicorn's environment, because every
submission comes from one client address. Its worker runs in demo mode, so verification mail
is "delivered" to the demo mailbox instead of an SMTP server the bench does not have.
Production defaults are untouched. The database must be a scratch one: the bench migrates it,
refuses one that holds requests already, and leaves the submitted requests there (drop the
database afterwards).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import psycopg

from rightsdesk.bench.common import (
    BenchError,
    admin_url,
    app_context,
    bench_app,
    conninfo,
    free_port,
    percentile,
    server,
)
from rightsdesk.bench.common import bench_group as _bench_group

MINIMAL_TABLE = "bench_minimal_submissions"
WORKER_NICENESS = 10
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- the floor: one INSERT per submission, same stack -----------------------------------------


MINIMAL_INSERT = (
    f"INSERT INTO {MINIMAL_TABLE} (kind, name, email, details, received_at)"
    " VALUES (:kind, :name, :email, :details, now())"
)


def minimal_app():
    """The floor for gunicorn (``rightsdesk.bench.intake:minimal_app()``): Flask, SQLAlchemy's
    pool and psycopg on the same database, one INSERT and a redirect per submission."""
    from flask import Flask, redirect, request
    from sqlalchemy import create_engine, text

    from rightsdesk.systems.connect import sql_url

    engine = create_engine(sql_url(os.environ["RIGHTSDESK_BENCH_MINIMAL_URL"]))
    app = Flask("minimal")
    insert = text(MINIMAL_INSERT)

    @app.post("/submit")
    def submit():
        with engine.begin() as connection:
            connection.execute(insert, _minimal_row(request.form))
        return redirect("/sent")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def _minimal_row(form) -> dict[str, str | None]:
    """The submitted form as the floor's row."""
    return {
        "kind": form["kind"],
        "name": form["name"],
        "email": form["email"],
        "details": form.get("details"),
    }


# --- serving ----------------------------------------------------------------------------------


@contextmanager
def gunicorn(target: str, *, workers: int, worker_class: str, env: dict[str, str]) -> Iterator[str]:
    """gunicorn serving ``target`` on a free loopback port; yields the base URL once healthy."""
    port = free_port()
    command = _gunicorn_command(target, port=port, workers=workers, worker_class=worker_class)
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        yield base
    finally:
        _stop(process)


def _gunicorn_command(target: str, *, port: int, workers: int, worker_class: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        target,
    ]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not exited within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def intake_worker(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``rightsdesk worker`` beside the web server, as in production, at a lower CPU priority
    (``nice`` 10): during a burst the web server answers first and the worker files with what
    CPU is left, then catches up. Stopped on exit."""
    script = Path(sys.executable).with_name("rightsdesk")
    process = subprocess.Popen(
        [str(script), "worker", "--interval", "0.2"],
        env={**os.environ, **env, "RIGHTSDESK_DEMO": "1"},
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: os.nice(WORKER_NICENESS),
    )
    try:
        yield process
    finally:
        _stop(process)


def _wait_filed(url, process: subprocess.Popen, *, seconds: float = 900) -> float:
    """Wait until the worker has filed every waiting submission; when that was (monotonic)."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"the worker exited with status {process.returncode}")
            waiting, failing, reason = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE attempts > 0), max(last_error)"
                " FROM intake_submissions"
            ).fetchone()
            if not waiting:
                return time.monotonic()
            if failing:  # it would wait for its back-off: say why now
                raise BenchError(f"the worker could not file {failing} submission(s): {reason}")
            time.sleep(0.1)
    raise BenchError(f"the worker had not filed every submission after {seconds:.0f} s")


def _wait_healthy(base: str, process: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with status {process.returncode} at start")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError("gunicorn did not answer /healthz within 60 s")


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Load:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)
    stored: int = 0

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def lost(self) -> int:
        return len(self.accepted) - self.stored


Setup = Callable[["httpx.AsyncClient"], Awaitable[dict[str, str]]]  # noqa: F821


async def _drive(
    load: Load, base: str, path: str, *, numbers: range, concurrency: int, setup: Setup, tag: str
) -> None:
    """Submit once for each of ``numbers`` (the e-mail address's number), ``concurrency`` at
    once; adds to ``load`` (several rounds add up)."""
    counter = iter(numbers)
    users = (_user(load, base, path, counter, setup=setup, tag=tag) for _ in range(concurrency))
    started = time.perf_counter()
    await asyncio.gather(*users)
    load.seconds += time.perf_counter() - started


async def _user(
    load: Load, base: str, path: str, counter: Iterator[int], *, setup: Setup, tag: str
) -> None:
    """One virtual user on one connection: ``setup`` once, then a submission for each number it
    takes from the shared ``counter``."""
    import httpx

    async with httpx.AsyncClient(
        base_url=base,
        timeout=60,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    ) as client:
        extra = await setup(client)
        for number in counter:
            await _submit(load, client, path, _form(extra, tag, number))


def _form(extra: dict[str, str], tag: str, number: int) -> dict[str, str]:
    return {
        **extra,
        "kind": "access",
        "name": f"벤치 {number}",
        "email": f"bench-{tag}-{number}@example.com",
        "details": "주문 내역과 배송지 정보를 보고 싶습니다.",
        "scope": "all",
    }


async def _submit(load: Load, client, path: str, data: dict[str, str]) -> None:
    """Post one submission; its latency and status, and its address if it was accepted."""
    import httpx

    started = time.perf_counter()
    try:
        response = await client.post(path, data=data)
    except httpx.HTTPError as error:
        load.errors[type(error).__name__] += 1
        return
    load.latencies.append(time.perf_counter() - started)
    load.statuses[response.status_code] += 1
    location = response.headers.get("location", "")
    if response.status_code == 302 and location.endswith("sent"):
        load.accepted.add(data["email"])


def _rounds(total: int, rounds: int) -> list[range]:
    """``total`` submission numbers in ``rounds`` consecutive ranges of (nearly) equal size."""
    rounds = max(1, min(rounds, total))
    edges = [total * n // rounds for n in range(rounds + 1)]
    return [range(edges[n], edges[n + 1]) for n in range(rounds)]


async def _form_token(client) -> dict[str, str]:
    page = await client.get("/requests/new")
    found = CSRF.search(page.text)
    if page.status_code != 200 or not found:
        raise BenchError(f"the form did not offer a CSRF token (status {page.status_code})")
    return {"csrf_token": found.group(1)}


async def _nothing(client) -> dict[str, str]:
    return {}


# --- checking what was stored -------------------------------------------------------------------


def _stored_requests(url, load: Load) -> tuple[int, int]:
    """(accepted submissions found as requests, verification mails queued for them)."""
    with psycopg.connect(conninfo(url)) as conn:
        emails = {
            row[0]
            for row in conn.execute(
                "SELECT s.email FROM requests r JOIN subjects s ON s.id = r.subject_id"
                " WHERE s.email LIKE 'bench-%%'"
            )
        }
        mails = conn.execute(
            "SELECT count(*) FROM outbox WHERE recipient LIKE 'bench-%%'"
        ).fetchone()[0]
    return len(load.accepted & emails), mails


def _stored_minimal(url, load: Load) -> int:
    with psycopg.connect(conninfo(url)) as conn:
        emails = {row[0] for row in conn.execute(f"SELECT email FROM {MINIMAL_TABLE}")}
    return len(load.accepted & emails)


# --- report ---------------------------------------------------------------------------------------


def _line(load: Load) -> str:
    p50 = percentile(load.latencies, 50) * 1000 if load.latencies else float("nan")
    p99 = percentile(load.latencies, 99) * 1000 if load.latencies else float("nan")
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(load.statuses.items()))
    errors = ", ".join(f"{name}: {n}" for name, n in sorted(load.errors.items())) or "none"
    return (
        f"{load.name:<12} {load.done:>6} answered in {load.seconds:6.1f} s  "
        f"{load.throughput:7.1f}/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms\n"
        f"{'':<12} statuses {statuses}; connection errors {errors}; "
        f"accepted {len(load.accepted)}, stored {load.stored}, lost {load.lost}, "
        f"5xx {load.server_errors}"
    )


# --- the command ----------------------------------------------------------------------------------


@_bench_group.command("intake")
@click.option(
    "--url",
    required=True,
    help="A scratch PostgreSQL database (migrated by the bench; drop it afterwards).",
)
@click.option(
    "--requests",
    "total",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Form submissions to send (and as many to the minimal endpoint).",
)
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Virtual users submitting at once.",
)
@click.option(
    "--workers",
    default=2 * (os.cpu_count() or 1) + 1,
    show_default="2 x CPUs + 1, gunicorn's own starting point",
    type=click.IntRange(min=1),
    help="gunicorn workers, for rightsdesk and the minimal endpoint alike.",
)
@click.option("--worker-class", default="sync", show_default=True, help="gunicorn worker class.")
@click.option(
    "--submit-limit",
    default="1000000 per hour",
    show_default=True,
    help="RIGHTSDESK_SUBMIT_LIMIT for the bench's own server (all load comes from one address).",
)
@click.option(
    "--rounds",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="The load is sent in this many rounds, alternating between rightsdesk and the minimal "
    "endpoint (which goes first changes each round), so a change in the machine's own load "
    "during the bench falls on both alike.",
)
@click.option(
    "--filing",
    type=click.Choice(["after", "during"]),
    default="after",
    show_default=True,
    help="When the rightsdesk worker files the submissions as requests: after the burst (as "
    "when the worker has its own CPU, on another machine or core), or during it, competing "
    "with the web server, the load and PostgreSQL for this machine's CPU.",
)
def intake_command(
    url: str,
    total: int,
    concurrency: int,
    workers: int,
    worker_class: str,
    submit_limit: str,
    rounds: int,
    filing: str,
) -> None:
    """Submit the public form under load through gunicorn; compare with a one-INSERT endpoint."""
    target = _scratch_database(url)
    plan = Plan(total, concurrency, rounds, workers, worker_class, filing, secrets.token_hex(3))
    click.echo(plan.header(target))
    env = _server_env(target, submit_limit)
    ours, floor = Load("rightsdesk"), Load("one INSERT")
    try:
        times = _serve_and_load(target, plan, ours, floor, env=env)
        ours.stored, mails = _stored_requests(target, ours)
        floor.stored = _stored_minimal(target, floor)
    finally:
        _drop_minimal(target)
    ratio = _echo_results(ours, floor, times, mails=mails, filing=filing)
    _verdict(_problems(ours, mails=mails, total=total, ratio=ratio))


@dataclass(frozen=True)
class Plan:
    """The load (how many submissions, how many at once, in how many rounds), how it is served
    and filed, and the tag that makes this run's e-mail addresses its own."""

    total: int
    concurrency: int
    rounds: int
    workers: int
    worker_class: str
    filing: str
    tag: str

    def header(self, target) -> str:
        return (
            f"{self.total:,} submissions, {self.concurrency} at once, gunicorn {self.workers} "
            f"{self.worker_class} worker(s), PostgreSQL at {server(target)}/{target.database}; "
            f"the rightsdesk worker files {self.filing} the burst"
        )


@dataclass(frozen=True)
class Times:
    """When the last answer came, when the filing worker started and when it was done
    (monotonic seconds)."""

    answered: float
    worker_started: float
    filed: float


def _scratch_database(url: str):
    """The scratch database named by ``--url``, migrated, with the floor's table."""
    target = admin_url(url)
    if not target.database:
        raise BenchError("--url must name a database, e.g. postgresql://postgres@127.0.0.1/x")
    _prepare(target)
    return target


def _server_env(target, submit_limit: str) -> dict[str, str]:
    """The environment of the bench's servers and worker; clears what would point elsewhere."""
    rendered = target.render_as_string(hide_password=False)
    env = {
        "RIGHTSDESK_DATABASE_URL": rendered,
        "RIGHTSDESK_SECRET_KEY": secrets.token_hex(16),
        "RIGHTSDESK_SUBMIT_LIMIT": submit_limit,
        "RIGHTSDESK_BENCH_MINIMAL_URL": rendered,
    }
    env_clear = ("MAIL_SERVER", "RIGHTSDESK_DEMO", "RIGHTSDESK_SQLALCHEMY_DATABASE_URI")
    for name in env_clear:
        os.environ.pop(name, None)
    return env


def _serve_and_load(target, plan: Plan, ours: Load, floor: Load, *, env: dict[str, str]) -> Times:
    """Both servers up, the load in rounds, then the worker files everything."""
    served = dict(workers=plan.workers, worker_class=plan.worker_class, env=env)
    with ExitStack() as stack:
        ours_base = stack.enter_context(gunicorn("rightsdesk:create_app()", **served))
        floor_base = stack.enter_context(
            gunicorn("rightsdesk.bench.intake:minimal_app()", **served)
        )
        worker = stack.enter_context(intake_worker(env)) if plan.filing == "during" else None
        started = time.monotonic()
        _send_rounds(plan, (ours, ours_base), (floor, floor_base))
        answered = time.monotonic()
        worker_started = started
        if worker is None:
            stack.close()  # the web servers are done; now the worker has the machine
            worker_started = time.monotonic()
            worker = stack.enter_context(intake_worker(env))
        filed = _wait_filed(target, worker)
    return Times(answered=answered, worker_started=worker_started, filed=filed)


def _send_rounds(plan: Plan, ours: tuple[Load, str], floor: tuple[Load, str]) -> None:
    """The load in rounds, alternating which of the two servers goes first."""
    turns = [(*ours, "/requests/new", _form_token), (*floor, "/submit", _nothing)]
    for number, numbers in enumerate(_rounds(plan.total, plan.rounds)):
        for load, base, path, setup in turns if number % 2 == 0 else turns[::-1]:
            asyncio.run(
                _drive(
                    load,
                    base,
                    path,
                    numbers=numbers,
                    concurrency=plan.concurrency,
                    setup=setup,
                    tag=plan.tag,
                )
            )


def _echo_results(ours: Load, floor: Load, times: Times, *, mails: int, filing: str) -> float:
    """Both loads, how the worker filed, and the ratio of the throughputs (returned)."""
    click.echo(_line(ours))
    click.echo(
        f"{'':<12} filed as requests by one worker {filing} the burst: all "
        f"{times.filed - times.answered:.1f} s after the last answer, "
        f"{len(ours.accepted) / (times.filed - times.worker_started):.1f}/s "
        f"(requests with their verification mail); mails queued: {mails}"
    )
    click.echo(_line(floor))
    ratio = ours.throughput / floor.throughput if floor.throughput else 0.0
    click.echo(f"ratio: rightsdesk / one INSERT = {ratio:.2f} (target >= 0.50)")
    return ratio


def _problems(ours: Load, *, mails: int, total: int, ratio: float) -> list[str]:
    problems = []
    if ours.lost or ours.server_errors or ours.errors:
        problems.append("rightsdesk lost submissions, answered 5xx or dropped connections")
    if mails < ours.stored:
        problems.append(f"only {mails} of {ours.stored} requests have their verification mail")
    if len(ours.accepted) != total:
        problems.append(f"only {len(ours.accepted)} of {total} submissions were accepted")
    if ratio < 0.5:
        problems.append("below half the minimal endpoint's throughput")
    return problems


def _verdict(problems: list[str]) -> None:
    click.echo("verdict: " + ("; ".join(problems) if problems else "meets the target"))
    if problems:
        sys.exit(1)


def _prepare(url) -> None:
    """Migrate the scratch database, refuse one with requests in it, create the floor's table."""
    _migrate(url)
    try:
        with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5) as conn:
            existing = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
            if existing:
                raise BenchError(
                    f"{url.database} holds {existing} request(s): give the bench a scratch database"
                )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MINIMAL_TABLE} (id bigserial PRIMARY KEY,"
                " kind text NOT NULL, name text NOT NULL, email text NOT NULL, details text,"
                " received_at timestamptz NOT NULL)"
            )
    except psycopg.OperationalError as error:
        raise BenchError(f"cannot reach PostgreSQL at {server(url)}: {error}") from None


def _migrate(url) -> None:
    import flask_migrate

    with app_context(bench_app(url)):
        flask_migrate.upgrade()


def _drop_minimal(url) -> None:
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {MINIMAL_TABLE}")
