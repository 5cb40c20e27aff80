"""Code the test modules share: plain functions, classes and constants.

Fixtures live in ``conftest.py`` (which builds them from what is here); test modules import
from this module and never from one another or from ``conftest.py``.

- the app: :func:`make_app`, :data:`PG_URL`, :func:`utc`, :func:`free_port`,
  :class:`SmtpServer`, :func:`truncate_all`;
- requests: :func:`make_request` (the factory, on the real services) and :func:`new_request`
  (the same in its own app context, returning the reference);
- the public pages: :func:`csrf`, :func:`file_access_request`, :func:`take_in`,
  :func:`send_mail`, :func:`body_of`, :func:`link_in`, :data:`PDF`;
- the console: :data:`PASSWORD`, :func:`make_staff`, :func:`sign_in`, :func:`organisation`,
  :func:`act`;
- the demo shop: :data:`DEMO_MAP`, :data:`DEMO_SUBJECT`, :func:`shop_database`,
  :func:`shop_rows`, :func:`shop_count`, :func:`local_cutoff`, :func:`due_logs`;
- the browser: :data:`CHROMIUM`, :func:`needs_chromium` (a module's skip mark),
  :func:`chromium` (launched), :func:`open_action`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, inspect, text

from rightsdesk import create_app
from rightsdesk.cli import main
from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import REASON_REQUIRED, Status
from rightsdesk.domain.retention import DEFAULT_SCHEDULE
from rightsdesk.extensions import db
from rightsdesk.models import Channel, CorrectionItem, RepresentativeRole, Request, StaffRole
from rightsdesk.organisation.setup import set_up_organisation
from rightsdesk.organisation.staff import create_staff
from rightsdesk.public import views
from rightsdesk.requests.intake import (
    CorrectionInput,
    IntakeInput,
    RepresentativeInput,
    confirm_verification,
    file_request,
    process_submissions,
)
from rightsdesk.requests.lifecycle import change_status, submit_request

#: Set to run the suite on PostgreSQL (CI does); unset, every test gets its own SQLite file.
PG_URL = os.environ.get("RIGHTSDESK_TEST_DATABASE_URL")

# --- the app -----------------------------------------------------------------------------------


class CommandRunner(FlaskCliRunner):
    """Runs ``rightsdesk …`` against the test's app: the commands belong to the CLI's own group
    (``rightsdesk.cli.main``), not to ``app.cli``."""

    def invoke(self, cli=None, args=None, **kwargs):
        return super().invoke(cli or main, args, **kwargs)


#: Apps made by :func:`app_closed_after_test`, closed by conftest after each test.
OPEN_APPS: list[Flask] = []


def app_closed_after_test(database_url: str, **config: object) -> Flask:
    """An app for one test whose database connections are closed after it (conftest)."""
    app = make_app(database_url, **config)
    OPEN_APPS.append(app)
    return app


def close_open_apps() -> None:
    while OPEN_APPS:
        with OPEN_APPS.pop().app_context():
            db.session.remove()
            db.engine.dispose()


def make_app(database_url: str, **config: object) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "MAIL_SUPPRESS_SEND": False,  # Flask-Mail would skip SMTP under TESTING
            **config,
        }
    )
    app.test_cli_runner_class = CommandRunner
    return app


def utc(text_value: str) -> datetime:
    """An aware datetime from ISO text; a bare time is taken as UTC."""
    value = datetime.fromisoformat(text_value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def truncate_all(url: str) -> None:
    """Empty every table but ``alembic_version`` (the shared PostgreSQL test database)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1: what the outbox sends arrives here, parsed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list = []
        self.envelopes: list = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        import email
        import email.policy

        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- requests ----------------------------------------------------------------------------------


def _when(value: datetime | str | None, default: datetime) -> datetime:
    if value is None:
        return default
    return utc(value) if isinstance(value, str) else value


def make_request(
    kind: RequestKind = RequestKind.ACCESS,
    *,
    email: str = "kim@example.com",
    name: str | None = "김민지",
    received: datetime | str | None = None,
    verified: bool = True,
    status: Status | None = None,
    via: Sequence[Status] = (),
    at: datetime | str | None = None,
    reason: str | None = None,
    channel: Channel = Channel.WEB,
    jurisdiction: str | None = None,
    language: str = "ko",
    details: str | None = None,
    scope: dict | None = None,
    representative: tuple[RepresentativeRole, str, str] | None = None,
    corrections: Iterable[tuple[str, str]] = (),
    mail: bool = False,
    actor: str | None = None,
) -> Request:
    """A request made by the real services, in the current app context, committed.

    ``received`` (a datetime, or ISO text read by :func:`utc`; default now) is when it was
    submitted. ``verified`` confirms the identity at ``at`` (default: ``received``). Then the
    request moves through ``via`` to ``status`` (default: where verification left it), each
    step by ``change_status`` at ``at``; ``reason`` goes with the steps that need one. The
    lifecycle refuses an illegal route as it would in production.

    ``mail=False`` (the default): ``submit_request`` and ``change_status``, no mail queued.
    ``mail=True``: what the web intake does: ``file_request`` (which queues the verification
    mail) and ``confirm_verification`` (which queues the acknowledgement).

    ``actor`` (in the audit trail) is ``"test"``, or ``"subject"`` with ``mail=True``.

    ``corrections`` are ``(item, correct value)`` pairs; ``representative`` is
    ``(role, name, e-mail)``.
    """
    actor = actor or ("subject" if mail else "test")
    now = datetime.now(UTC)
    received_at = _when(received, now)
    moved_at = _when(at, received_at)
    if mail:
        rep = RepresentativeInput(*representative) if representative else None
        request = file_request(
            IntakeInput(
                kind=kind,
                name=name,
                email=email,
                details=details,
                language=language,
                corrections=tuple(
                    CorrectionInput(item, None, value) for item, value in corrections
                ),
                scope=scope,
                representative=rep,
                channel=channel,
                jurisdiction=jurisdiction,
            ),
            now=received_at,
            actor=actor,
        )
        if verified:
            confirm_verification(request, now=moved_at)
    else:
        request = submit_request(
            kind=kind,
            email=email,
            name=name,
            channel=channel,
            now=received_at,
            actor=actor,
            details=details,
            jurisdiction=jurisdiction,
            language=language,
            representative=representative,
            scope=scope,
            commit=False,
        )
        for item, value in corrections:
            request.corrections.append(CorrectionItem(item=item, correct_value=value))
        db.session.commit()
        if verified:
            change_status(request, Status.VERIFIED, actor=actor, now=moved_at)
    for step in (*via, *([status] if status is not None else [])):
        if step is request.status:
            continue
        change_status(
            request,
            step,
            actor=actor,
            now=moved_at,
            reason=reason if step in REASON_REQUIRED else None,
        )
    return request


def new_request(app: Flask, *, days_ago: int = 1, **fields) -> str:
    """:func:`make_request` in its own app context, received ``days_ago`` days ago; returns
    the reference."""
    with app.app_context():
        received = datetime.now(UTC) - timedelta(days=days_ago)
        return make_request(received=received, **fields).reference


# --- the public pages --------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def csrf(client, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on " + path
    return match.group(1)


def take_in(app) -> list[str]:
    """What the worker does first: the web form's waiting submissions become requests."""
    with app.app_context():
        report = process_submissions(now=views.utcnow())
        assert not report.failed, report.failed
        return report.filed


def send_mail(app) -> None:
    """One worker round: submissions become requests, then the outbox is sent."""
    take_in(app)
    with app.app_context():
        report = deliver_due(now=datetime.now(UTC), worker="test")
        assert report.failed == 0, report.errors


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path: str) -> str:
    """The path of the first ``http://rightsdesk.test<path>…`` link in the mail's text, without
    the ``?lang=`` every link to a subject's page carries."""
    match = re.search(r"http://rightsdesk\.test(" + re.escape(path) + r"[^\s?]+)", body_of(message))
    assert match, body_of(message)
    return match.group(1)


def file_access_request(client, lang="ko", email="kim.minji@example.com", **extra) -> object:
    """Post the public form for an access request, then let the worker take it in."""
    form = {
        "csrf_token": csrf(client, f"/requests/new?lang={lang}"),
        "kind": "access",
        "name": "김민지",
        "email": email,
        "details": "주문 내역과 배송지 정보를 보고 싶습니다.",
        "scope": "all",
        **extra,
    }
    response = client.post("/requests/new", data=form)
    take_in(client.application)
    return response


# --- the console -------------------------------------------------------------------------------

PASSWORD = "correct horse battery"


def make_staff(app, role: StaffRole, email: str | None = None) -> str:
    email = email or f"{role.value}@operator.example"
    with app.app_context():
        create_staff(
            email=email,
            name=f"{role.value} 담당",
            role=role,
            password=PASSWORD,
            actor="test",
            now=datetime.now(UTC),
        )
    return email


def sign_in(app, role: StaffRole, email: str | None = None):
    """A test client signed in to the console as a new member of staff with ``role``."""
    email = make_staff(app, role, email)
    client = app.test_client()
    response = client.post(
        "/admin/login",
        data={"csrf_token": csrf(client, "/admin/login"), "email": email, "password": PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def organisation(app) -> None:
    with app.app_context():
        set_up_organisation(
            slug="shop",
            name_ko="테스트 쇼핑",
            name_en="Test Shop",
            officer_name="홍길동",
            officer_email="privacy@shop.example",
            officer_phone=None,
            actor="test",
            now=datetime.now(UTC),
        )


def act(client, reference, action, **fields):
    """Post one of the console's actions on a request."""
    path = f"/admin/requests/{reference}"
    return client.post(
        f"{path}/actions/{action}", data={"csrf_token": csrf(client, path), **fields}
    )


# --- the demo shop: the operator's own database, as the demo data map describes it ------------

DEMO_MAP = Path(__file__).resolve().parent.parent / "rightsdesk" / "demo" / "demo_datamap.toml"
#: A customer of the demo shop, with orders, payments and marketing consents.
DEMO_SUBJECT = "jihoon.park@example.com"
SEOUL = ZoneInfo("Asia/Seoul")


@contextmanager
def shop_database(tmp_path: Path, prefix: str = "shop") -> Iterator[str]:
    """An empty database for the demo shop: a fresh PostgreSQL schema (``<prefix>_…``, dropped
    after) when the suite runs on PostgreSQL, else a SQLite file in ``tmp_path``."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'shop.db'}"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def shop_rows(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params).all()
    engine.dispose()
    return rows


def shop_count(url: str, sql: str, **params) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def local_cutoff(code: str) -> datetime:
    """The start of today's cutoff day for retention rule ``code``, Seoul time, as UTC."""
    today = datetime.now(UTC).astimezone(SEOUL).date()
    day = DEFAULT_SCHEDULE.cutoff(code, today)
    return datetime.combine(day, datetime.min.time(), tzinfo=SEOUL).astimezone(UTC)


def due_logs(url: str) -> int:
    """The shop's access-log rows the retention schedule says are due today."""
    cutoff = local_cutoff("access_log")
    if url.startswith("sqlite"):
        cutoff = cutoff.replace(tzinfo=None)
    return shop_count(url, "SELECT count(*) FROM access_logs WHERE at < :c", c=cutoff)


def open_action(page, selector: str) -> str:
    """Unfolds the group of actions on a request's page that holds ``selector`` (the next step
    is never folded) and returns the selector, to pass on: ``page.click(open_action(page, s))``."""
    page.wait_for_selector(selector, state="attached")
    unfold = "e => { const d = e.closest('details'); if (d) d.open = true; }"
    page.eval_on_selector(selector, unfold)
    return selector


# --- the browser ----------------------------------------------------------------------------

CHROMIUM = os.environ.get("RIGHTSDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def needs_chromium(what: str) -> pytest.MarkDecorator:
    """A browser test module's mark: skipped without Chromium, except where
    ``RIGHTSDESK_REQUIRE_BROWSER`` is set (CI), where a missing browser is an error at once
    rather than tests that quietly did not run."""
    missing = not Path(CHROMIUM).exists()
    if missing and os.environ.get("RIGHTSDESK_REQUIRE_BROWSER"):
        raise RuntimeError(
            f"RIGHTSDESK_REQUIRE_BROWSER is set but there is no Chromium at {CHROMIUM}"
        )
    return pytest.mark.skipif(
        missing, reason=f"{what} need Chromium at {CHROMIUM}: apt-get install chromium"
    )


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium through Playwright (it downloads no browser of its own here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()
