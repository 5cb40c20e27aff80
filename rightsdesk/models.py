"""Typed SQLAlchemy mappings. Invariants live in constraints; workflow lives in ``services``."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, Status
from rightsdesk.extensions import db


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, stored as UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime; times are stored in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


#: The open statuses as SQL, for partial indexes (same order as the migration writes them).
OPEN_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OPEN)))


class Channel(enum.StrEnum):
    WEB = "web"
    EMAIL = "email"
    STAFF = "staff"
    API = "api"


class RepresentativeRole(enum.StrEnum):
    LEGAL_GUARDIAN = "legal_guardian"  # 법정대리인, e.g. of a child under 14
    AGENT = "agent"  # 위임받은 자, with a power of attorney (위임장)


class StaffRole(enum.StrEnum):
    ADMIN = "admin"  # everything, settings and staff included
    HANDLER = "handler"  # works requests
    AUDITOR = "auditor"  # reads everything, the audit trail included; changes nothing


class OutboxState(enum.StrEnum):
    QUEUED = "queued"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender; reclaimed if the claim grows old
    SENT = "sent"
    FAILED = "failed"  # refused for good (e.g. the recipient does not exist): staff see it


class OverrideAction(enum.StrEnum):
    ADD = "add"  # a day off the holidays package does not know (e.g. 임시공휴일)
    REMOVE = "remove"  # a listed holiday that is a working day after all


class Organisation(db.Model):
    """The operator running rightsdesk, and the facts its notices must state."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    privacy_officer_name: Mapped[str] = mapped_column(String(200))
    privacy_officer_email: Mapped[str] = mapped_column(String(254))
    privacy_officer_phone: Mapped[str | None] = mapped_column(String(50))
    privacy_officer_title: Mapped[str | None] = mapped_column(String(200))  # 직위
    privacy_officer_department: Mapped[str | None] = mapped_column(String(200))  # 소속 부서
    objection_method_ko: Mapped[str] = mapped_column(Text)
    objection_method_en: Mapped[str] = mapped_column(Text)
    # Overrides RIGHTSDESK_DEFAULT_JURISDICTION for new requests when set in the console.
    default_jurisdiction: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    promises: Mapped[list[PromisedPeriod]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )


class JurisdictionSetting(db.Model):
    """The operator's choices within one jurisdiction: the region whose calendar applies (EU
    Member State, UK nation) and the supervisory authority its refusal notices name."""

    __tablename__ = "jurisdiction_settings"
    __table_args__ = (UniqueConstraint("organisation_id", "jurisdiction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(16))
    authority_name: Mapped[str | None] = mapped_column(String(200))
    authority_contact: Mapped[str | None] = mapped_column(Text)


class PromisedPeriod(db.Model):
    """A response period the operator's own policy promises, shorter than the statute's."""

    __tablename__ = "promised_periods"
    __table_args__ = (
        UniqueConstraint("organisation_id", "jurisdiction", "kind"),
        CheckConstraint("days > 0", name="days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[RequestKind] = mapped_column(_enum(RequestKind, "request_kind"))
    days: Mapped[int] = mapped_column(Integer)

    organisation: Mapped[Organisation] = relationship(back_populates="promises")


class Subject(db.Model):
    """The person a request is about, known by a normalised e-mail address; or, when they
    phoned or wrote without one, by the postal address or phone number staff took down (such
    a subject is never matched to another request: one row per request)."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    postal_address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(50))
    # HMAC-SHA256 of the e-mail under the subject-hash key: host apps ask about restrictions
    # by this value, so the API never needs the address in a URL.
    lookup_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    requests: Mapped[list[Request]] = relationship(back_populates="subject")


class Request(db.Model):
    """A data-subject rights request and its statutory clock."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint("extension_count >= 0", name="extension_count_non_negative"),
        CheckConstraint("paused_days >= 0", name="paused_days_non_negative"),
        CheckConstraint(
            "promised_due_date IS NULL OR promised_due_date <= due_date",
            name="promise_not_after_law",
        ),
        Index("ix_requests_status_due", "status", "due_date"),
        # The queue's order over open requests only (see the migration and `rightsdesk bench`).
        Index(
            "ix_requests_open_due",
            "due_date",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
        Index(
            "ix_requests_open_assignee_due",
            "assignee_id",
            "due_date",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[RequestKind] = mapped_column(_enum(RequestKind, "request_kind"))
    status: Mapped[Status] = mapped_column(_enum(Status, "request_status"))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "request_channel"))
    language: Mapped[str] = mapped_column(String(8), default="ko")
    # Nullable: the subject row goes when an expired or purged request was their only one.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    details: Mapped[str | None] = mapped_column(Text)
    # Deletion/suspension scope: {"all": true} or {"purposes": ["marketing", ...]}.
    scope: Mapped[dict | None] = mapped_column(JSON)
    # Rotating it revokes every status link already sent (the link carries it, signed).
    status_secret: Mapped[str] = mapped_column(String(64))
    personal_data_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[date] = mapped_column(Date)
    promised_due_date: Mapped[date | None] = mapped_column(Date)
    notice_due_date: Mapped[date] = mapped_column(Date)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # UK GDPR Art. 12A: the period begins again when the identity, fee or clarification asked
    # for arrives (profiles with clock_starts = "last_answer").
    clock_restarted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What staff are waiting for: "identity", "fee", "clarification" (Art. 12A restarts the
    # period on the answer) or "other" (it does not).
    awaiting_purpose: Mapped[str | None] = mapped_column(String(16))
    # PIPA §35③ 후문: access postponed until its ground ends. The review date is the
    # operator's internal check, never a legal due date; once staff record the ground's end,
    # access is due without delay (the operator's target in days from that date).
    deferral_review_on: Mapped[date | None] = mapped_column(Date)
    deferral_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_reason: Mapped[str | None] = mapped_column(Text)
    # A refusal (or the refused part of a partial completion): the ground's code in the
    # jurisdiction profile, and what the subject was told.
    refusal_ground: Mapped[str | None] = mapped_column(String(64))
    outcome_text: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # The host application that filed it through the API: it may read it and gets its webhooks.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    # Staff-entered requests: how it reached us (phone, letter, in_person) and how staff
    # confirmed who the person is (영 §46), in their words.
    received_via: Mapped[str | None] = mapped_column(String(16))
    identity_method: Mapped[str | None] = mapped_column(String(300))
    # Notices go on paper (a printed letter staff post) rather than by e-mail.
    reply_by_post: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    subject: Mapped[Subject | None] = relationship(back_populates="requests")
    assignee: Mapped[StaffUser | None] = relationship()
    notes: Mapped[list[Note]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Note.id"
    )
    representative: Mapped[Representative | None] = relationship(
        back_populates="request", cascade="all, delete-orphan", uselist=False
    )
    corrections: Mapped[list[CorrectionItem]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="CorrectionItem.id"
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Question.id"
    )
    downloads: Mapped[list[Download]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Download.id"
    )

    @property
    def contact_email(self) -> str | None:
        """Where notices go: the representative acting for the subject, else the subject."""
        if self.representative is not None:
            return self.representative.email
        return self.subject.email if self.subject else None

    @property
    def postal_contact(self) -> tuple[str, str] | None:
        """Name and postal address for a letter: the representative's, else the subject's."""
        rep, subject = self.representative, self.subject
        if rep is not None and rep.postal_address:
            return rep.name, rep.postal_address
        if rep is None and subject is not None and subject.postal_address:
            return subject.name or "", subject.postal_address
        return None

    @property
    def phone_contact(self) -> tuple[str, str] | None:
        """Name and phone number when the subject, acting alone, gave only a phone number."""
        subject = self.subject
        if self.representative is None and subject is not None and subject.phone:
            return subject.name or "", subject.phone
        return None

    @property
    def answers_by_post(self) -> bool:
        """Notices are letters: the person asked for paper, or gave no e-mail address."""
        return self.reply_by_post or not self.contact_email

    @property
    def working_due_date(self) -> date:
        return self.promised_due_date or self.due_date


class Representative(db.Model):
    """Someone acting for the subject: a legal representative or an agent (영 §45)."""

    __tablename__ = "representatives"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    role: Mapped[RepresentativeRole] = mapped_column(
        _enum(RepresentativeRole, "representative_role")
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)  # the queue searches it
    postal_address: Mapped[str | None] = mapped_column(Text)
    # The proof (위임장, family register …): a random file name under instance/uploads/.
    proof_file: Mapped[str | None] = mapped_column(String(100))
    proof_content_type: Mapped[str | None] = mapped_column(String(100))
    proof_size: Mapped[int | None] = mapped_column(Integer)
    proof_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship(back_populates="representative")


class StaffUser(db.Model):
    """A member of staff. Passwords are scrypt hashes; the TOTP secret is optional."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    password_hash: Mapped[str] = mapped_column(String(300))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # The time step of the last code accepted: a code is good once (RFC 6238 §5.2).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped on password change or deactivation: every session of the old value ends.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Flask-Login's interface.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class LoginThrottle(db.Model):
    """Failed sign-ins counted per address-and-client pair and per address (all clients), known
    account or not, so the answer tells nobody which addresses are staff. ``key`` is a hash:
    the address and client address are not stored here."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ApiKey(db.Model):
    """A host application's key. Only a hash of the key is kept; the signing secret (for
    identity assertions it sends and webhooks it receives) is kept to sign with."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    signing_secret: Mapped[str] = mapped_column(String(100))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class IdempotentResponse(db.Model):
    """The first answer to a POST with an Idempotency-Key, replayed for every retry."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the request body
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(db.Model):
    """A status event for a host application, delivered in order per request, never lost."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("request_ref", "sequence"),
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    request_ref: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, … per request: the delivery order
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON that is signed and sent
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "webhook_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Note(db.Model):
    """An internal note on a request: staff only, never shown to the subject."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)

    request: Mapped[Request] = relationship(back_populates="notes")
    author: Mapped[StaffUser | None] = relationship()


class CorrectionItem(db.Model):
    """One item a correction request asks to change (정정 요구 항목)."""

    __tablename__ = "correction_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    current_value: Mapped[str | None] = mapped_column(Text)
    correct_value: Mapped[str] = mapped_column(Text)
    # Staff decide each item: approved ones are applied to the data map's field ``target``
    # ("system.table.column") in the operator's database.
    decision: Mapped[str | None] = mapped_column(String(16))  # "approved" or "rejected"
    target: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_changed: Mapped[int | None] = mapped_column(Integer)

    request: Mapped[Request] = relationship(back_populates="corrections")


class Question(db.Model):
    """A question from staff that the subject answers on the status page."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    asked_by: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_file: Mapped[str | None] = mapped_column(String(100))
    answer_content_type: Mapped[str | None] = mapped_column(String(100))

    request: Mapped[Request] = relationship(back_populates="questions")


class Download(db.Model):
    """A file for the subject (e.g. the copy an access request asked for), offered on the status
    page until it expires. Stored like uploads: random name, outside the web root."""

    __tablename__ = "downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    file: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship(back_populates="downloads")


class ErasureStep(db.Model):
    """One step of an erasure (삭제) run: a table of an SQL system, or a webhook or manual
    system. Steps are planned once, then done in order; a run that crashed resumes at the
    first step not done. Counts only, never the data."""

    __tablename__ = "erasure_steps"
    __table_args__ = (UniqueConstraint("request_id", "system", "table_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(100), default="")  # "" for a whole system
    kind: Mapped[str] = mapped_column(String(16))  # sql, webhook, manual
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    anonymised: Mapped[int] = mapped_column(Integer, default=0)
    retained: Mapped[int] = mapped_column(Integer, default=0)
    retention: Mapped[str | None] = mapped_column(String(40))  # retention category code
    basis: Mapped[str | None] = mapped_column(String(200))
    # statute, policy or statute+policy (the rule's basis kind when the step was planned).
    basis_kind: Mapped[str | None] = mapped_column(String(16))
    # Rows kept under the operator's own policy are no §36① 단서 ground: staff decide "keep"
    # (naming the basis relied on, decision_basis) or "delete" before the finish.
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_basis: Mapped[str | None] = mapped_column(Text)
    retained_until: Mapped[date | None] = mapped_column(Date)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship()


class RetainedRecord(db.Model):
    """Separated storage (분리 보관, PIPA §21③): a row a statute makes the operator keep after
    the subject's erasure, moved out of the operator's live tables, encrypted, with its legal
    basis and the date after which it is destroyed. Read only for that legal purpose."""

    __tablename__ = "retained_records"
    __table_args__ = (UniqueConstraint("system", "table_name", "row_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    system: Mapped[str] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(100))
    row_key: Mapped[str] = mapped_column(String(200))  # JSON of the primary key
    category: Mapped[str] = mapped_column(String(40))
    basis: Mapped[str] = mapped_column(String(200))
    purge_after: Mapped[date] = mapped_column(Date, index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # HMAC of the account's e-mail (dormancy): finds a person's separated rows for an access
    # request or a restore without decrypting everyone's.
    lookup_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class ConnectorJob(db.Model):
    """A signed job for a webhook system of the data map (access, erasure, correction, stop),
    delivered by the worker with retries and back-off. An access result (personal data) is
    kept encrypted until the package is built; other results are counts."""

    __tablename__ = "connector_jobs"
    __table_args__ = (
        UniqueConstraint("request_id", "system", "action"),
        Index("ix_connector_jobs_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    system: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict | None] = mapped_column(JSON)
    result_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[Request] = relationship()


class ChecklistItem(db.Model):
    """A manual system's instructions turned into an item staff tick, with a note."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("request_id", "system", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    system: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    request: Mapped[Request] = relationship()


class DestructionRecord(db.Model):
    """A destruction (파기) record (영 §16): what category, how many, when, how and under which
    rule — never the destroyed data."""

    __tablename__ = "destruction_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    job: Mapped[str] = mapped_column(String(60))
    rule: Mapped[str] = mapped_column(String(60))
    basis: Mapped[str] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(20))  # delete, anonymise
    count: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))


class PurgeProgress(db.Model):
    """What one run has destroyed so far in one table of the operator's, kept in rightsdesk's
    database batch by batch: ``done`` rows confirmed, and the batch in flight (JSON: its key
    span and count; a list of keys in runs before spans) until the operator's database
    confirms it. A killed run is credited with exactly this, never with rows that something
    else (an erasure) deleted meanwhile (:mod:`rightsdesk.retention.progress`)."""

    __tablename__ = "purge_progress"
    __table_args__ = (UniqueConstraint("run_id", "system", "table_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(100))
    done: Mapped[int] = mapped_column(Integer, default=0)
    inflight: Mapped[str | None] = mapped_column(Text)


class JobLock(db.Model):
    """A named lease, so two workers never run the same job at once (on SQLite too; PostgreSQL
    additionally takes an advisory lock)."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkerHeartbeat(db.Model):
    """A ``rightsdesk worker`` process, as it last reported itself: so a dead worker is noticed
    by ``/healthz``, the metrics and ``rightsdesk check --deploy``, not by a queue that waits.
    ``clock_skew`` is the worker host's clock minus the database's, in seconds."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    host: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clock_skew: Mapped[float] = mapped_column(Float, default=0.0)


class PolicyVersion(db.Model):
    """A version of the privacy policy (처리방침), in Korean and English Markdown. A material
    change needs 30 days' notice, a minor one 7, before its effective date; a version imported
    from where it was already published (``imported_from``) had its notice there."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40), unique=True)
    change: Mapped[str] = mapped_column(String(16))  # minor, material
    body_ko: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text, default="")
    summary_ko: Mapped[str | None] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text)
    effective_date: Mapped[date] = mapped_column(Date, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # a version already published elsewhere, brought in with its real past effective date:
    # where it was published (an address or a description); None for versions published here
    imported_from: Mapped[str | None] = mapped_column(Text)


class NoticeCampaign(db.Model):
    """A mass legal notice (a policy change, a dormancy notice): the exact text, where its
    recipients are read from, how far reading has got, and the counts — the evidence that
    the notice went out on time."""

    __tablename__ = "notice_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # policy_change, dormancy
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    subject_ko: Mapped[str] = mapped_column(String(300))
    subject_en: Mapped[str] = mapped_column(String(300), default="")
    text_ko: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text, default="")
    html_ko: Mapped[str] = mapped_column(Text, default="")
    html_en: Mapped[str] = mapped_column(Text, default="")
    # system.table.column of the identity source, or "list" when the caller gave the recipients
    source: Mapped[str] = mapped_column(String(200))
    source_filter: Mapped[str | None] = mapped_column(Text)  # JSON: {"column", "before"}
    cursor: Mapped[str | None] = mapped_column(String(200))  # last key read (JSON)
    state: Mapped[str] = mapped_column(String(16), default="reading")  # reading, sending, done
    problem: Mapped[str | None] = mapped_column(String(300))  # why reading stopped, for staff
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    # The pacing of all senders together: the next free send slot (GCRA), see services/campaigns.
    paced_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    policy_version: Mapped[PolicyVersion | None] = relationship()


class CampaignRecipient(db.Model):
    """One recipient of a campaign: at most once (unique), sent by the worker at the
    campaign's rate with a lease, like the outbox."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "email"),
        Index("ix_campaign_recipients_due", "campaign_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("notice_campaigns.id"))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="ko")
    state: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending, sent, bounced, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(300))


class IntakeSubmission(db.Model):
    """A web-form submission taken in and not yet made into a request.

    The form's answer waits only for this one row: once it is committed the submission is
    acknowledged and cannot be lost. The worker then makes it into the request, with its
    reference, deadline, audit event and verification mail, in one transaction that also
    deletes the row, so each submission becomes exactly one request, however many workers
    run. ``payload`` is what the person typed (JSON); it lives here only until then.
    """

    __tablename__ = "intake_submissions"
    __table_args__ = (Index("ix_intake_submissions_due", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))


class VerificationNonce(db.Model):
    """The server-side half of an e-mailed verification link: consumed on use."""

    __tablename__ = "verification_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(db.Model):
    """An e-mail as it was rendered, kept as evidence of the notice and when it went out."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_ref: Mapped[str | None] = mapped_column(String(20), index=True)
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254))
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState, "outbox_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    transport: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Letter(db.Model):
    """A notice on paper: the text as rendered for the mail, and the A4 PDF staff print and
    post. ``posted_at`` (and who) is the evidence of delivery, as ``sent_at`` is for mail."""

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_ref: Mapped[str | None] = mapped_column(String(20), index=True)
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    addressee: Mapped[str] = mapped_column(String(200))
    postal_address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    posted_by: Mapped[str | None] = mapped_column(String(200))
    # The person gave only a phone number: the letter is read out by phone, and
    # ``posted_at`` is the day they were told.
    phone: Mapped[str | None] = mapped_column(String(50))

    @property
    def by_phone(self) -> bool:
        return not self.postal_address and bool(self.phone)


class RecipientNotice(db.Model):
    """A correction notice to a recipient whose channel is a signed webhook: the exact JSON
    posted, and its delivery (a queue like the connector jobs). Mail recipients' notices are
    in the outbox."""

    __tablename__ = "recipient_notices"
    __table_args__ = (Index("ix_recipient_notices_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_ref: Mapped[str | None] = mapped_column(String(20), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InboundOutcome(enum.StrEnum):
    CREATED = "created"  # a new request
    AUTOMATED = "automated"  # auto-reply or bounce: recorded, never answered
    UNUSABLE = "unusable"  # no usable sender address: kept for staff


class InboundMessage(db.Model):
    """Every e-mail taken in, once: the fingerprint (Message-ID, else a hash) is unique."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(250), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[InboundOutcome] = mapped_column(_enum(InboundOutcome, "inbound_outcome"))
    detail: Mapped[str | None] = mapped_column(String(200))
    request_ref: Mapped[str | None] = mapped_column(String(20), index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)


class HolidayOverride(db.Model):
    """An operator's correction to the public-holiday calendar of one country."""

    __tablename__ = "holiday_overrides"
    __table_args__ = (UniqueConstraint("country", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(8))
    day: Mapped[date] = mapped_column(Date)
    action: Mapped[OverrideAction] = mapped_column(_enum(OverrideAction, "override_action"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReferenceCounter(db.Model):
    """The last request number handed out per year (``RD-2026-000123``)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class AuditEvent(db.Model):
    """One link of the append-only, hash-chained audit trail.

    ``request_ref`` is the request's reference, not a foreign key: events outlive the purge of
    a request's personal data, and a cascade would rewrite the chain. ``data`` never holds
    personal data, only what happened.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    request_ref: Mapped[str | None] = mapped_column(String(20), index=True)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 0: SHA-256 of the content (events written before the chain was keyed); 1: HMAC-SHA256
    # under the audit key (core/keys.py), which the database does not hold.
    mac_version: Mapped[int] = mapped_column(Integer, default=1, server_default="0")


class AuditHead(db.Model):
    """The chain's newest link, one row: locking it serialises appends, and comparing it with
    the last event reveals a deleted tail."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
