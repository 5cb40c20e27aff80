"""Requests by e-mail, end to end: ingest, classify, verify by a threaded reply, acknowledge."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.inbound import SIGNATURE_HEADER, signature
from rightsdesk.models import Channel, InboundMessage, OutboxMessage, Request
from tests.helpers import csrf, make_app

MAIL = Path(__file__).parent / "fixtures" / "mail"
EUC_KR = MAIL / "03_consent_euckr_8bit.eml"


def send(app) -> None:
    with app.app_context():
        deliver_due(now=datetime.now(UTC), worker="test")


def requests_of(app) -> list[Request]:
    with app.app_context():
        rows = db.session.scalars(select(Request).order_by(Request.id)).all()
        db.session.expunge_all()
        return rows


def test_an_euc_kr_request_is_classified_verified_and_acknowledged(app, runner, client, smtp):
    result = runner.invoke(args=["mail", "ingest", str(EUC_KR)])
    assert result.exit_code == 0, result.output
    assert "\tcreated\tRD-" in result.output
    [stored] = requests_of(app)
    assert stored.kind is RequestKind.CONSENT_WITHDRAWAL
    assert stored.channel is Channel.EMAIL
    assert stored.language == "ko"
    assert "수신 동의를 철회합니다" in stored.details
    send(app)
    reply = smtp.messages[0]
    assert reply["To"] == "jihoon.park@example.net"
    assert reply["In-Reply-To"] == "<20251001075530.B2C1.jihoon.park@example.net>"
    assert "<20251001075530.B2C1.jihoon.park@example.net>" in reply["References"]
    body = reply.get_body(preferencelist=("plain",)).get_content()
    verify_path = re.search(r"http://rightsdesk\.test(/requests/verify/\S+)", body).group(1)
    client.post(verify_path, data={"csrf_token": csrf(client, verify_path)})
    [verified] = requests_of(app)
    assert verified.status is Status.VERIFIED
    send(app)
    ack = smtp.messages[1].get_body(preferencelist=("plain",)).get_content()
    assert verified.reference in ack and verified.due_date.isoformat() in ack


def test_the_same_message_twice_makes_one_request(app, runner):
    first = runner.invoke(args=["mail", "ingest", str(EUC_KR)])
    second = runner.invoke(args=["mail", "ingest", str(EUC_KR)])
    assert "created" in first.output and "\tduplicate\t" in second.output
    assert len(requests_of(app)) == 1


def test_auto_replies_and_bounces_are_recorded_but_never_answered(app, runner):
    for name in ("09_auto_reply.eml", "10_bounce_mailer_daemon.eml"):
        result = runner.invoke(args=["mail", "ingest", str(MAIL / name)])
        assert "\tautomated\t-" in result.output
    assert requests_of(app) == []
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage)).all() == []
        outcomes = db.session.scalars(select(InboundMessage.outcome)).all()
    assert [o.value for o in outcomes] == ["automated", "automated"]


def test_an_unclassifiable_message_becomes_an_unclassified_request(app, runner):
    result = runner.invoke(args=["mail", "ingest", str(MAIL / "08_unclassified_delivery.eml")])
    assert "created" in result.output
    [stored] = requests_of(app)
    assert stored.kind is RequestKind.UNCLASSIFIED
    assert stored.due_date is not None


def test_every_fixture_in_a_maildir_an_mbox_and_stdin_is_taken(app, runner):
    maildir = runner.invoke(args=["mail", "ingest", str(MAIL / "maildir")])
    assert maildir.exit_code == 0, maildir.output
    mbox = runner.invoke(args=["mail", "ingest", str(MAIL / "inbox.mbox")])
    assert mbox.exit_code == 0
    stdin = runner.invoke(
        args=["mail", "ingest", "-"], input=(MAIL / "07_english_access_crlf.eml").read_bytes()
    )
    assert "created" in stdin.output
    taken = [line for line in (maildir.output + mbox.output).splitlines() if "\t" in line]
    assert len(taken) >= 4
    english = [r for r in requests_of(app) if r.language == "en"]
    assert english and english[-1].kind is RequestKind.ACCESS


def test_ingest_refuses_a_missing_path(runner):
    result = runner.invoke(args=["mail", "ingest", "/nonexistent/mail.eml"])
    assert result.exit_code == 2
    assert "/nonexistent/mail.eml" in result.output


def test_the_inbound_webhook_checks_its_hmac(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        INBOUND_SECRET="s3cret",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    client = app.test_client()
    raw = EUC_KR.read_bytes()
    headers = {"Content-Type": "message/rfc822"}
    unsigned = client.post("/inbound/email", data=raw, headers=headers)
    assert unsigned.status_code == 401 and unsigned.get_json()["error"] == "bad_signature"
    wrong = client.post(
        "/inbound/email", data=raw, headers={**headers, SIGNATURE_HEADER: signature("x", raw)}
    )
    assert wrong.status_code == 401
    signed = {**headers, SIGNATURE_HEADER: signature("s3cret", raw)}
    bad_type = client.post(
        "/inbound/email",
        data=raw,
        headers={**signed, "Content-Type": "application/json"},
    )
    assert bad_type.status_code == 415
    created = client.post("/inbound/email", data=raw, headers=signed)
    assert created.status_code == 201
    assert created.get_json()["outcome"] == "created"
    again = client.post("/inbound/email", data=raw, headers=signed)
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"
    with app.app_context():
        assert len(db.session.scalars(select(Request)).all()) == 1
        db.session.remove()
        db.engine.dispose()


def test_the_webhook_is_off_without_a_secret(client):
    assert client.post("/inbound/email", data=b"x").status_code == 404
