"""The web form's queue: a submission is acknowledged once its one row is committed, and the
worker makes it into exactly one request, dated from the moment it was received."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from rightsdesk.core.audit import verify_chain
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.extensions import db
from rightsdesk.models import IntakeSubmission, OutboxMessage, Request, Subject
from rightsdesk.public import views
from rightsdesk.requests.intake import IntakeInput, accept_submission, process_submissions
from tests.helpers import utc


def _form(client, email: str) -> dict:
    page = client.get("/requests/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return {
        "csrf_token": token,
        "kind": "deletion",
        "name": "오세훈",
        "email": email,
        "details": "회원 정보를 지워 주세요.",
        "scope": "all",
    }


def _payload_of(email: str) -> str:
    """The stored form of a plain submission (what accept_submission writes)."""
    accept_submission(IntakeInput(kind=K.ACCESS, name=None, email=email), now=datetime.now(UTC))
    row = db.session.scalars(select(IntakeSubmission).order_by(IntakeSubmission.id.desc())).first()
    db.session.delete(row)
    db.session.commit()
    return row.payload


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_form_is_answered_once_its_row_is_stored_and_the_worker_files_it_dated_from_receipt(
    app, client, monkeypatch
):
    received = utc("2026-03-06T08:59:00Z")  # Friday 17:59 in Seoul
    monkeypatch.setattr(views, "utcnow", lambda: received)
    response = client.post("/requests/new", data=_form(client, "oh@example.com"))
    assert response.status_code == 302 and response.location.endswith("/requests/sent")
    with app.app_context():
        waiting = db.session.scalars(select(IntakeSubmission)).one()
        assert waiting.received_at == received and waiting.attempts == 0
        assert json.loads(waiting.payload)["email"] == "oh@example.com"
        assert _count(Request) == 0 and _count(OutboxMessage) == 0

        later = received + timedelta(minutes=3)  # the worker's round comes a little later
        report = process_submissions(now=later)
        assert len(report.filed) == 1 and report.failed == []
        request = db.session.scalars(select(Request)).one()
        assert request.reference == report.filed[0]
        assert request.kind is K.DELETION and request.subject.email == "oh@example.com"
        assert request.received_at == received  # the legal clock starts at receipt
        assert request.details == "회원 정보를 지워 주세요."
        assert request.scope == {"all": True}
        mail = db.session.scalars(select(OutboxMessage)).one()
        assert mail.template == "verify" and mail.recipient == "oh@example.com"
        assert _count(IntakeSubmission) == 0
        assert process_submissions(now=later).attempted == 0  # filed once, never twice


def test_a_submission_that_cannot_be_filed_waits_with_its_reason_and_the_others_go_on(app):
    now = datetime.now(UTC)
    with app.app_context():
        accept_submission(IntakeInput(kind=K.ACCESS, name=None, email="first@example.com"), now=now)
        broken = IntakeSubmission(
            received_at=now,
            payload=json.dumps(
                {
                    **json.loads(_payload_of("x@example.com")),
                    "kind": "teleport",
                    "email": "secret@example.com",
                }
            ),
            attempts=0,
            next_attempt_at=now,
        )
        db.session.add(broken)
        db.session.commit()
        accept_submission(IntakeInput(kind=K.ACCESS, name=None, email="third@example.com"), now=now)

        report = process_submissions(now=now)
        assert len(report.filed) == 2 and len(report.failed) == 1
        assert "secret@example.com" not in report.failed[0]
        emails = set(db.session.scalars(select(Subject.email).join(Request.subject)))
        assert emails == {"first@example.com", "third@example.com"}
        kept = db.session.scalars(select(IntakeSubmission)).one()  # rolled back, not lost
        assert kept.id == broken.id and kept.attempts == 1
        assert kept.last_error.startswith("ValueError") and "secret@" not in kept.last_error
        assert kept.next_attempt_at == now + timedelta(seconds=30)
        assert process_submissions(now=now).attempted == 0  # it waits for its back-off
        assert len(process_submissions(now=now + timedelta(seconds=31)).failed) == 1
        again = db.session.scalars(select(IntakeSubmission)).one()
        assert again.attempts == 2 and again.next_attempt_at > now + timedelta(seconds=90)
        assert verify_chain().ok


WORKERS, SUBMISSIONS = 4, 60


def test_workers_running_at_once_file_each_submission_exactly_once(app):
    now = datetime.now(UTC)
    with app.app_context():
        for n in range(SUBMISSIONS):
            accept_submission(
                IntakeInput(kind=K.ACCESS, name=None, email=f"burst{n}@example.com"), now=now
            )
    start = threading.Barrier(WORKERS)
    filed: list[list[str]] = [[] for _ in range(WORKERS)]
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            with app.app_context():
                start.wait()
                while True:
                    report = process_submissions(now=now, limit=3)
                    assert report.failed == [], report.failed
                    if not report.filed:
                        break
                    filed[number] += report.filed
                    time.sleep(0.005)  # a worker's other duties: SQLite's lock is not fair
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    everything = [reference for references in filed for reference in references]
    assert len(everything) == len(set(everything)) == SUBMISSIONS
    assert sum(1 for references in filed if references) >= 2, filed  # really side by side
    with app.app_context():
        assert _count(Request) == SUBMISSIONS and _count(IntakeSubmission) == 0
        assert _count(OutboxMessage) == SUBMISSIONS
        assert verify_chain().ok


def test_the_worker_command_files_waiting_submissions_before_sending_mail(app, runner, smtp):
    with app.app_context():
        accept_submission(
            IntakeInput(kind=K.ACCESS, name=None, email="cli@example.com"), now=datetime.now(UTC)
        )
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "intake: 1 request(s) filed, 0 retrying" in result.output
    assert [m["To"] for m in smtp.messages] == ["cli@example.com"]  # in the same round


def test_mail_send_alone_also_files_waiting_submissions(app, runner, smtp):
    """Deployments that run only `rightsdesk mail send --loop` still get their requests."""
    with app.app_context():
        accept_submission(
            IntakeInput(kind=K.ACCESS, name=None, email="old@example.com"), now=datetime.now(UTC)
        )
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "intake: 1 request(s) filed" in result.output and "sent 1" in result.output
    assert [m["To"] for m in smtp.messages] == ["old@example.com"]
