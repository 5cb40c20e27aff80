"""Health, metrics, heartbeats, lease renewal and hand-back, the console's deploy check, and
the deployment guide's commands and unit files."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from rightsdesk.cli import main
from rightsdesk.core import heartbeat, jobqueue
from rightsdesk.delivery import outbox
from rightsdesk.extensions import db
from rightsdesk.models import OutboxMessage, OutboxState, StaffRole, WorkerHeartbeat
from tests.helpers import (
    PASSWORD,
    app_closed_after_test,
    free_port,
    make_request,
    make_staff,
    organisation,
    sign_in,
)

_made = app_closed_after_test


ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def watched(database_url, tmp_path):
    return _made(
        database_url,
        METRICS_TOKEN="scrape-token",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        BASE_URL="http://rightsdesk.test",
    )


def _mail(app, count: int) -> None:
    with app.app_context():
        for n in range(count):
            make_request(email=f"h{n}@example.com", received=NOW, verified=False, mail=True)


def test_healthz_reports_the_worker_and_the_backlogs_without_personal_data(watched):
    _mail(watched, 2)
    client = watched.test_client()
    before = client.get("/healthz").get_json()
    assert before["status"] == "degraded" and before["worker"]["last_seen_seconds_ago"] is None
    assert client.get("/healthz?strict=1").status_code == 503
    assert before["backlog"]["outbox"]["waiting"] == 2
    assert "h0@example.com" not in client.get("/healthz").get_data(as_text=True)

    with watched.app_context():
        heartbeat.beat("host:1", now=datetime.now(UTC), started_at=datetime.now(UTC))
    after = client.get("/healthz?strict=1")
    assert after.status_code == 200 and after.get_json()["worker"]["ok"] is True
    assert after.get_json()["status"] == "ok"
    with watched.app_context():  # a worker stopped on purpose is not running
        heartbeat.stopped("host:1", now=datetime.now(UTC))
    assert client.get("/healthz?strict=1").status_code == 503


def test_metrics_need_the_token_compared_exactly(watched):
    client = watched.test_client()
    assert client.get("/metrics").status_code == 401
    tries = (("Bearer scrape-toke", 401), ("scrape-token", 401), ("Bearer scrape-token", 200))
    for given, status in tries:
        assert client.get("/metrics", headers={"Authorization": given}).status_code == status


def test_metrics_do_not_exist_unless_configured_and_may_be_opened_to_addresses(database_url):
    assert _made(database_url).test_client().get("/metrics").status_code == 404
    local = _made(database_url, METRICS_ALLOW_FROM="127.0.0.0/8")
    assert local.test_client().get("/metrics").status_code == 200  # the test client is 127.0.0.1
    other = _made(database_url, METRICS_ALLOW_FROM="10.0.0.0/8")
    assert other.test_client().get("/metrics").status_code == 403


def test_metrics_count_open_requests_by_due_bucket_and_the_backlogs(watched):
    today = datetime.now(UTC)
    with watched.app_context():
        make_request(received=today - timedelta(days=40))  # long overdue
        make_request(received=today)  # due in about ten days
        make_request(
            email="m@example.com", received=today - timedelta(hours=1), verified=False, mail=True
        )
    text = watched.test_client().get(
        "/metrics", headers={"Authorization": "Bearer scrape-token"}
    ).get_data(as_text=True)
    assert 'rightsdesk_open_requests{due="overdue",kind="access"} 1.0' in text
    assert "rightsdesk_overdue_requests 1.0" in text
    assert 'rightsdesk_queue_backlog{queue="outbox"} 1.0' in text
    assert re.search(r'rightsdesk_queue_oldest_age_seconds\{queue="outbox"\} 3[56]\d\d', text)
    assert "rightsdesk_worker_heartbeat_age_seconds -1.0" in text
    assert "rightsdesk_workers_running 0.0" in text
    assert "m@example.com" not in text


def test_a_worker_round_writes_its_heartbeat(watched):
    result = watched.test_cli_runner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    with watched.app_context():
        beat = db.session.scalars(select(WorkerHeartbeat)).one()
        assert abs(beat.clock_skew) < 5 and beat.stopped_at is None
        assert heartbeat.age(datetime.now(UTC)) < 60


def _held(app) -> list[tuple[OutboxState, str | None]]:
    with app.app_context():
        return [(m.state, m.claimed_by) for m in db.session.scalars(select(OutboxMessage))]


def test_asked_to_stop_the_rest_of_a_batch_is_handed_back_at_once(watched):
    _mail(watched, 4)
    with watched.app_context():
        ids = outbox.claim(now=NOW, worker="w1", batch=10)
        stop = iter([False, True])
        worked = list(
            jobqueue.worked(
                outbox.MAIL, ids, length=timedelta(seconds=60), worker="w1",
                stop=lambda: next(stop, True), clock=lambda: NOW,
            )
        )
        assert worked == ids[:1]
    states = _held(watched)
    assert states[0][0] is OutboxState.SENDING  # the one in hand (its sender settles it)
    assert states[1:] == [(OutboxState.QUEUED, None)] * 3
    with watched.app_context():  # due again at once for another worker
        assert outbox.claim(now=NOW, worker="w2", batch=10) == ids[1:]


def test_the_lease_is_renewed_as_a_long_batch_goes_on(watched):
    _mail(watched, 3)
    lease = timedelta(seconds=60)
    with watched.app_context():
        ids = outbox.claim(now=NOW, worker="w1", batch=10, lease=lease)
        times = iter([NOW, NOW + timedelta(seconds=40), NOW + timedelta(seconds=40)])
        clock = lambda: next(times, NOW + timedelta(seconds=80))  # noqa: E731
        for row_id in jobqueue.worked(
            outbox.MAIL, ids, length=lease, worker="w1", stop=lambda: False, clock=clock
        ):
            if row_id == ids[1]:
                # 40 s in, renewed: at 90 s the rows not yet worked on are still w1's.
                later = NOW + timedelta(seconds=90)
                assert outbox.claim(now=later, worker="w2", batch=10, lease=lease) == []
            db.session.commit()


def test_the_console_settings_page_lists_the_deploy_check_for_admins(database_url, tmp_path):
    app = _made(database_url, UPLOAD_DIR=str(tmp_path / "uploads"))
    organisation(app)
    page = sign_in(app, StaffRole.ADMIN).get("/admin/settings?lang=en").get_data(as_text=True)
    assert "Deployment check" in page
    assert "The database is SQLite" in page or "PostgreSQL" not in page
    assert "No worker is running (none seen in the last 60 minutes)" in page
    assert "test-secret" not in page  # make_app's secret key
    handler = sign_in(app, StaffRole.HANDLER)
    assert handler.get("/admin/settings").status_code in (302, 403)


# --- the deployment guide ----------------------------------------------------------------------


def _command_exists(words: list[str]) -> bool:
    """``rightsdesk a b …`` (up to the first option) answers ``--help``."""
    path = words[: next((i for i, w in enumerate(words) if w.startswith("-")), None)]
    result = CliRunner().invoke(main, [*path, "--help"])
    return result.exit_code == 0 and "No such command" not in result.output


def _guide() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Deploying rightsdesk", 1)[1].split("\n## ", 1)[0]


def _named_commands(text: str) -> list[list[str]]:
    """The words after ``rightsdesk`` or ``rd`` in inline code and at the start of code lines."""
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"^(?:rd|rightsdesk) .*$", text, re.M)
    named = []
    for span in spans:
        words = span.replace("&&", " ").split()
        if words and words[0] in ("rightsdesk", "rd") and len(words) > 1:
            named.append([w for w in words[1:] if re.fullmatch(r"[a-z][a-z-]*", w)][:2])
    return named


def test_every_rightsdesk_command_the_guide_names_exists():
    named = _named_commands(_guide())
    assert len(named) >= 12 and ["keys", "rotate"] in named and ["check"] in [n[:1] for n in named]
    for words in named:
        assert _command_exists(words), words


@pytest.mark.parametrize("unit", sorted(p.name for p in (ROOT / "deploy").glob("*.service")))
def test_each_unit_file_starts_a_real_command(unit):
    text = (ROOT / "deploy" / unit).read_text()
    commands = [shlex.split(line.split("=", 1)[1]) for line in text.splitlines()
                if line.startswith("ExecStart=")]
    assert commands
    for command in commands:
        program = Path(command[0]).name
        assert program in ("rightsdesk", "gunicorn")
        if program == "gunicorn":
            assert command[-1] == "wsgi:app" and (ROOT / "wsgi.py").exists()
        else:
            assert _command_exists(command[1:]), command
    assert "EnvironmentFile=/etc/rightsdesk/rightsdesk.env" in text
    assert unit in _guide()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")
def test_an_admin_sees_the_deploy_check_in_a_real_browser(database_url, tmp_path):
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    port = free_port()
    app = _made(database_url, UPLOAD_DIR=str(tmp_path / "uploads"), WTF_CSRF_SSL_STRICT=False)
    organisation(app)
    email = make_staff(app, StaffRole.ADMIN)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/admin/login")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.goto(f"http://127.0.0.1:{port}/admin/settings#deployment")
            rows = page.locator("#deployment ~ table tr").all_inner_texts()
            browser.close()
    finally:
        server.shutdown()
    assert any("심각" in row and "RIGHTSDESK_ENV=development" in row for row in rows), rows
    assert any("rightsdesk worker" in row for row in rows), rows
