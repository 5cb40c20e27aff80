"""The durable outbox against a real SMTP server: outages lose nothing, two senders send once."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from rightsdesk.config import ConfigError
from rightsdesk.delivery.outbox import backoff, deliver_due, queue
from rightsdesk.domain.identity import InvalidEmail
from rightsdesk.extensions import db
from rightsdesk.models import OutboxMessage, OutboxState
from tests.helpers import make_app, make_request

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _file(app, count: int = 1) -> None:
    with app.app_context():
        for n in range(count):
            make_request(email=f"s{n}@example.com", received=NOW, verified=False, mail=True)


def _states(app) -> list[tuple[OutboxState, int]]:
    with app.app_context():
        return [(m.state, m.attempts) for m in db.session.scalars(select(OutboxMessage))]


def test_smtp_down_keeps_the_mail_and_sends_it_after_recovery(app, smtp):
    smtp.stop()
    _file(app, 2)
    with app.app_context():
        report = deliver_due(now=NOW, worker="w")
    assert (report.sent, report.retrying, report.failed) == (0, 2, 0)
    assert _states(app) == [(OutboxState.QUEUED, 1), (OutboxState.QUEUED, 1)]
    with app.app_context():
        waiting = db.session.scalars(select(OutboxMessage)).all()
        assert all(m.next_attempt_at == NOW + timedelta(seconds=30) for m in waiting)
        assert all("Connection" in (m.last_error or "") for m in waiting)
        # Not due yet: nothing is attempted before the back-off has passed.
        assert deliver_due(now=NOW + timedelta(seconds=10), worker="w").attempted == 0

    smtp.start()
    with app.app_context():
        report = deliver_due(now=NOW + timedelta(seconds=31), worker="w")
    assert report.sent == 2
    assert sorted(m["To"] for m in smtp.messages) == ["s0@example.com", "s1@example.com"]
    assert _states(app) == [(OutboxState.SENT, 2), (OutboxState.SENT, 2)]


def test_backoff_doubles_and_is_capped_at_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == timedelta(hours=1)


def test_two_senders_at_once_send_each_message_once(app, smtp):
    _file(app, 12)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender(name: str) -> None:
        try:
            with app.app_context():
                barrier.wait()
                deliver_due(now=NOW, worker=name, batch=4)
                deliver_due(now=NOW, worker=name, batch=4)
                deliver_due(now=NOW, worker=name, batch=4)
                db.session.remove()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    recipients = sorted(str(m["To"]) for m in smtp.messages)
    assert recipients == sorted(f"s{n}@example.com" for n in range(12))
    assert all(state is OutboxState.SENT for state, _ in _states(app))


def test_a_claim_abandoned_by_a_crashed_sender_is_taken_over_after_the_lease(app, smtp):
    _file(app)
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        message.state, message.claimed_at, message.claimed_by = OutboxState.SENDING, NOW, "dead"
        db.session.commit()
        # RIGHTSDESK_WORKER_LEASE_SECONDS: 60 by default
        assert deliver_due(now=NOW + timedelta(seconds=50), worker="w").attempted == 0
        assert deliver_due(now=NOW + timedelta(seconds=61), worker="w").sent == 1
    assert len(smtp.messages) == 1


def test_a_refused_recipient_fails_for_good_and_is_visible(app, smtp):
    async def refuse(server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"

    smtp.handle_RCPT = refuse
    smtp.stop()
    smtp.start()
    _file(app)
    with app.app_context():
        report = deliver_due(now=NOW, worker="w")
    assert report.failed == 1 and "550" in report.errors[0]
    assert _states(app) == [(OutboxState.FAILED, 1)]


def test_the_rendered_mail_is_kept_as_evidence(app, smtp):
    _file(app)
    with app.app_context():
        deliver_due(now=NOW, worker="w")
        stored = db.session.scalars(select(OutboxMessage)).one()
        assert stored.template == "verify" and stored.language == "ko"
        assert stored.sent_at is not None and stored.transport == "smtp"
    sent = smtp.messages[0]
    assert sent["Message-ID"] == stored.message_id
    assert sent["Subject"] == stored.subject
    received_text = sent.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert received_text.strip() == stored.body_text.strip()
    assert sent.get_body(preferencelist=("html",)) is not None


def test_recipients_with_line_breaks_are_refused(app):
    with app.app_context(), pytest.raises(InvalidEmail):
        queue(
            "withdrawn",
            recipient="a@example.com\r\nBcc: b@example.com",
            language="ko",
            context={"item": None, "organisation": None},
            now=NOW,
        )


def test_demo_mode_without_smtp_delivers_to_the_mailbox_page(database_url, tmp_path):
    app = make_app(database_url, DEMO=True, UPLOAD_DIR=str(tmp_path))
    _file(app)
    with app.app_context():
        assert deliver_due(now=NOW, worker="w").sent == 1
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.transport == "demo-mailbox"
    client = app.test_client()
    listing = client.get("/dev/mailbox/").get_data(as_text=True)
    assert message.subject in listing
    shown = client.get(f"/dev/mailbox/{message.id}").get_data(as_text=True)
    assert '<a href="http://127.0.0.1:5000/requests/verify/' in shown
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_mailbox_page_exists_only_in_demo_mode(client):
    assert client.get("/dev/mailbox/").status_code == 404


def test_production_refuses_demo_mode_and_a_missing_secret(database_url, monkeypatch):
    from rightsdesk import create_app

    with pytest.raises(ConfigError, match="DEMO cannot be on"):
        make_app(database_url, ENV="production", DEMO=True)
    monkeypatch.delenv("RIGHTSDESK_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        create_app({"DATABASE_URL": database_url, "ENV": "production"})


def test_mail_send_command_reports_and_retries(app, runner, smtp):
    smtp.stop()
    _file(app)
    down = runner.invoke(args=["mail", "send"])
    assert "sent 0, waiting to retry 1, failed 0" in down.output
    smtp.start()
    with app.app_context():
        db.session.execute(
            OutboxMessage.__table__.update().values(next_attempt_at=NOW - timedelta(days=1))
        )
        db.session.commit()
    up = runner.invoke(args=["mail", "send"])
    assert up.exit_code == 0 and "sent 1," in up.output
    assert len(smtp.messages) == 1


def test_message_ids_stay_unique_when_something_seeded_random():
    import random

    from rightsdesk.delivery.outbox import new_message_id

    random.seed(7)  # as hypothesis and schemathesis do between examples
    first = new_message_id("rightsdesk.test")
    random.seed(7)
    assert new_message_id("rightsdesk.test") != first
    assert re.fullmatch(r"<[0-9a-f]{32}@rightsdesk\.test>", first)
