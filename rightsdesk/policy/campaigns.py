"""Notice campaigns: one legal notice, e-mailed once to every user of the operator.

A campaign keeps the exact subject, text and HTML it sends (per language), where its
recipients came from, and its counts and first/last send times: the evidence that a policy
change (or a dormancy notice) went out on time.

Reading. Recipients come from the data map's identity source — the SQL table whose
``identity`` has an ``email`` column (the demo: ``shop.users.email``) — read in batches by
primary key (keyset, never all rows in memory). Each batch's recipients and the campaign's
cursor are committed together, so a reader killed at any moment leaves a consistent campaign
that the next reader continues. Recipients are unique per (campaign, e-mail), inserted with
ON CONFLICT DO NOTHING, and the cursor moves by compare-and-set: two readers racing on the
same batch queue each address once and count it once. Placeholders of erased users
(``…@erased.invalid``) and empty addresses are skipped. Marketing consent is not consulted: a
notice of a policy change is a legal notice, not advertising (the template says so).

Sending. Recipients are a queue (:mod:`rightsdesk.core.jobqueue`): senders claim due ones,
earliest due first, with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
``UPDATE … RETURNING`` under SQLite's single writer) and send them through the
outbox's SMTP session (time-outs, connection reuse, the same back-off). The campaign's rate
holds for all senders together: each claim books send slots on the campaign row
(``paced_until``, a generic cell-rate algorithm), and a sender waits for each slot. A refused
recipient (5xx at RCPT) counts as bounced; any other permanent refusal, or
:data:`MAX_ATTEMPTS` transient failures, as failed. Like the outbox, delivery is at least
once: a sender killed between the server's "250" and its commit sends that one message again
after the lease.

Other notices (the retention jobs' dormancy notices) use the same machinery::

    from rightsdesk.policy import campaigns

    source = campaigns.IdentitySource("shop", "users", "email",
                                      before_column="last_login_at", before=cutoff)
    campaign = campaigns.start_campaign(
        purpose="dormancy",
        texts=campaigns.render_texts("dormancy_notice", {"days": 30}),  # or Texts(...) by hand
        source=source,            # read in batches by the worker, resumable …
        # recipients=[("a@example.com", "ko"), …]  # … or an explicit iterable, streamed in
        actor=Actor.system("retention"), now=now)
    db.session.commit()

The worker (``rightsdesk worker``) then reads and sends; ``rightsdesk campaigns send`` does
the same from the command line.
"""

from __future__ import annotations

import json
import smtplib
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import MetaData, Table, case, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from rightsdesk.core import audit, jobqueue, leases
from rightsdesk.core.actors import Actor
from rightsdesk.delivery.outbox import (
    DEMO_TRANSPORT,
    SmtpSession,
    backoff,
    demo_mailbox_active,
    describe_error,
    new_message_id,
    one_line,
    render,
    transmit,
)
from rightsdesk.domain.datamap import DataMap, SystemKind
from rightsdesk.domain.identity import InvalidEmail, normalise_email
from rightsdesk.extensions import db
from rightsdesk.models import (
    CampaignRecipient,
    NoticeCampaign,
    OutboxMessage,
    OutboxState,
    PolicyVersion,
)
from rightsdesk.systems.configured import FulfilmentError, configured_datamap, system_engine

READ_BATCH = 2000
SEND_BATCH = 50
LEASE = timedelta(minutes=10)
READ_LEASE = timedelta(minutes=5)
HORIZON = timedelta(seconds=1)
MAX_ATTEMPTS = 20  # transient failures, ~16 h of back-off, before a recipient counts as failed
ERASED_DOMAIN = "@erased.invalid"
LIST_SOURCE = "list"
SYSTEM_ACTOR = "system:campaigns"
READING, SENDING, DONE = "reading", "sending", "done"
PENDING, CLAIMED, SENT, BOUNCED, FAILED = "pending", "sending", "sent", "bounced", "failed"

#: Recipients wait ``pending`` until due, are ``sending`` while a sender holds them (until
#: ``lease_until``), and are taken earliest due first; claimed one campaign at a time.
RECIPIENTS = jobqueue.Queue(
    model=CampaignRecipient,
    due=CampaignRecipient.next_attempt_at,
    order_by=(CampaignRecipient.next_attempt_at,),
    state=CampaignRecipient.state,
    waiting=PENDING,
    held=CLAIMED,
    lease=jobqueue.Lease(CampaignRecipient.lease_until, LEASE, ends=True),
    error=CampaignRecipient.error,
    attempts=CampaignRecipient.attempts,
    failed=FAILED,
)


class CampaignError(ValueError):
    """A campaign that cannot start or read as asked; the message says what to fix."""


@dataclass(frozen=True)
class Texts:
    """A notice's exact subject, text and HTML per language (``ko`` required)."""

    subject: dict[str, str]
    text: dict[str, str]
    html: dict[str, str]


@dataclass(frozen=True)
class IdentitySource:
    """Where recipients are read: ``system.table.column``, optionally only rows whose
    ``before_column`` is earlier than ``before`` (dormancy: last activity before a cutoff)."""

    system: str
    table: str
    column: str
    before_column: str | None = None
    before: datetime | None = None
    after: datetime | None = None  # and not earlier than this (dormancy: the previous cutoff)

    @property
    def label(self) -> str:
        return f"{self.system}.{self.table}.{self.column}"

    def filter_json(self) -> str | None:
        if not self.before_column or self.before is None:
            return None
        data = {"column": self.before_column, "before": self.before.isoformat()}
        if self.after is not None:
            data["after"] = self.after.isoformat()
        return json.dumps(data)

    @classmethod
    def parse(cls, label: str, filter_json: str | None) -> IdentitySource:
        system, table, column = label.split(".", 2)
        if not filter_json:
            return cls(system, table, column)
        data = json.loads(filter_json)
        after = datetime.fromisoformat(data["after"]) if data.get("after") else None
        before = datetime.fromisoformat(data["before"])
        return cls(system, table, column, data["column"], before, after)


def identity_source(datamap: DataMap) -> IdentitySource:
    """The data map's table of users: an SQL table found by an ``email`` identity column
    directly (not through a relation)."""
    for system in datamap.systems:
        if system.kind != SystemKind.SQL:
            continue
        for table in system.tables:
            if table.via is None and "email" in table.identity:
                return IdentitySource(system.name, table.name, table.identity["email"])
    raise CampaignError("the data map names no SQL table with an e-mail identity column")


def default_rate() -> int:
    """Messages per minute for new campaigns (``RIGHTSDESK_CAMPAIGN_RATE_PER_MINUTE``)."""
    return max(1, int(current_app.config.get("CAMPAIGN_RATE_PER_MINUTE", 600)))


def render_texts(template: str, context: dict[str, Any]) -> Texts:
    """Render ``email/<template>`` in every configured language, once for all recipients."""
    subject, text, html = {}, {}, {}
    for language in current_app.config["LOCALES"]:
        subject[language], text[language], html[language] = render(template, language, context)
    return Texts(subject, text, html)


# --- starting ----------------------------------------------------------------------------------


def start_campaign(
    *,
    purpose: str,
    texts: Texts,
    actor: Actor,
    now: datetime,
    source: IdentitySource | None = None,
    recipients: Iterable[str | tuple[str, str]] | None = None,
    policy_version: PolicyVersion | None = None,
    rate_per_minute: int | None = None,
) -> NoticeCampaign:
    """Create a campaign in the caller's transaction (the caller commits).

    Give ``source`` (read later, in batches, by the worker) or ``recipients`` (an iterable of
    addresses or ``(address, language)`` pairs, streamed in now in batches).
    """
    if (source is None) == (recipients is None):
        raise CampaignError("give either a source to read or a list of recipients")
    rate = rate_per_minute or default_rate()
    campaign = _add_campaign(purpose, texts, source, policy_version, rate, actor, now)
    if recipients is not None:
        _stream_in(campaign, recipients)
    audit.record(
        "campaign.started",
        actor=actor,
        now=now,
        data={"campaign": campaign.id, "purpose": purpose, "source": campaign.source},
    )
    return campaign


def _add_campaign(
    purpose: str,
    texts: Texts,
    source: IdentitySource | None,
    policy_version: PolicyVersion | None,
    rate: int,
    actor: Actor,
    now: datetime,
) -> NoticeCampaign:
    """The campaign, added and flushed (so it has its id), nothing queued or sent yet."""
    campaign = NoticeCampaign(
        purpose=purpose,
        policy_version=policy_version,
        **_text_columns(texts),
        **_source_columns(source),
        rate_per_minute=rate,
        queued=0,
        sent=0,
        bounced=0,
        failed=0,
        created_by=actor,
        created_at=now,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _text_columns(texts: Texts) -> dict[str, str]:
    return {
        "subject_ko": one_line(texts.subject["ko"])[:300],
        "subject_en": one_line(texts.subject.get("en", ""))[:300],
        "text_ko": texts.text["ko"],
        "text_en": texts.text.get("en", ""),
        "html_ko": texts.html.get("ko", ""),
        "html_en": texts.html.get("en", ""),
    }


def _source_columns(source: IdentitySource | None) -> dict[str, str | None]:
    """Where recipients come from: a source still to read, or a list given (sent at once)."""
    return {
        "source": source.label if source else LIST_SOURCE,
        "source_filter": source.filter_json() if source else None,
        "state": READING if source else SENDING,
    }


def _stream_in(campaign: NoticeCampaign, recipients: Iterable[str | tuple[str, str]]) -> None:
    """Queue an explicit list of recipients, in batches (never all of them in memory)."""
    language = str(current_app.config["DEFAULT_LOCALE"])
    for chunk in _chunks(_pairs(recipients, language), READ_BATCH):
        campaign.queued += _insert_recipients(campaign, chunk)


def _pairs(items: Iterable[str | tuple[str, str]], language: str) -> Iterator[tuple[str, str]]:
    for item in items:
        address, chosen = (item, language) if isinstance(item, str) else item
        email = _usable(address)
        if email:
            yield email, chosen


def _usable(address: object) -> str | None:
    """The normalised address, or ``None`` for an empty, malformed or erased one."""
    if not isinstance(address, str) or not address.strip():
        return None
    try:
        email = normalise_email(address)
    except InvalidEmail:
        return None
    return None if email.endswith(ERASED_DOMAIN) else email


def _chunks(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert_recipients(campaign: NoticeCampaign, pairs: list[tuple[str, str]]) -> int:
    """Insert what is new; return how many were (an address already there is skipped)."""
    unique = dict(pairs)  # the same address twice in a batch: once
    if not unique:
        return 0
    rows = [
        {
            "campaign_id": campaign.id,
            "email": email,
            "language": language,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": campaign.created_at,
        }
        for email, language in unique.items()
    ]
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    table = CampaignRecipient.__table__
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email"])
        .returning(table.c.id)
    )
    # Core executemany with RETURNING: SQLAlchemy sends it as a few multi-row INSERTs, and
    # the rows returned are exactly those inserted (a conflict returns nothing).
    return len(db.session.connection().execute(statement, rows).all())


# --- reading -------------------------------------------------------------------------------------


@dataclass
class ReadReport:
    batches: int = 0
    queued: int = 0
    finished: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_batch(campaign_id: int, engine: Engine, *, batch: int = READ_BATCH) -> int | None:
    """Read one batch from the source and queue it; commit. How many were queued, or
    ``None`` when the source is exhausted (the campaign then moves on to sending) or another
    reader got there first."""
    campaign = db.session.get(NoticeCampaign, campaign_id)
    if campaign is None or campaign.state != READING:
        db.session.rollback()
        return None
    before = campaign.cursor
    keys, inserted = _queue_next(campaign, engine, before, batch)
    done = len(keys) < batch
    if not _move_cursor(campaign_id, before, keys, inserted, done):
        db.session.rollback()  # another reader moved it: its batch counts, this one does not
        return None
    if done:
        audit.record(
            "campaign.read",
            actor=SYSTEM_ACTOR,
            now=datetime.now(UTC),
            data={"campaign": campaign_id, "queued": campaign.queued + inserted},
        )
    db.session.commit()
    return None if done else inserted


def _queue_next(
    campaign: NoticeCampaign, engine: Engine, cursor: str | None, batch: int
) -> tuple[list[Any], int]:
    """Read the next batch after ``cursor`` and queue its usable addresses: the batch's keys
    and how many recipients were new."""
    source = IdentitySource.parse(campaign.source, campaign.source_filter)
    keys, addresses = _next_rows(engine, source, cursor, batch)
    language = str(current_app.config["DEFAULT_LOCALE"])
    usable = [(email, language) for email in map(_usable, addresses) if email]
    return keys, _insert_recipients(campaign, usable)


def _move_cursor(
    campaign_id: int, before: str | None, keys: list[Any], inserted: int, done: bool
) -> bool:
    """Count the batch and move the cursor past it (compare-and-set: only if it is still at
    ``before``); a source exhausted moves the campaign on to sending. Whether it moved."""
    values: dict[str, Any] = {"queued": NoticeCampaign.queued + inserted, "problem": None}
    if keys:
        values["cursor"] = json.dumps(keys[-1])
    if done:
        values["state"] = SENDING
    cursor = NoticeCampaign.cursor
    at_before = cursor.is_(None) if before is None else cursor == before
    return bool(
        db.session.execute(
            update(NoticeCampaign)
            .where(NoticeCampaign.id == campaign_id, NoticeCampaign.state == READING, at_before)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _next_rows(
    engine: Engine, source: IdentitySource, cursor: str | None, batch: int
) -> tuple[list[Any], list[str]]:
    """The next ``batch`` rows after ``cursor`` by primary key: their keys and addresses."""
    table = _reflect(engine, source)
    key = _single_key(table, source)
    column = table.c[source.column]
    query = select(key, column).where(column.is_not(None))
    query = query.where(~column.like(f"%{ERASED_DOMAIN}"))
    if source.before_column:
        query = query.where(table.c[source.before_column] < source.before)
        if source.after is not None:
            query = query.where(table.c[source.before_column] >= source.after)
    if cursor is not None:
        query = query.where(key > json.loads(cursor))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(key).limit(batch)).all()
    return [row[0] for row in rows], [row[1] for row in rows]


_REFLECTED: dict[tuple[str, str], Table] = {}


def _reflect(engine: Engine, source: IdentitySource) -> Table:
    cache_key = (engine.url.render_as_string(hide_password=True), source.table)
    if cache_key not in _REFLECTED:
        _REFLECTED[cache_key] = Table(source.table, MetaData(), autoload_with=engine)
    table = _REFLECTED[cache_key]
    for name in (source.column, source.before_column):
        if name and name not in table.c:
            raise CampaignError(f"{source.system}.{source.table} has no column {name!r}")
    return table


def _single_key(table: Table, source: IdentitySource):
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise CampaignError(
            f"{source.system}.{source.table} needs a single-column primary key to be read "
            "in batches"
        )
    return keys[0]


def read_due(
    *,
    worker: str,
    seconds: float = 5.0,
    batch: int = READ_BATCH,
    datamap: DataMap | None = None,
) -> ReadReport:
    """Read every campaign still reading, each under a lease, for about ``seconds``."""
    report = ReadReport()
    deadline = time.monotonic() + seconds
    ids = list(db.session.scalars(select(NoticeCampaign.id).where(NoticeCampaign.state == READING)))
    db.session.commit()
    for campaign_id in ids:
        if time.monotonic() >= deadline:
            break
        _read_one(campaign_id, worker, deadline, batch, datamap, report)
    return report


def _read_one(
    campaign_id: int,
    worker: str,
    deadline: float,
    batch: int,
    datamap: DataMap | None,
    report: ReadReport,
) -> None:
    name = f"campaign-read:{campaign_id}"
    if not leases.acquire(name, worker, now=datetime.now(UTC), ttl=READ_LEASE):
        return  # another reader has it; unique recipients keep a race harmless anyway
    try:
        campaign = db.session.get(NoticeCampaign, campaign_id)
        source = IdentitySource.parse(campaign.source, campaign.source_filter)
        try:
            _read_source(campaign_id, source, (name, worker), deadline, batch, datamap, report)
        except (FulfilmentError, CampaignError) as error:
            db.session.rollback()
            _problem(campaign_id, str(error), report)
    finally:
        leases.release(name, worker)


def _read_source(
    campaign_id: int,
    source: IdentitySource,
    lease: tuple[str, str],
    deadline: float,
    batch: int,
    datamap: DataMap | None,
    report: ReadReport,
) -> None:
    """Read batches until the source is exhausted or ``deadline``, renewing the read lease
    (its name and holder) after each batch."""
    system = _system(source, datamap)
    with system_engine(system) as engine:
        while time.monotonic() < deadline:
            queued = read_batch(campaign_id, engine, batch=batch)
            report.batches += 1
            if queued is None:
                report.finished.append(campaign_id)
                break
            report.queued += queued
            leases.acquire(*lease, now=datetime.now(UTC), ttl=READ_LEASE)


def _system(source: IdentitySource, datamap: DataMap | None):
    if datamap is None:
        datamap = configured_datamap()
    try:
        return datamap.system(source.system)
    except (KeyError, LookupError, ValueError):
        raise CampaignError(f"the data map has no system {source.system!r}") from None


def _problem(campaign_id: int, problem: str, report: ReadReport) -> None:
    """Keep why reading stopped, for staff; the next round tries again."""
    db.session.execute(
        update(NoticeCampaign).where(NoticeCampaign.id == campaign_id).values(problem=problem[:300])
    )
    db.session.commit()
    report.problems.append(f"campaign {campaign_id}: {problem}")


# --- sending -------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    bounced: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.bounced + self.failed


@dataclass(frozen=True)
class _Outgoing:
    """What :func:`rightsdesk.delivery.outbox.transmit` needs of a message."""

    subject: str
    recipient: str
    body_text: str
    body_html: str | None
    sender: str
    message_id: str
    in_reply_to: str | None = None
    references: str | None = None


def claim(
    campaign_id: int, *, now: datetime, batch: int = SEND_BATCH, at: datetime | None = None
) -> list[tuple[int, datetime]]:
    """Claim up to ``batch`` due recipients of one campaign, each with its send slot.

    The campaign row is updated first, which locks it: claims of all senders are serialised
    on it, so the slots they book never overlap and the rate holds across senders.
    """
    db.session.execute(
        update(NoticeCampaign)
        .where(NoticeCampaign.id == campaign_id)
        .values(paced_until=NoticeCampaign.paced_until)
        .execution_options(synchronize_session=False)
    )
    campaign = db.session.get(NoticeCampaign, campaign_id, populate_existing=True)
    interval = timedelta(minutes=1) / max(campaign.rate_per_minute, 1)
    at = at or now  # the real time the slots are counted from (``now`` may be a test's)
    start = max(campaign.paced_until or at, at)
    # Slots booked further ahead than the horizon belong to other senders' batches: wait.
    ids = _claim_rows(campaign_id, now, batch) if start <= at + HORIZON else []
    if ids:
        campaign.paced_until = start + interval * len(ids)
    db.session.commit()
    return [(rid, start + interval * i) for i, rid in enumerate(ids)]


def _claim_rows(campaign_id: int, now: datetime, limit: int) -> list[int]:
    """Due recipients of the campaign, and those of a sender that died (its lease ran out)."""
    of_campaign = CampaignRecipient.campaign_id == campaign_id
    return jobqueue.claim(RECIPIENTS, now=now, batch=limit, where=of_campaign)


def send_due(
    *,
    now: datetime,
    batch: int = SEND_BATCH,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """One round: for each campaign with recipients due, claim a batch and send it at the
    campaign's pace; commit after each message so a crash repeats at most one."""
    clock = clock or (lambda: datetime.now(UTC))
    report = SendReport()
    active = (
        select(NoticeCampaign.id).where(NoticeCampaign.state != DONE).order_by(NoticeCampaign.id)
    )
    for campaign_id in list(db.session.scalars(active)):
        claimed = claim(campaign_id, now=now, batch=batch, at=clock())
        if claimed:
            _send_claimed(campaign_id, claimed, report, now, clock, sleep)
        finish_if_done(campaign_id, now=clock())
    return report


def _send_claimed(
    campaign_id: int,
    claimed: list[tuple[int, datetime]],
    report: SendReport,
    now: datetime,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> None:
    campaign = db.session.get(NoticeCampaign, campaign_id)
    texts = _texts_of(campaign)
    sender = one_line(str(current_app.config["MAIL_DEFAULT_SENDER"]))
    with SmtpSession() as smtp:
        if not demo_mailbox_active():
            _no_delay(smtp)
        for recipient_id, slot in claimed:
            wait = (slot - clock()).total_seconds()
            if wait > 0:
                sleep(wait)
            recipient = db.session.get(CampaignRecipient, recipient_id)
            if recipient is None or recipient.state != CLAIMED:
                continue
            crash = jobqueue.isolated(
                RECIPIENTS,
                recipient_id,
                lambda r=recipient: _deliver(
                    campaign_id, r, _message(texts, r, sender), smtp, report, now, clock
                ),
                now=now,
            )
            if crash is not None:
                smtp.reset()
                report.errors.append(f"recipient {recipient_id}: {crash}")


def _no_delay(smtp: SmtpSession) -> None:
    """Send each SMTP command at once (TCP_NODELAY): with Nagle's algorithm and delayed ACKs
    a message costs ~25 ms of waiting, capping one sender near 40 messages a second."""
    try:
        sock = smtp.connection().host.sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, smtplib.SMTPException, AttributeError):
        smtp.reset()  # the first message reopens the connection and reports the failure


def _texts_of(campaign: NoticeCampaign) -> dict[str, tuple[str, str, str]]:
    english = (campaign.subject_en, campaign.text_en, campaign.html_en)
    texts = {"ko": (campaign.subject_ko, campaign.text_ko, campaign.html_ko)}
    if campaign.text_en:
        texts["en"] = english
    return texts


def _message(texts: dict[str, tuple[str, str, str]], recipient: CampaignRecipient, sender: str):
    subject, body, html = texts.get(recipient.language) or texts["ko"]
    return _Outgoing(
        subject=subject,
        recipient=recipient.email,
        body_text=body,
        body_html=html or None,
        sender=sender,
        message_id=new_message_id(current_app.config["MESSAGE_ID_DOMAIN"]),
    )


def _deliver(
    campaign_id: int,
    recipient: CampaignRecipient,
    outgoing: _Outgoing,
    smtp: SmtpSession,
    report: SendReport,
    now: datetime,
    clock: Callable[[], datetime],
) -> None:
    recipient.attempts += 1
    try:
        transport = transmit(outgoing, smtp)  # type: ignore[arg-type]  # duck-typed message
    except smtplib.SMTPRecipientsRefused as error:
        _settle(campaign_id, recipient, BOUNCED, error, report)
    except smtplib.SMTPResponseException as error:
        smtp.reset()
        outcome = FAILED if 500 <= error.smtp_code < 600 else None
        _settle(campaign_id, recipient, outcome, error, report, now)
    except (OSError, smtplib.SMTPException) as error:  # refused, reset, timed out, …
        smtp.reset()
        _settle(campaign_id, recipient, None, error, report, now)
    else:
        _sent(campaign_id, recipient, clock(), report)
        if transport == DEMO_TRANSPORT:
            _into_demo_mailbox(outgoing, recipient)


def _sent(campaign_id: int, recipient: CampaignRecipient, at: datetime, report: SendReport) -> None:
    jobqueue.release(RECIPIENTS, recipient, SENT)
    recipient.sent_at, recipient.error = at, None
    c = NoticeCampaign
    db.session.execute(
        update(c)
        .where(c.id == campaign_id)
        .values(
            sent=c.sent + 1,
            first_sent_at=func.coalesce(c.first_sent_at, at),
            last_sent_at=case(
                ((c.last_sent_at.is_(None)) | (c.last_sent_at < at), at), else_=c.last_sent_at
            ),
        )
        .execution_options(synchronize_session=False)
    )
    report.sent += 1


def _settle(
    campaign_id: int,
    recipient: CampaignRecipient,
    outcome: str | None,
    error: BaseException,
    report: SendReport,
    now: datetime | None = None,
) -> None:
    """A refusal (``outcome`` bounced or failed) or a transient failure (``None``: retried
    with the outbox's back-off until :data:`MAX_ATTEMPTS`)."""
    reason = describe_error(error)[:300]
    report.errors.append(f"campaign {campaign_id} recipient {recipient.id}: {reason}")
    if outcome is None and recipient.attempts < MAX_ATTEMPTS:
        wait = backoff(recipient.attempts)
        at = now or datetime.now(UTC)
        jobqueue.give_back(RECIPIENTS, recipient, now=at, wait=wait, error=reason)
        report.retrying += 1
        return
    _refused(campaign_id, recipient, outcome or FAILED, reason, report)


def _refused(
    campaign_id: int, recipient: CampaignRecipient, outcome: str, reason: str, report: SendReport
) -> None:
    """Settled for good: bounced or failed, counted on the campaign."""
    jobqueue.release(RECIPIENTS, recipient, outcome)
    recipient.error = reason
    counter = NoticeCampaign.bounced if outcome == BOUNCED else NoticeCampaign.failed
    db.session.execute(
        update(NoticeCampaign)
        .where(NoticeCampaign.id == campaign_id)
        .values({counter.key: counter + 1})
        .execution_options(synchronize_session=False)
    )
    if outcome == BOUNCED:
        report.bounced += 1
    else:
        report.failed += 1


def _into_demo_mailbox(outgoing: _Outgoing, recipient: CampaignRecipient) -> None:
    """Demo mode without SMTP: the notice is shown at /dev/mailbox like every other mail."""
    db.session.add(
        OutboxMessage(
            template="notice_campaign",  # a policy change or a dormancy notice
            language=recipient.language,
            recipient=outgoing.recipient,
            sender=outgoing.sender,
            subject=outgoing.subject,
            body_text=outgoing.body_text,
            body_html=outgoing.body_html,
            message_id=outgoing.message_id,
            state=OutboxState.SENT,
            attempts=1,
            next_attempt_at=recipient.sent_at,
            created_at=recipient.sent_at,
            sent_at=recipient.sent_at,
            transport=DEMO_TRANSPORT,
        )
    )


def finish_if_done(campaign_id: int, *, now: datetime) -> bool:
    """Close a campaign whose every recipient is settled; record the evidence in the trail."""
    r = CampaignRecipient
    open_rows = exists().where(r.campaign_id == campaign_id, r.state.in_((PENDING, CLAIMED)))
    closed = db.session.execute(
        update(NoticeCampaign)
        .where(NoticeCampaign.id == campaign_id, NoticeCampaign.state == SENDING, ~open_rows)
        .values(state=DONE, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed:
        campaign = db.session.get(NoticeCampaign, campaign_id, populate_existing=True)
        audit.record("campaign.finished", actor=SYSTEM_ACTOR, now=now, data=evidence(campaign))
    db.session.commit()
    return bool(closed)


def evidence(campaign: NoticeCampaign) -> dict[str, Any]:
    """Counts and times of a campaign (no addresses), as kept in the audit trail."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "campaign": campaign.id,
        "purpose": campaign.purpose,
        "queued": campaign.queued,
        "sent": campaign.sent,
        "bounced": campaign.bounced,
        "failed": campaign.failed,
        "first_sent_at": iso(campaign.first_sent_at),
        "last_sent_at": iso(campaign.last_sent_at),
        "finished_at": iso(campaign.finished_at),
    }


def pending(campaign: NoticeCampaign) -> int:
    return max(campaign.queued - campaign.sent - campaign.bounced - campaign.failed, 0)


def work(*, now: datetime, worker: str, read_seconds: float = 5.0) -> tuple[ReadReport, SendReport]:
    """What the worker does each round: read a while, then send what is due."""
    return read_due(worker=worker, seconds=read_seconds), send_due(now=now)


def list_campaigns(limit: int = 50) -> list[NoticeCampaign]:
    query = select(NoticeCampaign).order_by(NoticeCampaign.id.desc()).limit(limit)
    return list(db.session.scalars(query))
