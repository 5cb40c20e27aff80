"""Host applications: API keys, identity assertions, requests they file, and restrictions.

An API key is shown once and stored as a SHA-256 hash (keys are 256-bit random, so a fast hash
is enough); it is found by its public prefix and compared in constant time. Each key has a
signing secret: the host app signs identity assertions with it (itsdangerous, five minutes), and
rightsdesk signs the webhooks it sends back with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.domain.identity import normalise_email
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, Status
from rightsdesk.extensions import db
from rightsdesk.models import ApiKey, IdempotentResponse, Request, Subject

SCOPES = ("requests:create", "requests:read", "restrictions:read")
ASSERTION_SALT = "rightsdesk.assertion"
ASSERTION_MAX_AGE = 300  # seconds: the host app signs it just before calling
KEY_PREFIX = "rdk_"


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret_key: str  # the whole API key, shown once
    signing_secret: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_key(
    *, name: str, scopes: list[str], webhook_url: str | None, actor: Actor, now: datetime
) -> IssuedKey:
    name = name.strip()
    _check_new_key(name, scopes, webhook_url)
    key, full, signing_secret = _new_key(name, scopes, webhook_url, now)
    db.session.add(key)
    db.session.flush()
    audit.record(
        "apikey.created",
        actor=actor,
        now=now,
        data={"key": key.id, "name": name, "scopes": key.scopes},
    )
    db.session.commit()
    return IssuedKey(key=key, secret_key=full, signing_secret=signing_secret)


def _check_new_key(name: str, scopes: list[str], webhook_url: str | None) -> None:
    if not name:
        raise ApiKeyError("give the key a name (the host application's)")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ApiKeyError(f"unknown scope(s) {unknown}; accepted: {', '.join(SCOPES)}")
    if db.session.scalar(select(ApiKey).where(ApiKey.name == name)):
        raise ApiKeyError(f"a key named {name!r} exists already")
    if webhook_url:
        check_webhook_url(webhook_url)


def _new_key(
    name: str, scopes: list[str], webhook_url: str | None, now: datetime
) -> tuple[ApiKey, str, str]:
    """A key with fresh secrets, the whole API key (stored only as its hash), and the signing
    secret."""
    prefix = secrets.token_hex(4)
    full = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    signing_secret = secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=_hash(full),
        scopes=" ".join(sorted(set(scopes))),
        signing_secret=signing_secret,
        webhook_url=webhook_url or None,
        created_at=now,
    )
    return key, full, signing_secret


def revoke_key(name: str, *, actor: Actor, now: datetime) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise ApiKeyError(f"no key named {name!r}")
    key.revoked_at = key.revoked_at or now
    audit.record("apikey.revoked", actor=actor, now=now, data={"key": key.id})
    db.session.commit()
    return key


def check_webhook_url(url: str) -> None:
    """HTTPS, except to this machine (tests, a host app beside us) or when allowed."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ApiKeyError(f"not a web address: {url!r}")
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and not loopback and not current_app.config["WEBHOOK_ALLOW_HTTP"]:
        raise ApiKeyError("webhooks go over HTTPS (set RIGHTSDESK_WEBHOOK_ALLOW_HTTP to override)")


def authenticate(header: str | None, *, now: datetime) -> ApiKey | None:
    """The active key a ``Bearer`` header names, or ``None``."""
    if not header or not header.startswith("Bearer "):
        return None
    given = header[len("Bearer ") :].strip()
    if not given.startswith(KEY_PREFIX) or "_" not in given[len(KEY_PREFIX) :]:
        return None
    prefix = given[len(KEY_PREFIX) :].split("_", 1)[0]
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, _hash(given)):
        return None
    key.last_used_at = now
    return key


def verify_assertion(key: ApiKey, token: str, email: str) -> bool:
    """Whether the host app vouched, within five minutes, that this e-mail is its signed-in
    user's."""
    serializer = URLSafeTimedSerializer(key.signing_secret, salt=ASSERTION_SALT)
    try:
        payload = serializer.loads(token, max_age=ASSERTION_MAX_AGE)
    except BadSignature:
        return False
    if not isinstance(payload, dict) or not isinstance(payload.get("email"), str):
        return False
    try:
        given, vouched = normalise_email(email, strict=False), payload["email"]
        return normalise_email(vouched, strict=False) == given
    except ValueError:
        return False


def make_assertion(signing_secret: str, email: str) -> str:
    """What a host app does (in Python) to vouch for its user; documented in the OpenAPI."""
    serializer = URLSafeTimedSerializer(signing_secret, salt=ASSERTION_SALT)
    return serializer.dumps({"email": email})


def subject_hash_key() -> bytes:
    configured = current_app.config.get("SUBJECT_HASH_KEY")
    if configured:
        return str(configured).encode()
    return hmac.new(
        str(current_app.config["SECRET_KEY"]).encode(), b"rightsdesk.subject-hash", "sha256"
    ).digest()


def subject_hash(email: str) -> str:
    """HMAC-SHA256(subject-hash key, normalised e-mail), hex: how host apps name a subject."""
    return hmac.new(
        subject_hash_key(), normalise_email(email, strict=False).encode(), "sha256"
    ).hexdigest()


def request_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def stored_response(key: ApiKey, idempotency_key: str) -> IdempotentResponse | None:
    return db.session.scalar(
        select(IdempotentResponse).where(
            IdempotentResponse.api_key_id == key.id, IdempotentResponse.key == idempotency_key
        )
    )


def remember_response(
    key: ApiKey, idempotency_key: str, fingerprint: str, status: int, body: dict, now: datetime
) -> None:
    db.session.add(
        IdempotentResponse(
            api_key_id=key.id,
            key=idempotency_key,
            fingerprint=fingerprint,
            status_code=status,
            body=json.dumps(body, ensure_ascii=False),
            created_at=now,
        )
    )


# --- restrictions ------------------------------------------------------------------------------

SUSPENDING = (RequestKind.SUSPENSION,)
WITHDRAWING = (RequestKind.CONSENT_WITHDRAWAL,)
IN_FORCE = (Status.COMPLETED, Status.PARTIALLY_COMPLETED)


def restrictions(lookup: str) -> dict:
    """What the host app must respect for this subject right now.

    Suspensions and consent withdrawals count from verification: PIPA has the operator stop
    at once where it can, and a request being worked must not be undermined meanwhile.
    Corrections count while open: data under correction is not used until corrected.
    """
    subject = db.session.scalar(select(Subject).where(Subject.lookup_hash == lookup))
    result: dict = {
        "subject": lookup,
        "restricted": False,
        "suspensions": [],
        "pending_corrections": [],
        "withdrawn_consents": [],
    }
    if subject is None:
        return result
    active = set(OPEN) - {Status.RECEIVED_UNVERIFIED}
    for request in subject.requests:
        _add_restriction(result, request, active)
    result["restricted"] = bool(
        result["suspensions"] or result["pending_corrections"] or result["withdrawn_consents"]
    )
    return result


def _add_restriction(result: dict, request: Request, active: set[Status]) -> None:
    """File the request under what it restricts, if it restricts anything now."""
    entry = {
        "reference": request.reference,
        "status": request.status.value,
        "since": (request.verified_at or request.received_at).isoformat(),
        "scope": request.scope or {"all": True},
    }
    in_force = request.status in IN_FORCE or request.status in active
    if request.kind in SUSPENDING and in_force:
        result["suspensions"].append(entry)
    elif request.kind in WITHDRAWING and in_force:
        result["withdrawn_consents"].append(entry)
    elif request.kind is RequestKind.CORRECTION and request.status in active:
        pending = [c.item for c in request.corrections if c.decision is None]
        if pending:  # decided items are applied or refused: no longer held back
            entry.pop("scope")
            entry["items"] = pending
            result["pending_corrections"].append(entry)
