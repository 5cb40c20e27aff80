"""The deployment guide, run: gunicorn and the worker as processes, the deploy check, health,
metrics, and workers that stop gracefully (SIGTERM) or die (kill -9) without delaying mail
more than a lease."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from rightsdesk.extensions import db
from rightsdesk.models import OutboxMessage, OutboxState, WorkerHeartbeat
from tests.helpers import (
    PG_URL,
    SmtpServer,
    app_closed_after_test,
    free_port,
    make_request,
)

_made = app_closed_after_test


ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "deploy-test-secret-not-to-be-printed"
MAIL_PASSWORD = "mail-password-not-to-be-printed"
TOKEN = "metrics-token-not-to-be-printed"


def _env(database_url: str, tmp_path: Path, smtp_port: int, port: int, **extra: str) -> dict:
    """A production configuration, as deploy/rightsdesk.env.example has it."""
    return {
        **os.environ,
        "RIGHTSDESK_ENV": "production",
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": SECRET,
        "RIGHTSDESK_PACKAGE_KEY": Fernet.generate_key().decode(),
        "RIGHTSDESK_RETAINED_KEY": Fernet.generate_key().decode(),
        "RIGHTSDESK_SUBJECT_HASH_KEY": "subject-hash-key-for-the-test",
        "RIGHTSDESK_AUDIT_KEY": "audit-key-for-the-test-" + "a" * 40,
        "RIGHTSDESK_BASE_URL": f"http://127.0.0.1:{port}",
        "RIGHTSDESK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "RIGHTSDESK_METRICS_TOKEN": TOKEN,
        "RIGHTSDESK_WORKER_LEASE_SECONDS": "60",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_TIMEOUT": "5",
        "MAIL_PASSWORD": MAIL_PASSWORD,
        "MAIL_DEFAULT_SENDER": "privacy@deploy.example",
        **extra,
    }


def _run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "rightsdesk"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _rd(env: dict, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``deploy/rd``: the command with the settings read from a systemd-style env file."""
    settings = tmp_path / "rightsdesk.env"
    settings.write_text(
        "".join(f"{k}={v}\n" for k, v in env.items() if k.startswith(("RIGHTSDESK_", "MAIL_")))
    )
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("RIGHTSDESK_", "MAIL_"))}
    bare |= {"RIGHTSDESK_ENV_FILE": str(settings), "RIGHTSDESK_BIN": str(BIN / "rightsdesk"),
             "RIGHTSDESK_NO_SETTINGS_FILE": "1"}
    return subprocess.run([str(ROOT / "deploy" / "rd"), *args], env=bare, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


@contextmanager
def _process(command: list[str], env: dict) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        process.stderr.close()


def _until(condition: Callable[[], object], seconds: float = 60, what: str = "") -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _file(base: str, email: str) -> None:
    """The public form, as a browser would send it (the session cookie is Secure in
    production, so it is sent by hand over this plain-HTTP loopback)."""
    page = httpx.get(f"{base}/requests/new?kind=access", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    cookie = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
    form = {"csrf_token": token, "kind": "access", "name": "김민지", "email": email,
            "details": "주문 내역을 보고 싶습니다.", "scope": "all"}
    answer = httpx.post(f"{base}/requests/new", data=form, headers={"Cookie": cookie}, timeout=10)
    assert answer.status_code in (200, 302, 303), answer.text[:300]


def _backlog(base: str, queue: str) -> float:
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return float(re.search(rf'rightsdesk_queue_backlog\{{queue="{queue}"\}} (\S+)', text).group(1))


def _set_up(env: dict) -> None:
    """The guide's steps before starting anything: migrate, the operator, the first admin."""
    assert _run(env, "db", "upgrade").returncode == 0
    org = _run(env, "org", "setup", "--slug", "deploy", "--name-ko", "배포 상점", "--name-en",
               "Deploy Shop", "--officer-name", "홍길동", "--officer-email", "dpo@deploy.example")
    assert org.returncode == 0, org.stderr
    admin = _run(env, "staff", "create", "--email", "admin@deploy.example", "--role", "admin",
                 "--password-stdin", stdin="a long admin password\n")
    assert admin.returncode == 0, admin.stderr


def test_gunicorn_and_the_worker_file_a_request_and_report_their_health(
    database_url, tmp_path, smtp, smtp_port
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(database_url, tmp_path, smtp_port, port)
    _set_up(env)
    web = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"]
    worker = [str(BIN / "rightsdesk"), "worker", "--interval", "0.5"]
    with _process(web, env), _process(worker, env) as working:
        _until(lambda: _answers(base), what="gunicorn answers /healthz")
        _file(base, "first@example.com")
        _until(lambda: len(smtp.messages) == 1, what="the verification mail")
        assert smtp.messages[0]["To"] == "first@example.com"
        health = _until(lambda: (h := httpx.get(f"{base}/healthz").json())["worker"]["ok"] and h)
        assert health["status"] == "ok" and health["backlog"]["intake"]["waiting"] == 0
        assert "first@example.com" not in str(health)

        working.send_signal(signal.SIGTERM)  # a graceful stop: systemctl stop
        assert working.wait(timeout=30) == 0
        assert "stopped" in working.stderr.read()
        for n in range(3):  # the worker is down: the backlog rises, as the metrics show
            _file(base, f"waiting{n}@example.com")
            assert _backlog(base, "intake") == n + 1
        assert len(smtp.messages) == 1
    with _process(worker, env):  # a worker back: the backlog drains
        _until(lambda: len(smtp.messages) == 4, what="the three waiting verification mails")
    app = _made(database_url)
    with app.app_context():
        beats = db.session.scalars(select(WorkerHeartbeat)).all()
    assert len(beats) == 2 and sum(b.stopped_at is not None for b in beats) >= 1


def test_the_deploy_check_is_green_on_a_production_host_and_names_each_problem_otherwise(
    database_url, tmp_path, smtp_port
):
    port = free_port()
    env = _env(database_url, tmp_path, smtp_port, port, RIGHTSDESK_BASE_URL="https://privacy.example",
               RIGHTSDESK_PROXY_HOPS="1")
    _set_up(env)
    assert _run(env, "worker", "--once").returncode == 0  # a worker was seen
    checked = _rd(env, tmp_path, "check", "--deploy", "--lang", "en")
    serious = [line for line in checked.stdout.splitlines() if line.startswith("SERIOUS")]
    if PG_URL:
        assert checked.returncode == 0 and serious == [], checked.stdout
        assert checked.stdout.splitlines()[-1].startswith("0 serious")
    else:
        assert checked.returncode == 1 and len(serious) == 1 and "SQLite" in serious[0]

    bad = {**env, "RIGHTSDESK_ENV": "development", "RIGHTSDESK_BASE_URL": "http://shop.example",
           "MAIL_SERVER": "", "RIGHTSDESK_RETAINED_KEY": ""}
    checked = _run(bad, "check", "--deploy", "--lang", "en", "--worker-minutes", "1")
    assert checked.returncode == 1
    out = checked.stdout
    for named in ("RIGHTSDESK_ENV=development", "http://shop.example is not HTTPS",
                  "No mail server", "RIGHTSDESK_RETAINED_KEY is not set"):
        assert named in out, out
    assert all(" → " in line for line in out.splitlines()[:-1])  # each with its fix
    for secret in (SECRET, MAIL_PASSWORD, TOKEN, env["RIGHTSDESK_PACKAGE_KEY"]):
        assert secret not in out + checked.stderr


def test_production_without_keys_refuses_to_start_gunicorn(database_url, tmp_path, smtp_port):
    port = free_port()
    env = _env(database_url, tmp_path, smtp_port, port, RIGHTSDESK_RETAINED_KEY="")
    web = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with _process(web, env) as serving:
        assert serving.wait(timeout=60) != 0
        assert "RIGHTSDESK_RETAINED_KEY must be set when RIGHTSDESK_ENV=production" in (
            serving.stderr.read()
        )


class SlowSmtp(SmtpServer):
    """Takes 0.3 s per message, so a worker is caught in the middle of its batch."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)


def _queue_mail(database_url: str, count: int) -> None:
    app = _made(database_url)
    with app.app_context():
        for n in range(count):
            make_request(email=f"m{n}@example.com", received=datetime.now(UTC), verified=False,
                         mail=True)


def _mail_states(database_url: str) -> list[tuple[OutboxState, str | None]]:
    app = _made(database_url)
    with app.app_context():
        return [(m.state, m.claimed_by) for m in db.session.scalars(select(OutboxMessage))]


@pytest.fixture
def slow_smtp(smtp_port) -> Iterator[SlowSmtp]:
    server = SlowSmtp(smtp_port)
    server.start()
    yield server
    server.stop()


def test_sigterm_finishes_the_mail_in_hand_and_hands_the_rest_back(
    database_url, tmp_path, slow_smtp, smtp_port
):
    _queue_mail(database_url, 12)
    env = _env(database_url, tmp_path, smtp_port, free_port())
    with _process([str(BIN / "rightsdesk"), "worker"], env) as working:
        _until(lambda: len(slow_smtp.messages) >= 1, what="a first mail")
        working.send_signal(signal.SIGTERM)
        assert working.wait(timeout=20) == 0
    states = _mail_states(database_url)
    sent = sum(state is OutboxState.SENT for state, _ in states)
    assert 1 <= sent < 12 and sent == len(slow_smtp.messages)  # nothing sent twice or lost
    assert {s for s, _ in states} == {OutboxState.SENT, OutboxState.QUEUED}  # none held
    assert all(holder is None for state, holder in states if state is OutboxState.QUEUED)


def test_a_worker_killed_with_sigkill_delays_its_mail_at_most_the_lease(
    database_url, tmp_path, slow_smtp, smtp_port
):
    _queue_mail(database_url, 12)
    env = _env(database_url, tmp_path, smtp_port, free_port(), RIGHTSDESK_WORKER_LEASE_SECONDS="6")
    worker = [str(BIN / "rightsdesk"), "worker", "--interval", "0.5"]
    with _process(worker, env) as first:
        _until(lambda: len(slow_smtp.messages) >= 1, what="a first mail")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    killed_at = time.monotonic()
    held = sum(state is OutboxState.SENDING for state, _ in _mail_states(database_url))
    assert held > 0  # the dead worker's claims
    with _process(worker, env):
        _until(lambda: len({m["To"] for m in slow_smtp.messages}) == 12, what="all twelve")
        waited = time.monotonic() - killed_at
        # The server has the twelfth mail a moment before the worker records it as sent: wait
        # for the record rather than kill the worker between the two.
        _until(lambda: {s for s, _ in _mail_states(database_url)} == {OutboxState.SENT},
               seconds=20, what="all twelve recorded as sent")
    # The lease (6 s), then the rest at 0.3 s each, plus the worker's start: well under the
    # 10 minutes a dead worker's claims used to wait.
    assert waited < 6 + 12 * 0.3 + 20, waited
