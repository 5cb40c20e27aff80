"""Staff accounts: creation, sign-in with lock-out, optional TOTP, deactivation.

Passwords are scrypt hashes (Werkzeug's default). After five failures in a row an account is
locked for a minute, then two, four … up to an hour; an unknown address costs the same hash
check as a known one, so timing tells nobody which addresses exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from rightsdesk.core import audit
from rightsdesk.core.actors import ANONYMOUS, Actor
from rightsdesk.domain.identity import normalise_email
from rightsdesk.extensions import db
from rightsdesk.models import StaffRole, StaffUser

MIN_PASSWORD_LENGTH = 12
FREE_FAILURES = 5
LONGEST_LOCK = timedelta(hours=1)
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class StaffError(ValueError):
    pass


class LoginProblem(StrEnum):
    INVALID = "invalid"  # unknown address, wrong password or wrong code: one answer for all
    LOCKED = "locked"
    CODE_REQUIRED = "code_required"


class LoginFailed(Exception):
    def __init__(self, problem: LoginProblem, until: datetime | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.until = until


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_staff(
    *, email: str, name: str, role: StaffRole, password: str, actor: Actor, now: datetime
) -> StaffUser:
    address = normalise_email(email)
    check_password_strength(password)
    if db.session.scalar(select(StaffUser).where(StaffUser.email == address)):
        raise StaffError(f"a staff account for {address} exists already")
    user = StaffUser(
        email=address,
        name=name.strip() or address,
        role=role,
        password_hash=generate_password_hash(password),
        totp_enabled=False,
        active=True,
        failed_logins=0,
        session_version=1,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("staff.created", actor=actor, now=now, data={"staff": user.id, "role": role.value})
    db.session.commit()
    return user


def authenticate(
    *, email: str, password: str, code: str | None, ip: str | None, now: datetime
) -> StaffUser:
    try:
        address = normalise_email(email)
    except ValueError:
        address = ""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == address))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        _audit_failure(None, "invalid", ip, now)
        raise LoginFailed(LoginProblem.INVALID)
    if user.locked_until and user.locked_until > now:
        _audit_failure(user, "locked", ip, now)
        raise LoginFailed(LoginProblem.LOCKED, user.locked_until)
    if not check_password_hash(user.password_hash, password):
        _count_failure(user, ip, now, "password")
        raise LoginFailed(LoginProblem.INVALID)
    _check_code(user, code, ip, now)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("staff.login", actor=Actor.staff(user), now=now, data={"ip": ip})
    db.session.commit()
    return user


def _check_code(user: StaffUser, code: str | None, ip: str | None, now: datetime) -> None:
    """The second factor, where the user has one: a wrong code counts as a failure."""
    if not user.totp_enabled:
        return
    if not code:
        raise LoginFailed(LoginProblem.CODE_REQUIRED)
    if not pyotp.TOTP(user.totp_secret or "").verify(code.strip(), valid_window=1):
        _count_failure(user, ip, now, "code")
        raise LoginFailed(LoginProblem.INVALID)


def _count_failure(user: StaffUser, ip: str | None, now: datetime, what: str) -> None:
    user.failed_logins += 1
    beyond = user.failed_logins - FREE_FAILURES
    if beyond >= 0:
        user.locked_until = now + min(timedelta(minutes=2**beyond), LONGEST_LOCK)
    _audit_failure(user, what, ip, now)


def _audit_failure(user: StaffUser | None, reason: str, ip: str | None, now: datetime) -> None:
    actor = Actor.staff(user) if user else ANONYMOUS
    audit.record("staff.login_failed", actor=actor, now=now, data={"reason": reason, "ip": ip})
    db.session.commit()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: StaffUser, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def enable_totp(user: StaffUser, *, secret: str, code: str, now: datetime) -> None:
    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise StaffError("the code does not match: check the clock of your device")
    user.totp_secret = secret
    user.totp_enabled = True
    audit.record("staff.totp_enabled", actor=Actor.staff(user), now=now)
    db.session.commit()


def set_active(user: StaffUser, active: bool, *, actor: Actor, now: datetime) -> None:
    user.active = active
    user.session_version += 1  # ends every session of this account
    audit.record(
        "staff.activated" if active else "staff.deactivated",
        actor=actor,
        now=now,
        data={"staff": user.id},
    )
    db.session.commit()


def reset_totp(user: StaffUser, *, actor: Actor, now: datetime) -> None:
    user.totp_secret = None
    user.totp_enabled = False
    user.session_version += 1
    audit.record("staff.totp_reset", actor=actor, now=now, data={"staff": user.id})
    db.session.commit()


def end_sessions(user: StaffUser) -> None:
    """Signing out ends the account's sessions: a session is a signed cookie, so a copy taken
    before sign-out would otherwise stay valid; the version it carries no longer matches."""
    user.session_version += 1
    db.session.commit()


def change_password(user: StaffUser, password: str, *, actor: Actor, now: datetime) -> None:
    check_password_strength(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    audit.record("staff.password_changed", actor=actor, now=now, data={"staff": user.id})
    db.session.commit()


@dataclass(frozen=True)
class SessionKey:
    user_id: int
    version: int


def parse_session_key(value: str) -> SessionKey | None:
    try:
        user_id, version = value.split(":")
        return SessionKey(int(user_id), int(version))
    except ValueError:
        return None


def load_staff(value: str) -> StaffUser | None:
    """Flask-Login's user loader: the session must carry the account's current version."""
    key = parse_session_key(value)
    if key is None:
        return None
    user = db.session.get(StaffUser, key.user_id)
    if user is None or not user.active or user.session_version != key.version:
        return None
    return user
