"""Fault injection: a mail worker killed with SIGKILL in the middle of sending loses nothing;
the next worker picks up its claim once the lease has run out."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.mail.outbox import LEASE
from rightsdesk.models import OutboxMessage, OutboxState
from rightsdesk.services.intake import IntakeInput, file_request

from .conftest import SmtpServer

SCRIPT = str(Path(sys.executable).with_name("rightsdesk"))


class SlowSmtp(SmtpServer):
    """Takes a while over each message, so a worker can be killed in the middle."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.4)
        return await super().handle_DATA(server, session, envelope)


def test_a_killed_mail_worker_loses_nothing(app, database_url, smtp_port, tmp_path):
    count = 8
    with app.app_context():
        for n in range(count):
            file_request(
                IntakeInput(kind=RequestKind.ACCESS, name=None, email=f"k{n}@example.com"),
                now=datetime.now(UTC),
            )
        expected = set(db.session.scalars(select(OutboxMessage.message_id)))
    smtp = SlowSmtp(smtp_port)
    smtp.start()
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": "test-secret",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
    }
    try:
        worker = subprocess.Popen(
            [SCRIPT, "mail", "send", "--loop", "--interval", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-batch: its claim is left behind
        worker.wait(timeout=10)
        delivered_before = len(smtp.messages)
        assert 2 <= delivered_before < count

        with app.app_context():
            stuck = db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.state == OutboxState.SENDING)
            ).all()
            assert stuck, "the killed worker should have left claimed messages"
            # Let the lease run out (instead of waiting ten minutes).
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.SENDING)
                .values(claimed_at=datetime.now(UTC) - LEASE - timedelta(seconds=1))
            )
            db.session.commit()

        again = subprocess.run(
            [SCRIPT, "mail", "send"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        received = [str(m["Message-ID"]) for m in smtp.messages]
        assert set(received) == expected  # every message went out
        assert len(received) - len(set(received)) <= 1  # at most the one in flight twice
        with app.app_context():
            states = set(db.session.scalars(select(OutboxMessage.state)))
        assert states == {OutboxState.SENT}
    finally:
        smtp.stop()
