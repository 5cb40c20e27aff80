"""Several writers at once: no reference is handed out twice and the audit chain stays linear;
several mail workers (separate processes, separate database sessions) send each message once."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from rightsdesk.core.audit import verify_chain
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.extensions import db
from rightsdesk.models import Channel, OutboxMessage, OutboxState, Request
from rightsdesk.requests.lifecycle import submit_request
from tests.helpers import SmtpServer, make_request, utc

SCRIPT = str(Path(sys.executable).with_name("rightsdesk"))

WRITERS, EACH = 4, 5


def test_concurrent_submissions_get_distinct_references_and_one_chain(app):
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(number: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(EACH):
                    submit_request(
                        kind=K.ACCESS,
                        email=f"w{number}-{i}@example.com",
                        name=None,
                        channel=Channel.WEB,
                        now=utc("2026-03-02T01:00:00Z"),
                        actor="test",
                    )
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context():
        references = db.session.scalars(select(Request.reference)).all()
        assert len(references) == WRITERS * EACH
        assert sorted(references) == [f"RD-2026-{n:06d}" for n in range(1, WRITERS * EACH + 1)]
        report = verify_chain()
        assert report.ok, report.problems
        assert report.events == WRITERS * EACH


class SlowSmtp(SmtpServer):
    """A little time per message, so the workers' batches overlap."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_three_mail_worker_processes_at_once_send_every_message_exactly_once(
    app, database_url, smtp_port
):
    count, workers = 36, 3
    with app.app_context():
        for n in range(count):
            make_request(email=f"c{n}@example.com", name=None, verified=False, mail=True)
        expected = sorted(db.session.scalars(select(OutboxMessage.message_id)))
    assert len(expected) == count
    smtp = SlowSmtp(smtp_port)
    smtp.start()
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": "test-secret",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
    }
    command = [SCRIPT, "mail", "send", "--loop", "--batch", "2", "--interval", "0.1"]
    try:
        processes = [
            subprocess.Popen(
                [*command, "--max-runs", "40"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        smtp.stop()
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    sent_by = [sum(int(n) for n in re.findall(r"^sent (\d+)", out, re.M)) for out, _ in outputs]
    assert sum(sent_by) == count
    assert sum(1 for n in sent_by if n) >= 2, sent_by  # the workers really ran side by side
    received = sorted(str(m["Message-ID"]) for m in smtp.messages)
    assert received == expected  # every message, none twice
    with app.app_context():
        assert set(db.session.scalars(select(OutboxMessage.state))) == {OutboxState.SENT}
