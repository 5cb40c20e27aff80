"""Signed links: single-use verification tokens and revocable status links.

A verification token is an itsdangerous signature over the request id and a random nonce; only
the nonce's hash is stored, and confirming consumes it with one conditional UPDATE, so a token
works once even when two clicks race. A status link carries the request's ``status_secret``,
signed; rotating the secret revokes every status link already sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from rightsdesk.extensions import db
from rightsdesk.models import Request, VerificationNonce
from rightsdesk.requests.lookup import by_reference

VERIFY_SALT = "rightsdesk.verify"
STATUS_SALT = "rightsdesk.status"


class TokenProblem(StrEnum):
    INVALID = "invalid"  # tampered, truncated, or signed with another key
    EXPIRED = "expired"
    USED = "used"


class TokenError(Exception):
    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_status_secret() -> str:
    return secrets.token_hex(16)


def issue_verification(request: Request, *, now: datetime) -> str:
    """A fresh single-use verification token for ``request`` (adds the nonce to the session)."""
    nonce = secrets.token_urlsafe(24)
    ttl = timedelta(hours=float(current_app.config["VERIFY_TTL_HOURS"]))
    db.session.add(
        VerificationNonce(
            request_id=request.id, nonce_hash=_hash(nonce), created_at=now, expires_at=now + ttl
        )
    )
    return _serializer(VERIFY_SALT).dumps({"r": request.id, "n": nonce})


def peek_verification(token: str, *, now: datetime) -> Request:
    """The request a token would verify, without using it (for the confirm page)."""
    request, _nonce = _check(token, now)
    return request


def consume_verification(token: str, *, now: datetime) -> Request:
    """Use the token once; raise :class:`TokenError` saying why it cannot be used."""
    request, nonce = _check(token, now)
    used = db.session.execute(
        update(VerificationNonce)
        .where(
            VerificationNonce.nonce_hash == nonce.nonce_hash,
            VerificationNonce.used_at.is_(None),
            VerificationNonce.expires_at > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        db.session.rollback()
        raise TokenError(TokenProblem.USED)
    return request


def _check(token: str, now: datetime) -> tuple[Request, VerificationNonce]:
    max_age = float(current_app.config["VERIFY_TTL_HOURS"]) * 3600
    try:
        payload = _serializer(VERIFY_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError(TokenProblem.EXPIRED) from None
    except BadSignature:
        raise TokenError(TokenProblem.INVALID) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise TokenError(TokenProblem.INVALID)
    nonce = db.session.scalar(
        select(VerificationNonce).where(VerificationNonce.nonce_hash == _hash(payload["n"]))
    )
    if nonce is None or nonce.request_id != payload.get("r"):
        raise TokenError(TokenProblem.INVALID)
    if nonce.used_at is not None:
        raise TokenError(TokenProblem.USED)
    if nonce.expires_at <= now:
        raise TokenError(TokenProblem.EXPIRED)
    request = db.session.get(Request, nonce.request_id)
    if request is None:
        raise TokenError(TokenProblem.INVALID)
    return request, nonce


def status_token(request: Request) -> str:
    return _serializer(STATUS_SALT).dumps({"r": request.reference, "k": request.status_secret})


def resolve_status(token: str) -> Request | None:
    """The request a status link is for, or ``None`` if it is forged or revoked."""
    try:
        payload = _serializer(STATUS_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    request = by_reference(payload.get("r"))
    if request is None or not isinstance(payload.get("k"), str):
        return None
    if not hmac.compare_digest(request.status_secret, payload["k"]):
        return None
    return request
