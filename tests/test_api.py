"""The JSON API with a real host application: it files a request for its signed-in user, gets
signed webhooks in order as staff work the request, and reads restrictions while they hold."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, request
from sqlalchemy import select
from werkzeug.serving import make_server

from rightsdesk.delivery import webhooks
from rightsdesk.delivery.outbox import deliver_due as deliver_mail
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import Request, WebhookDelivery
from rightsdesk.requests.host_apps import create_key, make_assertion, subject_hash
from rightsdesk.requests.lifecycle import change_status
from tests.helpers import free_port


class HostApp:
    """A few lines of Flask standing in for the operator's shop: it receives the webhooks."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.signatures_ok: list[bool] = []
        self.secret = ""
        self.fail_next = 0
        self.app = Flask("host")
        self.app.add_url_rule("/hooks", "hooks", self.receive, methods=["POST"])
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)

    def receive(self):
        if self.fail_next:
            self.fail_next -= 1
            return "down for maintenance", 503
        body = request.get_data(as_text=True)
        header = request.headers.get("X-Rightsdesk-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(","))
        expected = hmac.new(
            self.secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256
        ).hexdigest()
        self.signatures_ok.append(hmac.compare_digest(expected, parts.get("v1", "")))
        self.events.append(json.loads(body))
        return "", 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def host() -> Iterator[HostApp]:
    host = HostApp()
    thread = threading.Thread(target=host.server.serve_forever, daemon=True)
    thread.start()
    yield host
    host.server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def issued(app, host):
    with app.app_context():
        issued = create_key(
            name="shop",
            scopes=["requests:create", "requests:read", "restrictions:read"],
            webhook_url=host.url,
            actor="test",
            now=datetime.now(UTC),
        )
        host.secret = issued.signing_secret
        return issued.secret_key, issued.signing_secret


def post(client, key: str, body: dict, idempotency: str | None = None):
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency:
        headers["Idempotency-Key"] = idempotency
    return client.post("/api/v1/requests", json=body, headers=headers)


def deliver(app) -> webhooks.DeliveryReport:
    with app.app_context():
        return webhooks.deliver_due(now=datetime.now(UTC), worker="test")


def work(app, reference: str, *targets: Status, reason: str | None = None) -> None:
    with app.app_context():
        item = db.session.scalar(select(Request).where(Request.reference == reference))
        for target in targets:
            change_status(item, target, actor="staff:test", now=datetime.now(UTC), reason=reason)


def test_a_signed_in_user_files_a_request_and_the_host_follows_it(app, client, host, issued, smtp):
    key, secret = issued
    assertion = make_assertion(secret, "Kim.Minji@example.com")
    created = post(
        client,
        key,
        {
            "kind": "access",
            "email": "kim.minji@example.com",
            "name": "김민지",
            "assertion": assertion,
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    reference = body["reference"]
    assert body["status"] == "verified"  # vouched for: no verification mail needed
    assert body["due"] and "status_url" not in body  # the subject's link goes to the subject
    with app.app_context():
        deliver_mail(now=datetime.now(UTC), worker="t")
    assert "접수되었습니다" in smtp.messages[0]["Subject"]  # the acknowledgement

    work(app, reference, Status.IN_PROGRESS, Status.COMPLETED)
    report = deliver(app)
    assert report.sent == 3
    assert [e["data"]["status"] for e in host.events] == ["verified", "in_progress", "completed"]
    assert [e["type"] for e in host.events] == [
        "request.created",
        "request.status_changed",
        "request.status_changed",
    ]
    assert all(host.signatures_ok) and len({e["id"] for e in host.events}) == 3

    read = client.get(f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {key}"})
    assert read.status_code == 200
    data = read.get_json()
    assert data["status"] == "completed"
    assert [t.get("status") for t in data["timeline"] if t["event"] == "status"] == [
        "in_progress",
        "completed",
    ]


def test_without_an_assertion_the_email_is_verified_as_on_the_web(app, client, issued, smtp):
    key, _secret = issued
    created = post(client, key, {"kind": "deletion", "email": "lee@example.com"})
    assert created.get_json()["status"] == "received_unverified"
    with app.app_context():
        deliver_mail(now=datetime.now(UTC), worker="t")
    assert "확인해 주세요" in smtp.messages[0]["Subject"]


def test_an_assertion_for_another_email_or_a_forged_one_is_refused(app, client, issued):
    key, secret = issued
    other = post(
        client,
        key,
        {
            "kind": "access",
            "email": "a@example.com",
            "assertion": make_assertion(secret, "b@example.com"),
        },
    )
    forged = post(
        client,
        key,
        {
            "kind": "access",
            "email": "a@example.com",
            "assertion": make_assertion("not the secret", "a@example.com"),
        },
    )
    for response in (other, forged):
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "invalid_assertion"
    with app.app_context():
        assert db.session.scalars(select(Request)).all() == []


def test_a_retried_post_with_the_same_idempotency_key_creates_one_request(app, client, issued):
    key, _secret = issued
    body = {"kind": "access", "email": "retry@example.com"}
    first = post(client, key, body, idempotency="order-42-access")
    second = post(client, key, body, idempotency="order-42-access")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    different = post(client, key, {**body, "details": "x"}, idempotency="order-42-access")
    assert different.status_code == 422
    with app.app_context():
        assert len(db.session.scalars(select(Request)).all()) == 1


def test_restrictions_hold_while_a_suspension_is_in_force(app, client, issued):
    key, secret = issued
    auth = {"Authorization": f"Bearer {key}"}
    with app.app_context():
        lookup = subject_hash("Park@Example.com")
    free = client.get(f"/api/v1/restrictions?subject={lookup}", headers=auth).get_json()
    assert free == {
        "subject": lookup,
        "restricted": False,
        "suspensions": [],
        "pending_corrections": [],
        "withdrawn_consents": [],
    }
    created = post(
        client,
        key,
        {
            "kind": "suspension",
            "email": "park@example.com",
            "scope": {"purposes": ["marketing"]},
            "assertion": make_assertion(secret, "park@example.com"),
        },
    )
    reference = created.get_json()["reference"]
    held = client.get(f"/api/v1/restrictions?subject={lookup}", headers=auth).get_json()
    assert held["restricted"] is True
    assert held["suspensions"][0]["reference"] == reference
    assert held["suspensions"][0]["scope"] == {"purposes": ["marketing"]}
    work(app, reference, Status.IN_PROGRESS, Status.COMPLETED)
    assert (
        client.get(f"/api/v1/restrictions?subject={lookup}", headers=auth).get_json()["restricted"]
        is True
    )
    correction = post(
        client,
        key,
        {
            "kind": "correction",
            "email": "park@example.com",
            "corrections": [{"item": "주소", "correct_value": "서울시 마포구"}],
            "assertion": make_assertion(secret, "park@example.com"),
        },
    )
    assert correction.status_code == 201
    both = client.get(f"/api/v1/restrictions?subject={lookup}", headers=auth).get_json()
    assert both["pending_corrections"][0]["items"] == ["주소"]
    bad = client.get("/api/v1/restrictions?subject=park@example.com", headers=auth)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_subject"


def test_webhooks_wait_out_an_outage_without_reordering(app, client, host, issued):
    key, secret = issued
    created = post(
        client,
        key,
        {
            "kind": "access",
            "email": "order@example.com",
            "assertion": make_assertion(secret, "order@example.com"),
        },
    )
    reference = created.get_json()["reference"]
    work(app, reference, Status.IN_PROGRESS)
    host.fail_next = 1
    first = deliver(app)
    assert first.sent == 0 and first.retrying == 1  # the second event waited behind the first
    assert host.events == []
    with app.app_context():
        webhooks.retry_now(now=datetime.now(UTC))
        states = db.session.scalars(select(WebhookDelivery.state)).all()
        assert len(states) == 2
    second = deliver(app)
    assert second.sent == 2
    assert [e["data"]["status"] for e in host.events] == ["verified", "in_progress"]


def test_a_host_reads_only_its_own_requests_and_a_revoked_key_nothing(app, client, issued, runner):
    key, _secret = issued
    reference = post(client, key, {"kind": "access", "email": "own@example.com"}).get_json()[
        "reference"
    ]
    with app.app_context():
        other = create_key(
            name="other",
            scopes=["requests:read"],
            webhook_url=None,
            actor="test",
            now=datetime.now(UTC),
        )
    response = client.get(
        f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {other.secret_key}"}
    )
    assert response.status_code == 404
    revoked = runner.invoke(args=["apikey", "revoke", "shop"])
    assert revoked.exit_code == 0
    after = client.get(f"/api/v1/requests/{reference}", headers={"Authorization": f"Bearer {key}"})
    assert after.status_code == 401 and after.get_json()["error"]["code"] == "unauthorized"


def test_apikey_command_prints_the_key_once(app, runner):
    created = runner.invoke(
        args=["apikey", "create", "--name", "app2", "--webhook-url", "https://shop.example/hooks"]
    )
    assert created.exit_code == 0, created.output
    assert "api key:        rdk_" in created.output and "signing secret:" in created.output
    listed = runner.invoke(args=["apikey", "list"])
    assert "app2\trdk_" in listed.output and "rdk_" in listed.output
    secret_part = created.output.split("api key:")[1].split()[0].split("_", 2)[2]
    assert secret_part not in listed.output
    insecure = runner.invoke(
        args=["apikey", "create", "--name", "app3", "--webhook-url", "http://shop.example/hooks"]
    )
    assert insecure.exit_code == 2 and "HTTPS" in insecure.output
    bad_scope = runner.invoke(args=["apikey", "create", "--name", "app4", "--scopes", "admin"])
    assert bad_scope.exit_code == 2 and "unknown scope" in bad_scope.output


def test_a_korean_access_postponed_until_its_ground_ends_has_no_due_date_in_the_api(
    app, client, issued
):
    """The operator's internal review date is no due date (법 §35③ 후문): the API says the
    request is deferred and gives none, until staff record that the ground has ended."""
    from rightsdesk.models import StaffRole
    from tests.helpers import act, organisation, sign_in

    key, secret = issued
    organisation(app)
    email = "deferred@example.com"
    body = {"kind": "access", "email": email, "assertion": make_assertion(secret, email)}
    reference = post(client, key, body).get_json()["reference"]
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/requests/{reference}", headers=auth).get_json()["deferred"] is False
    staff = sign_in(app, StaffRole.HANDLER)
    review = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    act(staff, reference, "extend", reason="수사기관의 보존 요청", review_on=review, step="send")
    deferred = client.get(f"/api/v1/requests/{reference}", headers=auth).get_json()
    assert (deferred["deferred"], deferred["due"]) == (True, None)
    act(staff, reference, "deferral-end")
    ended = client.get(f"/api/v1/requests/{reference}", headers=auth).get_json()
    assert ended["deferred"] is False and ended["due"] is not None and ended["due"] != review
