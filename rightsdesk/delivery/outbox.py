"""The durable outbox: every e-mail is a row before it is a message.

``queue`` renders the mail at once and adds it to the caller's transaction, so a notice exists
exactly when the change it announces is committed. ``deliver_due`` claims due rows, sends them
through Flask-Mail and records the outcome one message at a time. A transient failure (SMTP down,
4xx) waits with exponential back-off and is retried until it goes out; a permanent refusal (the
recipient does not exist) stops and is shown to staff. The rows are a queue
(:mod:`rightsdesk.core.jobqueue`): two senders never claim the same row (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, a conditional UPDATE under SQLite's single writer). Delivery is at least
once: a sender killed between the SMTP server's "250 OK" and its own commit leaves a claim that
is retried after the lease, so that message may go out twice.
"""

from __future__ import annotations

import contextlib
import smtplib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import Connection, Message

from rightsdesk.core import jobqueue, stopping
from rightsdesk.core.stopping import worker_lease
from rightsdesk.domain.identity import normalise_email
from rightsdesk.extensions import db
from rightsdesk.models import OutboxMessage, OutboxState

LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
DEMO_TRANSPORT = "demo-mailbox"
SMTP_TRANSPORT = "smtp"

#: Mail waits ``queued`` until due, is ``sending`` while a sender holds it (``claimed_at``,
#: ``claimed_by``), and is reclaimed once that claim is older than :data:`LEASE`; by id.
MAIL = jobqueue.Queue(
    model=OutboxMessage,
    due=OutboxMessage.next_attempt_at,
    order_by=(OutboxMessage.id,),
    state=OutboxMessage.state,
    waiting=OutboxState.QUEUED,
    held=OutboxState.SENDING,
    lease=jobqueue.Lease(
        OutboxMessage.claimed_at, LEASE, ends=False, holder=OutboxMessage.claimed_by
    ),
    error=OutboxMessage.last_error,
    attempts=OutboxMessage.attempts,
    failed=OutboxState.FAILED,
)


def new_message_id(domain: str) -> str:
    """A Message-ID that is unique without help from the ``random`` module, which
    ``email.utils.make_msgid`` draws from and which anything in the process may have seeded
    (two messages queued within the same 10 ms then got the same ID)."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def one_line(text: str) -> str:
    """Collapse every run of whitespace, CR and LF included: nothing can start a new header."""
    return " ".join(text.split())


def render(template: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text body and HTML body of ``email/<template>``, in ``language``.

    The text template holds a ``subject`` block and a ``body`` block; the HTML template is a
    normal page extending ``email/layout.html``.
    """
    with force_locale(language):
        text_template = current_app.jinja_env.get_template(f"email/{template}.txt")
        full_context = {**context, "language": language}
        current_app.update_template_context(full_context)
        jinja_context = text_template.new_context(full_context)
        subject = one_line("".join(text_template.blocks["subject"](jinja_context)))
        body = "".join(text_template.blocks["body"](jinja_context)).strip() + "\n"
        html = render_template(f"email/{template}.html", **context, language=language)
    return subject, body, html


def queue(
    template: str,
    *,
    recipient: str,
    language: str,
    context: dict[str, Any],
    now: datetime,
    request_ref: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> OutboxMessage:
    """Render a mail and add it to the session; the caller's commit makes it durable."""
    subject, body_text, body_html = render(template, language, context)
    message = OutboxMessage(
        request_ref=request_ref,
        template=template,
        language=language,
        recipient=normalise_email(recipient, strict=False),
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        **_envelope(in_reply_to, references),
        state=OutboxState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    return message


def _envelope(in_reply_to: str | None, references: Sequence[str]) -> dict[str, str | None]:
    """The sender, a new Message-ID and the threading headers, each on one line."""
    config = current_app.config
    return {
        "sender": one_line(str(config["MAIL_DEFAULT_SENDER"])),
        "message_id": new_message_id(config["MESSAGE_ID_DOMAIN"]),
        "in_reply_to": one_line(in_reply_to) if in_reply_to else None,
        "references": one_line(" ".join(references)) if references else None,
    }


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at one hour: an outage of any length loses nothing."""
    return jobqueue.backoff(attempts, first=FIRST_RETRY, longest=LONGEST_WAIT)


def retry_now(*, now: datetime) -> int:
    """Make every message waiting on a back-off due at once (after an outage is fixed)."""
    count = jobqueue.retry_now(MAIL, now=now)
    db.session.commit()
    return count


def claim(
    *, now: datetime, worker: str, batch: int = 50, lease: timedelta | None = None
) -> list[int]:
    """Mark up to ``batch`` due messages as this sender's; return their ids."""
    ids = jobqueue.claim(MAIL, now=now, batch=batch, worker=worker, lease=lease)
    db.session.commit()
    return ids


def deliver_due(
    *, now: datetime, worker: str, batch: int = 50, clock: Callable[[], datetime] | None = None
) -> DeliveryReport:
    """Send what is due; commit after each message so a crash repeats at most one. The lease
    is renewed as the batch goes on; asked to stop, the sender hands the rest back at once."""
    clock = clock or (lambda: datetime.now(UTC))
    report = DeliveryReport()
    lease = worker_lease()
    ids = claim(now=now, worker=worker, batch=batch, lease=lease)
    held = jobqueue.worked(
        MAIL, ids, length=lease, worker=worker, stop=stopping.requested, clock=advancing(now)
    )
    with SmtpSession() as smtp:
        for message_id in held:
            message = db.session.get(OutboxMessage, message_id)
            if message is None or message.state is not OutboxState.SENDING:
                continue
            attempt = _isolated_attempt(message, smtp, now, clock, report)
            if (crash := jobqueue.isolated(MAIL, message_id, attempt, now=now)) is not None:
                smtp.reset()  # the connection may be mid-conversation
                report.failed += 1
                report.errors.append(f"message {message_id}: {crash}")
    return report


def _isolated_attempt(message, smtp, now, clock, report) -> Callable[[], None]:
    """The attempt on one message as :func:`jobqueue.isolated` runs it: what it reports is
    counted only if it commits (a crash is counted as such instead)."""

    def attempt() -> None:
        counted = DeliveryReport()
        _attempt(message, smtp, now, clock, counted)
        db.session.flush()
        report.sent += counted.sent
        report.retrying += counted.retrying
        report.failed += counted.failed
        report.errors.extend(counted.errors)

    return attempt


def advancing(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` (a caller's ``now``) and runs with real time."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def _attempt(
    message: OutboxMessage,
    smtp: SmtpSession,
    now: datetime,
    clock: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    """Send one claimed message and settle it: sent, refused for good, or back to wait."""
    message.attempts += 1
    try:
        message.transport = transmit(message, smtp)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
        _fail(message, error, report)
    except smtplib.SMTPResponseException as error:
        smtp.reset()
        if 500 <= error.smtp_code < 600:
            _fail(message, error, report)
        else:
            _retry(message, error, now, report)
    except (OSError, smtplib.SMTPException) as error:  # refused, reset, timed out, …
        smtp.reset()
        _retry(message, error, now, report)
    else:
        _sent(message, clock(), report)


def _sent(message: OutboxMessage, at: datetime, report: DeliveryReport) -> None:
    jobqueue.release(MAIL, message, OutboxState.SENT)
    message.sent_at = at
    message.last_error = None
    report.sent += 1


class SmtpSession:
    """One SMTP connection for a batch, opened on first use, with a time-out on every step.

    Flask-Mail's own connection has no time-out (a silent server would hang the sender) and
    treats a failed QUIT after an accepted message as a failure (which would send it twice).
    """

    def __init__(self) -> None:
        self._connection: Connection | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.reset()

    def connection(self) -> Connection:
        if self._connection is None:
            connection = _TimedConnection(current_app.extensions["mail"])
            connection.__enter__()
            self._connection = connection
        return self._connection

    def reset(self) -> None:
        """Drop the connection; the next message opens a new one."""
        if self._connection is not None and self._connection.host is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._connection.host.quit()
        self._connection = None


class _TimedConnection(Connection):
    def configure_host(self) -> smtplib.SMTP:
        timeout = float(current_app.config.get("MAIL_TIMEOUT", 30))
        state = self.mail
        smtp_class = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = smtp_class(state.server, state.port, timeout=timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


def describe_error(error: BaseException) -> str:
    text = one_line(f"{type(error).__name__}: {error}")
    return text[:500]


def _retry(message: OutboxMessage, error: BaseException, now: datetime, report) -> None:
    wait = backoff(message.attempts)
    jobqueue.give_back(MAIL, message, now=now, wait=wait, error=describe_error(error))
    report.retrying += 1
    report.errors.append(f"message {message.id}: {message.last_error}")


def _fail(message: OutboxMessage, error: BaseException, report) -> None:
    jobqueue.release(MAIL, message, OutboxState.FAILED)
    message.last_error = describe_error(error)
    report.failed += 1
    report.errors.append(f"message {message.id}: {message.last_error}")


def demo_mailbox_active() -> bool:
    """Demo mode without an SMTP server: mail is 'delivered' to the /dev/mailbox page."""
    config = current_app.config
    return bool(config.get("DEMO")) and not config.get("MAIL_SERVER_CONFIGURED")


def transmit(message: OutboxMessage, smtp: SmtpSession) -> str:
    if demo_mailbox_active():
        return DEMO_TRANSPORT
    headers = {"Auto-Submitted": "auto-generated"}  # RFC 3834: auto-responders stay quiet
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    outgoing = Message(
        subject=message.subject,
        recipients=[message.recipient],
        body=message.body_text,
        html=message.body_html,
        sender=message.sender,
        extra_headers=headers,
    )
    outgoing.msgId = message.message_id
    smtp.connection().send(outgoing)
    return SMTP_TRANSPORT
