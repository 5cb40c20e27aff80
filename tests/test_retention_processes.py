"""Retention runs as real processes: two runners started together destroy once, and a runner
killed with SIGKILL in the middle is finished by the next with exact totals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from rightsdesk.demo import shop as demo_shop
from rightsdesk.extensions import db
from rightsdesk.models import DestructionRecord, JobLock
from tests.helpers import DEMO_MAP, due_logs, make_app, shop_count

SCRIPT = str(Path(sys.executable).with_name("rightsdesk"))


@pytest.fixture
def big_shop(empty_shop_url) -> str:
    demo_shop.create_demo_shop(empty_shop_url, users=2500)
    return empty_shop_url


def environment(database_url: str, shop: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": "test-secret",
        "RIGHTSDESK_DATAMAP_FILE": str(DEMO_MAP),
        "RIGHTSDESK_SHOP_DATABASE_URL": shop,
        "RIGHTSDESK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "RIGHTSDESK_RETENTION_BATCH_SIZE": "50",
        "RIGHTSDESK_RETENTION_BATCH_PAUSE": "0.02",  # a run of a few seconds
    }


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [SCRIPT, "jobs", "run", "--only", "purge-operator"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def records(database_url: str) -> list[DestructionRecord]:
    app = make_app(database_url)
    with app.app_context():
        found = db.session.scalars(select(DestructionRecord).order_by(DestructionRecord.id)).all()
        db.session.expunge_all()
        db.session.remove()
        db.engine.dispose()
    return found


def test_two_runners_started_together_destroy_once(database_url, big_shop, tmp_path):
    env = environment(database_url, big_shop, tmp_path)
    due = due_logs(big_shop)
    logs = shop_count(big_shop, "SELECT count(*) FROM access_logs")
    assert due > 1000

    runners = [start(env), start(env)]
    outputs = [runner.communicate(timeout=180) for runner in runners]

    assert [runner.returncode for runner in runners] == [0, 0], outputs
    assert due_logs(big_shop) == 0
    assert shop_count(big_shop, "SELECT count(*) FROM access_logs") == logs - due
    found = records(database_url)
    places = [(r.system, r.table_name) for r in found]
    assert len(places) == len(set(places)), places  # one destruction per table
    assert {r.run_id for r in found} == {found[0].run_id}  # by one runner
    assert sum(r.count for r in found if r.table_name == "access_logs") == due
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("destroyed\tpurge-operator\tshop.access_logs") == 1


def test_a_runner_killed_mid_run_is_finished_by_the_next_with_exact_totals(
    database_url, big_shop, tmp_path
):
    env = environment(database_url, big_shop, tmp_path)
    due = due_logs(big_shop)
    runner = start(env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and due_logs(big_shop) > due - 300:
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=10)
    left = due_logs(big_shop)
    assert 0 < left < due, "the kill should come in the middle of the access logs"

    again = subprocess.run(
        [SCRIPT, "jobs", "run", "--only", "purge-operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "skipped\tpurge-operator" in again.stdout  # its lease still holds

    finished = _after_the_lease_ran_out(database_url, env)

    assert finished.returncode == 0, finished.stderr
    assert due_logs(big_shop) == 0
    logs = [r for r in records(database_url) if r.table_name == "access_logs"]
    assert sum(r.count for r in logs) == due  # nothing counted twice, nothing missed
    interrupted = [r for r in logs if "interrupted" in r.actor]
    assert len(interrupted) == 1 and interrupted[0].count == due - left
    assert len({r.run_id for r in logs}) == 2
    app = make_app(database_url)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobLock)) == 0
        db.session.remove()
        db.engine.dispose()


def _after_the_lease_ran_out(database_url: str, env: dict) -> subprocess.CompletedProcess:
    """Let the killed runner's lease run out (instead of waiting), then run the purge again."""
    app = make_app(database_url)
    with app.app_context():
        db.session.execute(
            update(JobLock).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return subprocess.run(
        [SCRIPT, "jobs", "run", "--only", "purge-operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# A runner that dies at a chosen point of its fourth access-log batch: that batch's delete has
# run in the shop but not committed, and the journal either already holds it as in flight (with
# the third, committed, not yet added to ``done``) or still holds the third as in flight.
KILLED_AT = """
import os, sys
from rightsdesk.cli import main
from rightsdesk.extensions import db
from rightsdesk.models import PurgeProgress
from rightsdesk.retention import progress

where, at = sys.argv[1], int(sys.argv[2])
real, calls = progress.step, 0

def step(progress_id, confirmed, span):
    global calls
    calls += db.session.get(PurgeProgress, progress_id).table_name == "access_logs"
    if where == "before" and calls == at:
        os._exit(9)
    real(progress_id, confirmed, span)
    if where == "after" and calls == at:
        os._exit(9)

progress.step = step
main(["jobs", "run", "--only", "purge-operator"])
"""


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_runner_killed_either_side_of_its_journal_write_is_credited_exactly(
    database_url, big_shop, tmp_path, where
):
    """Killed after a batch's delete ran, before its transaction committed: "after" its span
    was journalled the batch must not be credited (it rolled back, its rows are all there);
    "before", the batch before it committed while the journal still has it in flight, so it
    must be (none of its due rows is left). Each wrong guess is off by a batch of 50."""
    env = environment(database_url, big_shop, tmp_path) | {"RIGHTSDESK_RETENTION_BATCH_PAUSE": "0"}
    due = due_logs(big_shop)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT, where, "4"], env=env, capture_output=True, timeout=120
    )
    assert killed.returncode == 9, killed.stderr
    left = due_logs(big_shop)
    assert due - left == 3 * 50  # the fourth batch rolled back with the process

    finished = _after_the_lease_ran_out(database_url, env)
    assert finished.returncode == 0, finished.stderr
    assert due_logs(big_shop) == 0
    logs = [r for r in records(database_url) if r.table_name == "access_logs"]
    interrupted = [r.count for r in logs if "interrupted" in r.actor]
    assert interrupted == [3 * 50]
    assert sum(r.count for r in logs) == due
