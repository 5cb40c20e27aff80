"""Fault injection: a mail worker killed with SIGKILL in the middle of sending loses nothing;
the next worker picks up its claim once the lease has run out. The operator's database
connection dropped in the middle of a multi-step fulfilment action leaves nothing half done,
neither in the operator's database nor in rightsdesk's, and the retry finishes the job."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.engine import Engine

from rightsdesk.core.audit import verify_chain
from rightsdesk.delivery.outbox import LEASE
from rightsdesk.demo import shop as demo_shop
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    CorrectionItem,
    OutboxMessage,
    OutboxState,
    Request,
    StaffRole,
)
from tests.helpers import (
    DEMO_MAP,
    PG_URL,
    SmtpServer,
    act,
    make_app,
    make_request,
    new_request,
    shop_database,
    sign_in,
)

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
            make_request(email=f"k{n}@example.com", name=None, verified=False, mail=True)
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


# --- the operator's database connection dropped in the middle of a multi-step action ----------

STOP_SUBJECT = "jihoon.park@example.com"
CHANNELS = ("email", "push", "sms")


@pytest.fixture
def shop_url(tmp_path, monkeypatch) -> Iterator[str]:
    """The demo shop: a fresh PostgreSQL schema when the suite runs on PostgreSQL (so the drop is
    a real ``pg_terminate_backend``), a SQLite file otherwise."""
    with shop_database(tmp_path, "fault_shop") as url:
        demo_shop.create_demo_shop(url, users=30)
        engine = create_engine(url)
        with engine.begin() as connection:  # every channel, so stopping deletes row after row
            user_id = connection.execute(
                text("SELECT id FROM users WHERE email = :e"), {"e": STOP_SUBJECT}
            ).scalar_one()
            connection.execute(
                text("DELETE FROM marketing_consents WHERE user_id = :u"), {"u": user_id}
            )
            for channel in CHANNELS:
                connection.execute(
                    text(
                        "INSERT INTO marketing_consents (user_id, channel, granted_at)"
                        " VALUES (:u, :c, :t)"
                    ),
                    {"u": user_id, "c": channel, "t": datetime(2025, 1, 1)},
                )
        engine.dispose()
        monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
        yield url


@pytest.fixture
def mapped_app(database_url, smtp_port, tmp_path, shop_url):
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def connection_dropped_after(prefix: str, times: int = 1) -> Iterator[list[str]]:
    """Drop the database connection right after the first statement starting with ``prefix``
    has run, inside its still-open transaction: on PostgreSQL another session terminates the
    backend (``pg_terminate_backend``, waiting until it is gone); on SQLite the connection to
    the file is closed under SQLAlchemy's feet. Yields the statements that saw the drop."""
    dropped: list[str] = []

    def drop(conn, cursor, statement, parameters, context, executemany) -> None:
        if len(dropped) >= times or not statement.lstrip().upper().startswith(prefix.upper()):
            return
        dropped.append(statement)
        raw = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            killer = create_engine(PG_URL)
            with killer.connect() as other:
                pid = raw.info.backend_pid
                assert other.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                ).scalar_one()
            killer.dispose()
        else:
            raw.close()

    event.listen(Engine, "after_cursor_execute", drop)
    try:
        yield dropped
    finally:
        event.remove(Engine, "after_cursor_execute", drop)


def _consents(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.channel FROM marketing_consents c JOIN users u ON u.id = c.user_id"
                " WHERE u.email = :e ORDER BY c.channel"
            ),
            {"e": STOP_SUBJECT},
        ).scalars()
        found = list(rows)
    engine.dispose()
    return found


def _verified(app, kind: RequestKind, *, scope: dict | None = None, corrections: tuple = ()) -> str:
    return new_request(
        app,
        kind=kind,
        email=STOP_SUBJECT,
        name=None,
        days_ago=0,
        scope=scope,
        corrections=corrections,
    )


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        db.session.expunge_all()
        return found


def test_a_dropped_connection_mid_stop_leaves_nothing_half_done_and_a_retry_finishes(
    mapped_app, shop_url
):
    reference = _verified(
        mapped_app, RequestKind.CONSENT_WITHDRAWAL, scope={"purposes": ["marketing"]}
    )
    assert _consents(shop_url) == list(CHANNELS)
    client = sign_in(mapped_app, StaffRole.HANDLER)
    with connection_dropped_after("DELETE FROM marketing_consents") as dropped:
        response = act(client, reference, "stop")
    assert len(dropped) == 1  # the first of three deletes ran, then the connection went
    assert response.status_code == 302
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "shop에서 실패하여 아무것도 바뀌지 않았습니다" in page  # the staff member's Korean
    # Nothing half done: the delete that ran was rolled back with its transaction, the request
    # is still open and untouched, and no audit event claims that anything was stopped.
    assert _consents(shop_url) == list(CHANNELS)
    assert _events(mapped_app, "fulfilment.stop") == []
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        assert found.status is Status.VERIFIED
        assert verify_chain().ok

    act(client, reference, "stop")  # the retry, on a new connection
    assert _consents(shop_url) == []
    [stopped] = _events(mapped_app, "fulfilment.stop")
    assert json.loads(stopped.data)["rows"] == len(CHANNELS)
    with mapped_app.app_context():
        assert verify_chain().ok


def test_a_dropped_connection_mid_correction_leaves_the_item_open_and_a_retry_applies_it(
    mapped_app, shop_url
):
    from rightsdesk.fulfilment.correction import decide_correction
    from rightsdesk.systems.configured import FulfilmentError

    reference = _verified(
        mapped_app, RequestKind.CORRECTION, corrections=(("전화번호", "010-5555-0101"),)
    )

    def phone() -> str | None:
        engine = create_engine(shop_url)
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT phone FROM users WHERE email = :e"), {"e": STOP_SUBJECT}
            ).scalar_one()
        engine.dispose()
        return value

    before = phone()
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item_id = found.corrections[0].id
        outbox_before = db.session.query(OutboxMessage).count()
        with (
            connection_dropped_after("UPDATE users") as dropped,
            pytest.raises(FulfilmentError, match="shop failed, nothing was changed"),
        ):
            decide_correction(
                found,
                item_id,
                approve=True,
                target="shop.users.phone",
                note=None,
                actor="t",
                now=datetime.now(UTC),
            )
        assert len(dropped) == 1
        db.session.rollback()  # what the console does on a FulfilmentError
    assert phone() == before
    with mapped_app.app_context():
        item = db.session.get(CorrectionItem, item_id)
        assert (item.decision, item.rows_changed, item.target) == (None, None, None)
        assert db.session.query(OutboxMessage).count() == outbox_before  # no recipient told
    assert _events(mapped_app, "fulfilment.correction") == []

    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        decided = decide_correction(
            found,
            item_id,
            approve=True,
            target="shop.users.phone",
            note=None,
            actor="t",
            now=datetime.now(UTC),
        )
        assert (decided.decision, decided.rows_changed) == ("approved", 1)
    assert phone() == "010-5555-0101"
    assert len(_events(mapped_app, "fulfilment.correction")) == 1


@pytest.mark.skipif(not PG_URL, reason="a server to drop connections needs PostgreSQL")
def test_a_connection_the_server_dropped_while_it_rested_is_replaced_by_the_ping():
    """``ping_when_idle`` (instead of a ping on every checkout): a pooled connection that
    rested longer than ``idle`` is pinged first, and one the server dropped meanwhile (here:
    terminated) is replaced, so the next statement succeeds; a connection used a moment ago
    is not pinged."""
    from rightsdesk.core.driver import ping_when_idle

    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    ping_when_idle(engine, idle=0.2)
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as connection:  # at once: the same connection, alive
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        killer = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with killer.connect() as other:
            assert other.execute(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": first}
            ).scalar_one()
        killer.dispose()
        time.sleep(0.3)  # it rested: the next checkout pings, finds it gone, replaces it
        with engine.connect() as connection:
            again = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert again != first
    finally:
        engine.dispose()
