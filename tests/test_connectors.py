"""Webhook systems of the data map get signed jobs; manual ones become checklist items.

The host app is a real HTTP server on loopback that checks the signature itself (its own HMAC,
not rightsdesk's helper) and can be told to fail, time out or answer junk, then recover.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import event, select

from rightsdesk.delivery import connectors
from rightsdesk.demo import shop as demo_shop
from rightsdesk.domain.datamap import check_structure, load_datamap
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import build_waiting_packages, prepare_access_package
from rightsdesk.fulfilment.suspension import stop_processing
from rightsdesk.models import AuditEvent, ChecklistItem, ConnectorJob, Request, StaffRole
from rightsdesk.requests.downloads import fetch
from rightsdesk.requests.lifecycle import change_status
from rightsdesk.systems.configured import FulfilmentError
from tests.helpers import DEMO_MAP, csrf, free_port, make_app, new_request, sign_in
from tests.helpers import DEMO_SUBJECT as SUBJECT

SECRET = "host-app-secret-for-tests"


# --- the host app -------------------------------------------------------------------------------


class HostApp:
    """A host application's endpoint: verifies each job, answers as ``mode`` says."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok, error, junk, timeout, slow
        self.received: list[dict] = []  # {"job": ..., "headers": ..., "verified": bool}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/rightsdesk"

    def jobs(self) -> list[dict]:
        with self.lock:
            return [r["job"] for r in self.received]

    def _handler(self):
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server hook
                body = self.rfile.read(int(self.headers["Content-Length"]))
                verified = _verify(self.headers.get("X-Rightsdesk-Signature", ""), body)
                job = json.loads(body)
                with host.lock:
                    host.received.append(
                        {"job": job, "headers": dict(self.headers), "verified": verified}
                    )
                if not verified:
                    return self._reply(401, b'{"error": "bad signature"}')
                host.answer(self, job)

            def _reply(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a time-out on purpose)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def answer(self, handler, job: dict) -> None:
        email = job["identities"]["email"]
        if self.mode == "error":
            return handler._reply(503, f"down for {email}".encode())
        if self.mode == "junk":
            return handler._reply(200, f"<html>{email}".encode())
        if self.mode in ("timeout", "slow"):
            time.sleep(1.6 if self.mode == "timeout" else 0.3)
        if job["action"] == "access":
            rows = [{"device": "Pixel 8", "token": f"tok-{job['job']}", "owner": email}]
            data = {"tables": {"push_tokens": rows, "app_settings": [{"night_push": False}]}}
        else:
            data = {"counts": {"deleted": 2, "anonymised": 0}}
        handler._reply(200, json.dumps(data).encode())


def _verify(header: str, body: bytes) -> bool:
    """The receiver's check, written out independently of rightsdesk's own code."""
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    if match is None or abs(time.time() - int(match.group(1))) > 300:
        return False
    signed = match.group(1).encode() + b"." + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(2))


@pytest.fixture
def host() -> Iterator[HostApp]:
    app = HostApp()
    thread = threading.Thread(target=app.server.serve_forever, daemon=True)
    thread.start()
    yield app
    app.server.shutdown()
    app.server.server_close()


@pytest.fixture
def map_file(tmp_path) -> Path:
    """The demo map with a one-second time-out for the app (the demo's is ten)."""
    text = DEMO_MAP.read_text(encoding="utf-8")
    assert "timeout = 10\n" in text
    path = tmp_path / "datamap.toml"
    path.write_text(text.replace("timeout = 10\n", "timeout = 1\n"), encoding="utf-8")
    return path


@pytest.fixture
def wired(database_url, smtp_port, tmp_path, map_file, host, monkeypatch):
    """rightsdesk with the demo shop and the demo map, its webhook system pointed at ``host``."""
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    demo_shop.create_demo_shop(shop, users=20)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", shop)
    monkeypatch.setenv("RIGHTSDESK_SHOP_WEBHOOK_URL", host.url)
    monkeypatch.setenv("RIGHTSDESK_SHOP_WEBHOOK_SECRET", SECRET)
    app = make_app(
        database_url,
        DATAMAP_FILE=str(map_file),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _request(app, kind=RequestKind.ACCESS, email=SUBJECT, scope=None) -> str:
    return new_request(app, kind=kind, email=email, name=None, days_ago=0, scope=scope)


def _load(reference: str) -> Request:
    return db.session.scalar(select(Request).where(Request.reference == reference))


def _job(reference: str, action: str = "access") -> ConnectorJob:
    db.session.expire_all()
    return db.session.scalar(
        select(ConnectorJob).where(
            ConnectorJob.request_id == _load(reference).id, ConnectorJob.action == action
        )
    )


def _events(action: str) -> list[dict]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
    return [json.loads(e.data) for e in rows]


def _start_access(reference: str) -> ConnectorJob:
    with pytest.raises(FulfilmentError, match="waiting for app"):
        prepare_access_package(_load(reference), actor="staff:t", now=datetime.now(UTC))
    db.session.rollback()  # what the console does with the error: the job stays
    return _job(reference)


# --- the job, signed, and its answer in the package ----------------------------------------------


def test_a_signed_job_is_sent_and_its_answer_joins_the_access_package(wired, host):
    reference = _request(wired)
    with wired.app_context():
        job = _start_access(reference)
        assert (job.state, job.attempts) == ("pending", 0)
        report = connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
        [received] = host.received
        assert received["verified"] is True
        assert received["job"] == {
            "job": job.id,
            "reference": reference,
            "action": "access",
            "identities": {"email": SUBJECT},
            "scope": None,
        }
        assert received["headers"]["X-Rightsdesk-Job-Id"] == str(job.id)
        job = _job(reference)
        assert (job.state, job.counts) == ("done", {"push_tokens": 1, "app_settings": 1})
        sealed, job_id = job.result_ciphertext, job.id  # encrypted at rest
        assert b"tok-" not in sealed and SUBJECT.encode() not in sealed
        found = _load(reference)
        download = prepare_access_package(found, actor="staff:t", now=datetime.now(UTC))
        _item, data = fetch(found, download.id, now=datetime.now(UTC))
        done = _events("connector.done")
        audited = [e.data for e in db.session.scalars(select(AuditEvent))]
        # Once the request is closed, the app's answer is no longer kept: the package is it.
        assert _job(reference).result_ciphertext is not None
        change_status(found, Status.COMPLETED, actor="staff:t", now=datetime.now(UTC))
        assert _job(reference).result_ciphertext is None
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert json.loads(archive.read("app/push_tokens.json")) == [
        {"device": "Pixel 8", "token": f"tok-{job_id}", "owner": SUBJECT}
    ]
    assert archive.read("app/push_tokens.csv").decode("utf-8-sig").startswith("device,token")
    assert json.loads(archive.read("shop/users.json"))[0]["email"] == SUBJECT
    summary = archive.read("summary.html").decode()
    assert "app.push_tokens" in summary and "app.app_settings" in summary
    assert "paper" in summary  # the manual system: checked separately
    assert done == [
        {
            "job": job_id,
            "system": "app",
            "action": "access",
            "worker": "w1",
            "attempt": 1,
            "counts": {"push_tokens": 1, "app_settings": 1},
        }
    ]
    assert not [data for data in audited if SUBJECT in data or "tok-" in data]


def test_staff_press_collect_once_and_the_worker_offers_the_package_when_the_app_answers(
    wired, host
):
    reference = _request(wired)
    client = sign_in(wired, StaffRole.HANDLER)
    token = csrf(client, f"/admin/requests/{reference}")
    client.post(f"/admin/requests/{reference}/actions/collect", data={"csrf_token": token})
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'class="flash info"' in page and "app의 응답을 기다리는 중입니다" in page
    assert 'class="flash error"' not in page  # waiting is a state, not a failure
    with wired.app_context():
        assert build_waiting_packages(now=datetime.now(UTC)) == []  # the app has not answered
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        assert build_waiting_packages(now=datetime.now(UTC)) == [reference]
        assert build_waiting_packages(now=datetime.now(UTC)) == []  # once
        [download] = _load(reference).downloads
        assert download.filename == f"{reference}-personal-data.zip"
        assert download.created_by == "system:access-packages"
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert f"{reference}-personal-data.zip" in page


def test_without_the_secret_no_job_is_sent_and_the_package_says_so(wired, host, monkeypatch):
    monkeypatch.delenv("RIGHTSDESK_SHOP_WEBHOOK_SECRET")
    reference = _request(wired)
    with wired.app_context():
        found = _load(reference)
        download = prepare_access_package(found, actor="staff:t", now=datetime.now(UTC))
        _item, data = fetch(found, download.id, now=datetime.now(UTC))
        assert _job(reference) is None
    summary = zipfile.ZipFile(io.BytesIO(data)).read("summary.html").decode()
    assert "RIGHTSDESK_SHOP_WEBHOOK_SECRET is not set" in summary
    assert host.received == []


def test_a_wrong_secret_is_refused_by_the_host_and_retried(wired, host, monkeypatch):
    monkeypatch.setenv("RIGHTSDESK_SHOP_WEBHOOK_SECRET", "not-the-host-apps-secret")
    reference = _request(wired)
    with wired.app_context():
        _start_access(reference)
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        job = _job(reference)
    assert [r["verified"] for r in host.received] == [False]
    assert (job.state, job.last_error) == ("pending", "HTTP 401")


# --- failures, back-off, retry ------------------------------------------------------------------


def test_failures_back_off_then_the_job_succeeds(wired, host):
    reference = _request(wired)
    with wired.app_context():
        _start_access(reference)
        t0 = datetime.now(UTC)
        steps = [
            ("error", timedelta(0), "HTTP 503", timedelta(minutes=1)),
            ("junk", timedelta(minutes=1), "the answer is not JSON", timedelta(minutes=5)),
            ("timeout", timedelta(minutes=6), "no answer within 1 s", timedelta(minutes=30)),
        ]
        for attempt, (mode, at, error, wait) in enumerate(steps, start=1):
            host.mode = mode
            connectors.deliver_due(now=t0 + at, worker="w1")
            job = _job(reference)
            assert (job.state, job.attempts, job.last_error) == ("pending", attempt, error)
            assert job.next_attempt_at == t0 + at + wait
            # Not due before its back-off ends: nothing is sent.
            sent = len(host.received)
            connectors.deliver_due(now=job.next_attempt_at - timedelta(seconds=1), worker="w1")
            assert len(host.received) == sent
        host.mode = "ok"
        connectors.deliver_due(now=t0 + timedelta(minutes=36), worker="w1")
        job = _job(reference)
        assert (job.state, job.attempts, job.last_error) == ("done", 4, None)
        retrying = _events("connector.retrying")
        assert [e["error"] for e in retrying] == [s[2] for s in steps]
        assert all(SUBJECT not in json.dumps(e) for e in retrying)


def test_a_permanent_failure_is_shown_to_staff_who_retry_it(wired, host):
    reference = _request(wired)
    host.mode = "error"
    with wired.app_context():
        _start_access(reference)
        at = datetime.now(UTC)
        for _attempt in range(connectors.MAX_ATTEMPTS):
            connectors.deliver_due(now=at, worker="w1")
            at = _job(reference).next_attempt_at
        job = _job(reference)
        assert (job.state, job.attempts) == ("failed", connectors.MAX_ATTEMPTS)
        connectors.deliver_due(now=at + timedelta(days=30), worker="w1")
        assert len(host.received) == connectors.MAX_ATTEMPTS  # failed: never sent again alone
        assert len(_events("connector.failed")) == 1
        with pytest.raises(FulfilmentError, match="app failed: retry"):
            prepare_access_package(_load(reference), actor="staff:t", now=datetime.now(UTC))
        job_id = job.id
    auditor = sign_in(wired, StaffRole.AUDITOR)
    page = auditor.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert f'id="job-{job_id}"' in page and "HTTP 503" in page
    assert f'id="retry-{job_id}"' not in page
    retry_path = f"/admin/requests/{reference}/connectors/{job_id}/retry"
    token = csrf(auditor, "/admin/account/password")
    assert auditor.post(retry_path, data={"csrf_token": token}).status_code == 403
    handler = sign_in(wired, StaffRole.HANDLER)
    page = handler.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert f'id="retry-{job_id}"' in page
    token = csrf(handler, f"/admin/requests/{reference}")
    assert handler.post(retry_path, data={"csrf_token": token}).status_code == 302
    host.mode = "ok"
    with wired.app_context():
        assert (_job(reference).state, _job(reference).attempts) == ("pending", 0)
        [requested] = _events("connector.retry_requested")
        assert requested["previous_attempts"] == connectors.MAX_ATTEMPTS
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        assert _job(reference).state == "done"


# --- two workers ----------------------------------------------------------------------------------


def _both_chose_before_either_claims():
    """Hold each worker's first claiming UPDATE until the other has picked its candidates too
    (on PostgreSQL, SKIP LOCKED leaves the second worker none: it never comes)."""
    barrier, held = threading.Barrier(2, timeout=3), set()

    def gate(conn, cursor, statement, parameters, context, executemany) -> None:
        me = threading.get_ident()
        if statement.startswith("UPDATE connector_jobs SET lease_until") and me not in held:
            held.add(me)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    return gate


def test_two_workers_never_send_the_same_job(wired, host):
    host.mode = "slow"
    references = [_request(wired, email=f"user{n}@example.com") for n in range(6)]
    with wired.app_context():
        for reference in references:
            connectors.ensure_job(_load(reference), "app", "access", now=datetime.now(UTC))
        db.session.commit()
    now = datetime.now(UTC)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with wired.app_context():
                start.wait()
                connectors.deliver_due(now=now, worker=name, batch=6)
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    with wired.app_context():
        engine = db.engine
    gate = _both_chose_before_either_claims()
    event.listen(engine, "before_cursor_execute", gate)
    try:
        threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", gate)
    assert errors == []
    sent = sorted(job["job"] for job in host.jobs())
    assert len(sent) == 6 and len(set(sent)) == 6
    with wired.app_context():
        assert {_job(r).state for r in references} == {"done"}


def test_a_lease_keeps_a_claimed_job_from_others_until_it_runs_out(wired, host):
    reference = _request(wired)
    with wired.app_context():
        job = connectors.ensure_job(_load(reference), "app", "access", now=datetime.now(UTC))
        db.session.commit()
        now = datetime.now(UTC)
        assert connectors.claim(now=now, batch=5) == [job.id]  # a worker that then died
        assert connectors.claim(now=now, batch=5) == []
        report = connectors.deliver_due(now=now + timedelta(minutes=1), worker="w2")
        assert report.attempted == 0 and host.received == []
        # At least once: after the lease the job is sent by the next worker.
        report = connectors.deliver_due(now=now + timedelta(hours=1), worker="w2")
        assert report.sent == 1 and _job(reference).state == "done"


def test_ensure_job_and_checklist_are_idempotent(wired):
    reference = _request(wired)
    with wired.app_context():
        found, now = _load(reference), datetime.now(UTC)
        first = connectors.ensure_job(found, "app", "erasure", now=now)
        assert connectors.ensure_job(found, "app", "erasure", now=now).id == first.id
        item = connectors.ensure_checklist(found, "paper", "erasure", now=now)
        assert connectors.ensure_checklist(found, "paper", "erasure", now=now).id == item.id
        db.session.commit()
        assert connectors.job_state(found, "app", "erasure") == "pending"
        assert connectors.job_state(found, "app", "stop") is None
        assert len(_events("connector.job_created")) == 1
        with pytest.raises(connectors.ConnectorError, match="unknown action"):
            connectors.ensure_job(found, "app", "export", now=now)


# --- stop, and the checklist -------------------------------------------------------------------


def test_a_correction_approved_for_the_app_is_sent_to_it_with_every_change_so_far(wired, host):
    from rightsdesk.fulfilment.correction import decide_correction
    from rightsdesk.models import CorrectionItem

    reference = _request(wired, kind=RequestKind.CORRECTION)
    with wired.app_context():
        found = _load(reference)
        found.corrections.append(CorrectionItem(item="앱 닉네임", correct_value="지훈"))
        found.corrections.append(CorrectionItem(item="알림 이메일", correct_value="j@example.org"))
        db.session.commit()
        first, second = (c.id for c in found.corrections)
        now = datetime.now(UTC)
        decide_correction(found, first, approve=True, target="app", note=None, actor="s", now=now)
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        assert _job(reference, "correction").state == "done"
        decide_correction(
            _load(reference), second, approve=True, target="app", note=None, actor="s", now=now
        )
        assert _job(reference, "correction").state == "pending"  # sent again, with both
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
    assert [r["job"]["changes"] for r in host.received] == [
        [{"item": "앱 닉네임", "value": "지훈"}],
        [{"item": "앱 닉네임", "value": "지훈"}, {"item": "알림 이메일", "value": "j@example.org"}],
    ]


def test_stopping_processing_sends_a_stop_job_with_the_scope(wired, host):
    scope = {"purposes": ["marketing"]}
    reference = _request(wired, kind=RequestKind.SUSPENSION, scope=scope)
    with wired.app_context():
        stop_processing(_load(reference), actor="staff:t", now=datetime.now(UTC))
        assert _job(reference, "stop").state == "pending"
        connectors.deliver_due(now=datetime.now(UTC), worker="w1")
        job = _job(reference, "stop")
        assert (job.state, job.counts, job.result_ciphertext) == (
            "done",
            {"deleted": 2, "anonymised": 0},
            None,
        )
        items = db.session.scalars(select(ChecklistItem)).all()
        assert [(i.system, i.action) for i in items] == [("paper", "stop")]
    [received] = host.received
    assert received["job"]["action"] == "stop" and received["job"]["scope"] == scope


def test_staff_tick_a_checklist_item_with_a_note_and_it_is_audited(wired, host):
    reference = _request(wired)
    with wired.app_context():
        _start_access(reference)
        item_id = db.session.scalar(select(ChecklistItem.id))
    handler = sign_in(wired, StaffRole.HANDLER)
    page = handler.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "종이 가입 신청서" in page and f'id="tick-{item_id}"' in page
    english = handler.get(f"/admin/requests/{reference}?lang=en").get_data(as_text=True)
    assert "paper sign-up form" in english
    path = f"/admin/requests/{reference}/checklist/{item_id}/tick"
    token = csrf(handler, f"/admin/requests/{reference}")
    handler.post(path, data={"csrf_token": token, "note": "  "})
    with wired.app_context():
        assert db.session.get(ChecklistItem, item_id).done_at is None
    note = "스캔본 첨부, 원본은 캐비닛에 보관"
    assert handler.post(path, data={"csrf_token": token, "note": note}).status_code == 302
    with wired.app_context():
        item = db.session.get(ChecklistItem, item_id)
        assert (item.done_by, item.note) == ("staff:handler@operator.example", note)
        [event] = _events("connector.checklist_done")
        assert event["system"] == "paper" and note not in json.dumps(event, ensure_ascii=False)
    page = handler.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert note in page and f'id="tick-{item_id}"' not in page
    auditor = sign_in(wired, StaffRole.AUDITOR)
    token = csrf(auditor, "/admin/account/password")
    assert auditor.post(path, data={"csrf_token": token, "note": "x"}).status_code == 403


# --- the data map and the demo's own stand-in for the app -----------------------------------------


def test_a_webhook_system_may_take_its_url_from_a_variable():
    text = '[systems.app]\nkind = "webhook"\nurl_env = "APP_URL"\nsecret_env = "APP_SECRET"\n'
    datamap = load_datamap(text, "map.toml")
    assert (datamap.systems[0].url, datamap.systems[0].url_env) == ("", "APP_URL")
    assert check_structure(datamap) == []
    missing = r"map.toml:1: systems.app: missing 'url' \(or 'url_env'\)"
    with pytest.raises(ValueError, match=missing):
        load_datamap('[systems.app]\nkind = "webhook"\nsecret_env = "S"\n', "map.toml")


def test_the_demo_app_endpoint_answers_signed_jobs_only(
    database_url, smtp_port, tmp_path, map_file, monkeypatch
):
    """End to end as `make run` wires it: rightsdesk serves the demo app's endpoint itself."""
    from werkzeug.serving import make_server

    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    demo_shop.create_demo_shop(shop, users=20)
    port = free_port()
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", shop)
    monkeypatch.setenv("RIGHTSDESK_SHOP_WEBHOOK_URL", f"http://127.0.0.1:{port}/dev/app-webhook")
    monkeypatch.setenv("RIGHTSDESK_SHOP_WEBHOOK_SECRET", SECRET)
    app = make_app(
        database_url,
        DEMO=True,
        DATAMAP_FILE=str(map_file),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        unsigned = app.test_client().post("/dev/app-webhook", json={"action": "access"})
        assert unsigned.status_code == 401
        reference = _request(app)
        with app.app_context():
            _start_access(reference)
            report = connectors.deliver_due(now=datetime.now(UTC), worker="w1")
            assert report.sent == 1, report.errors
            assert _job(reference).counts["push_tokens"] >= 1
    finally:
        server.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    off = make_app(database_url, DATAMAP_FILE=str(map_file))
    assert off.test_client().post("/dev/app-webhook", json={}).status_code == 404
