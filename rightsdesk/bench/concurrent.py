"""``rightsdesk bench fulfilment --concurrency N``: N worker processes over distinct subjects.

Each phase (rightsdesk's access, the equal-work floor's access, rightsdesk's erasure, the
floor's erasure) starts N fresh processes (spawned, so each is a worker's size, not a copy of
the bench), lets each set itself up, then starts them together and times until the last one
ends: throughput is the subjects done per second of that wall time. rightsdesk erases in the
shop, the floor in its identical twin, each subject once.

The phases run in rounds (``--rounds``, 3 by default), each round on subjects of its own, the
floor's phase right beside rightsdesk's and first in every other round: a round's ratio is
taken between two phases a few seconds apart, whichever ran first, and the figures printed are
the medians of the rounds (on a shared machine one round's ratio differs from the next by
several hundredths, at times by a tenth). Afterwards the bench checks that nothing was erased twice
(one attempt and one audit event per request, every step done) and nothing was missed (no
subject is left in either database).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

PER_WORKER = 101  # subjects per worker: the first is its warm-up, not timed (100 timed: the
# floor does them in about a second, long enough for a steady figure on a shared machine)
TARGET_ACCESS_PER_S = 150.0
TARGET_ERASURE_PER_S = 60.0
TARGET_FLOOR_SHARE = 0.5
TARGET_RSS_MIB = 150.0
ROUNDS = 3  # the default of --rounds
KINDS = ("access", "erasure")


@dataclass(frozen=True)
class Setup:
    """What a worker needs to rebuild the bench's app in its own process."""

    own: str
    workdir: str
    datamap: str
    shop: str
    twin: str | None
    env: str  # the shop's URL variable of the data map


def _app(setup: Setup):
    from rightsdesk.bench.subjects import make_bench_app

    os.environ[setup.env] = setup.shop
    return make_bench_app(setup.own, Path(setup.workdir), Path(setup.datamap))


def _worker(setup: Setup, phase: str, subjects: list, barrier, results) -> None:
    """One worker: set up, wait for the others, do ``phase`` for each subject; report the
    end time, how many were done, and the process's peak RSS."""
    app = _app(setup)
    errors: list[str] = []
    with app.app_context():
        do = _phase(setup, phase)
        _each(do, subjects[:1], errors)  # warm-up, as a long-running worker is: not timed
        barrier.wait()
        cpu = time.process_time()
        _each(do, subjects[1:], errors)
        ended = time.time()
        cpu = time.process_time() - cpu
    results.put((ended, len(subjects) - 1 - len(errors), peak_rss_mib(), errors[:3], cpu))


def _each(do, subjects: list, errors: list[str]) -> None:
    for subject in subjects:
        try:
            do(subject)
        except Exception as error:  # reported, and the run fails: nothing is hidden
            errors.append(f"{subject.email}: {error}")
            from rightsdesk.extensions import db

            db.session.rollback()  # the worker's session goes on with the next subject


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh with the process's own
    memory (``ru_maxrss`` would carry the parent's peak over fork and exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else 0.0


def _phase(setup: Setup, phase: str):
    from rightsdesk.bench import equal_work
    from rightsdesk.bench.subjects import Floor, ours_access_service, ours_erasure
    from rightsdesk.fulfilment.erasure import local_today, schedule

    # rightsdesk's workers go through their subjects in one session, as the worker goes through
    # its queue in one app context (the request of each is loaded: its service needs it).
    if phase == "access":
        return lambda s: ours_access_service(s, keep_session=True)
    if phase == "erasure":
        return lambda s: ours_erasure(s, keep_session=True)
    shop = Floor(setup.twin or setup.shop if phase == "floor-erasure" else setup.shop)
    own = Floor(setup.own)
    keys = equal_work.Keys(Path(setup.workdir) / f"floor-packages-{os.getpid()}")
    if phase == "floor-access":
        return lambda s: equal_work.access(shop, own, keys, s.email, s.access_ref)
    rules, today = schedule(), local_today(datetime.now(UTC))
    commit = setup.twin is not None
    return lambda s: equal_work.erasure(
        shop, own, keys, s.email, s.deletion_ref, rules, today, commit=commit
    )


def run_phase(setup: Setup, phase: str, subjects: list, workers: int) -> dict[str, Any]:
    """``phase`` by ``workers`` processes over distinct subjects: throughput and peak RSS."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    shares = [subjects[i::workers] for i in range(workers)]
    processes = [
        context.Process(target=_worker, args=(setup, phase, share, barrier, results))
        for share in shares
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.time()
    reports = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join()
    errors = [e for report in reports for e in report[3]]
    if errors:
        raise click.ClickException(f"{phase} under concurrency failed: {'; '.join(errors)}")
    wall = max(report[0] for report in reports) - started
    done = sum(report[1] for report in reports)
    if done != len(subjects) - workers:
        raise click.ClickException(f"{phase}: {done} of {len(subjects) - workers} done")
    return {
        "done": done,
        "seconds": round(wall, 3),
        "per_second": round(done / wall, 1) if wall > 0 else None,
        "max_rss_mib": round(max(report[2] for report in reports), 1),
        # The workers' own CPU time (not the database's) per subject.
        "cpu_ms_per_subject": round(sum(report[4] for report in reports) / done * 1000, 2)
        if done
        else None,
    }


def check_erasures(subjects: list, setup: Setup) -> dict[str, int]:
    """Nothing erased twice, nothing missed: per deletion request every step done in one
    attempt and one audit event; no subject left in the shop or the floor's twin."""
    from sqlalchemy import bindparam, func, select, text

    from rightsdesk.bench.subjects import shop_engine
    from rightsdesk.extensions import db
    from rightsdesk.models import AuditEvent, ErasureStep, Request

    refs = [s.deletion_ref for s in subjects]
    steps = db.session.execute(
        select(ErasureStep.state, ErasureStep.attempts)
        .join(Request, Request.id == ErasureStep.request_id)
        .where(Request.reference.in_(refs))
    ).all()
    events = db.session.execute(
        select(AuditEvent.request_ref, func.count())
        .where(AuditEvent.action == "fulfilment.erasure", AuditEvent.request_ref.in_(refs))
        .group_by(AuditEvent.request_ref)
    ).all()
    problems = {
        "steps_not_done": sum(1 for state, _ in steps if state != "done"),
        "steps_tried_twice": sum(1 for _, attempts in steps if attempts != 1),
        "requests_without_one_event": len(refs) - sum(1 for _, n in events if n == 1),
    }
    emails = [s.email for s in subjects]
    for name, url in (("left_in_shop", setup.shop), ("left_in_twin", setup.twin)):
        if url is None:
            continue
        engine = shop_engine(url)
        try:
            with engine.connect() as connection:
                query = text("SELECT count(*) FROM users WHERE email IN :e").bindparams(
                    bindparam("e", expanding=True)
                )
                problems[name] = connection.execute(query, {"e": emails}).scalar()
        finally:
            engine.dispose()
    return problems


def warm(setup: Setup, subjects: list) -> None:
    """Every subject's rows read once, untimed, in the shop and in the twin: whichever phase
    runs first would otherwise pay the database's cache misses for the phases after it."""
    from rightsdesk.bench.subjects import Floor

    for url in (setup.shop, setup.twin):
        if url is None:
            continue
        floor = Floor(url)
        try:
            for subject in subjects:
                floor.select_subject(subject.email)
        finally:
            floor.close()


def measure(setup: Setup, subjects: list, workers: int, rounds: int, say) -> dict[str, Any]:
    """The rounds of the four phases, their medians and the check; the figures against the
    issue's targets."""
    result: dict[str, Any] = {"workers": workers, "subjects": len(subjects), "rounds": []}
    warm(setup, subjects)
    size = len(subjects) // rounds
    for number in range(rounds):
        group = subjects[number * size : (number + 1) * size]
        result["rounds"].append(_round(setup, group, workers, number, rounds, say))
    for kind in KINDS:
        if kind in result["rounds"][0]:
            result |= _medians(kind, result["rounds"])
    if "erasure" in result:
        result["check"] = check_erasures(subjects, setup)
    result["targets"] = targets(result)
    return result


def _round(
    setup: Setup, subjects: list, workers: int, number: int, rounds: int, say
) -> dict[str, Any]:
    """One round: rightsdesk's phase and the floor's beside it, per kind; the floor's first in
    every other round."""
    figures: dict[str, Any] = {}
    for kind in KINDS:
        if kind == "erasure" and setup.twin is None:
            continue
        pair = (kind, f"floor-{kind}")
        for phase in reversed(pair) if number % 2 else pair:
            say(f"{workers} workers, round {number + 1} of {rounds}: {phase} of "
                f"{len(subjects)} subjects …")
            figures[phase] = run_phase(setup, phase, subjects, workers)
        figures[f"{kind}-ratio"] = _share(figures[kind], figures[f"floor-{kind}"])
    return figures


def _share(ours: dict[str, Any], floor: dict[str, Any]) -> float:
    """rightsdesk's throughput as a share of the floor's."""
    return round((ours["per_second"] or 0) / floor["per_second"], 3) if floor["per_second"] else 0.0


def _medians(kind: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase of ``kind``: the subjects done in all rounds, the median throughput and CPU,
    the largest RSS; and the median of the rounds' ratios."""
    summary: dict[str, Any] = {}
    for phase in (kind, f"floor-{kind}"):
        runs = [r[phase] for r in rounds]
        summary[phase] = {
            "done": sum(run["done"] for run in runs),
            "per_second": statistics.median(run["per_second"] or 0 for run in runs),
            "max_rss_mib": max(run["max_rss_mib"] for run in runs),
            "cpu_ms_per_subject": statistics.median(
                run["cpu_ms_per_subject"] or 0 for run in runs
            ),
        }
    summary[f"{kind}-ratio"] = statistics.median(r[f"{kind}-ratio"] for r in rounds)
    return summary


def targets(result: dict[str, Any]) -> dict[str, bool]:
    checked = {}
    pairs = [("access", TARGET_ACCESS_PER_S), ("erasure", TARGET_ERASURE_PER_S)]
    for phase, target in pairs:
        if phase not in result:
            continue
        name = f"{result['workers']} workers: {phase}"
        checked[f"{name} >= {target:g}/s"] = result[phase]["per_second"] >= target
        checked[f"{name} >= {TARGET_FLOOR_SHARE:g}x the equal-work floor's"] = (
            result[f"{phase}-ratio"] >= TARGET_FLOOR_SHARE
        )
        checked[f"{name}: worker RSS < {TARGET_RSS_MIB:g} MiB"] = (
            result[phase]["max_rss_mib"] < TARGET_RSS_MIB
        )
    if "check" in result:
        checked["nothing erased twice, nothing missed"] = not any(result["check"].values())
    return checked


def echo(result: dict[str, Any]) -> None:
    rounds = result["rounds"]
    click.echo(
        f"\nconcurrency: {result['workers']} worker processes, {result['subjects']} distinct "
        "subjects (rightsdesk in the shop, the equal-work floor in its twin), "
        f"medians of {len(rounds)} rounds"
    )
    for phase in KINDS:
        if phase not in result:
            continue
        ours, floor = result[phase], result[f"floor-{phase}"]
        each = " ".join(f"{r[f'{phase}-ratio']:.2f}" for r in rounds)
        click.echo(
            f"{phase:<10} rightsdesk {ours['per_second']:>8.1f}/s ({ours['done']} in "
            f"{len(rounds)} rounds, worker RSS max {ours['max_rss_mib']:.0f} MiB, "
            f"{ours['cpu_ms_per_subject']:.1f} ms CPU each)   equal-work floor "
            f"{floor['per_second']:>8.1f}/s ({floor['cpu_ms_per_subject']:.1f} ms CPU each)   "
            f"ratio {result[f'{phase}-ratio']:.2f} (rounds: {each})"
        )
    if "check" in result:
        click.echo(
            "erasure check: " + ", ".join(f"{k} {v}" for k, v in result["check"].items())
        )
