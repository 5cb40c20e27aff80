"""Staff accounts: creation, sign-in with throttling, optional TOTP, deactivation.

Passwords are scrypt hashes (Werkzeug's default). Failed sign-ins are counted per address
*and client address* (five free, then a pause of a minute doubling to an hour) and per address
from everywhere (twenty free, then a pause of ten seconds doubling to five minutes): one
client guessing is slowed to a crawl, while someone elsewhere can keep an admin out only for
minutes and only by failing from many addresses. Known and unknown addresses are counted,
checked and answered alike (an unknown one costs the same hash check), so neither the answer
nor its timing tells which addresses are staff. A pause that starts on a real account is
mailed to its owner and audited. TOTP codes are good once (the last accepted time step is
kept), and replacing a second factor needs the current code or the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from rightsdesk.core import audit
from rightsdesk.core.actors import ANONYMOUS, Actor
from rightsdesk.domain.identity import normalise_email
from rightsdesk.extensions import db
from rightsdesk.models import LoginThrottle, StaffRole, StaffUser

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class Throttle:
    """How failures of one scope are paused: ``free`` failures, then ``first`` doubling up to
    ``longest``."""

    scope: str
    free: int
    first: timedelta
    longest: timedelta


PAIR = Throttle("pair", 5, timedelta(minutes=1), timedelta(hours=1))
ADDRESS = Throttle("address", 20, timedelta(seconds=10), timedelta(minutes=5))
FORGET_AFTER = timedelta(days=1)  # counts of addresses quiet this long are dropped
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class StaffError(ValueError):
    pass


class LoginProblem(StrEnum):
    INVALID = "invalid"  # unknown address, wrong password or wrong code: one answer for all
    LOCKED = "locked"  # paused: too many failures for this address (known or not)
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
    """The account, if the address, password (and code) are right and no pause is running;
    else :class:`LoginFailed`. Every path costs one password hash and one commit."""
    try:
        address = normalise_email(email, strict=False)
    except ValueError:
        address = ""
    keys = _throttle_keys(address, ip)
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == address))
    if user is not None and not user.active:
        user = None
    paused_until = _paused_until(keys, now)
    if paused_until is not None:
        check_password_hash(_DUMMY_HASH, password)  # the same work as any other attempt
        _audit_failure(user, "paused", ip, now)
        raise LoginFailed(LoginProblem.LOCKED, paused_until)
    if user is None or not check_password_hash(user.password_hash, password):
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
        _count_failure(user, keys, ip, now, "password")
        raise LoginFailed(LoginProblem.INVALID)
    _check_code(user, code, keys, ip, now)
    _forget(keys)
    user.last_login_at = now
    audit.record("staff.login", actor=Actor.staff(user), now=now, data={"ip": ip})
    db.session.commit()
    return user


def _throttle_keys(address: str, ip: str | None) -> dict[Throttle, str]:
    """The hashed keys of the address-and-client pair and of the address alone."""

    def key(*parts: str) -> str:
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    return {PAIR: key(PAIR.scope, address, ip or "-"), ADDRESS: key(ADDRESS.scope, address)}


def _paused_until(keys: dict[Throttle, str], now: datetime) -> datetime | None:
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys.values())))
    running = [row.blocked_until for row in rows if row.blocked_until and row.blocked_until > now]
    return max(running, default=None)


def _check_code(
    user: StaffUser, code: str | None, keys: dict[Throttle, str], ip: str | None, now: datetime
) -> None:
    """The second factor, where the user has one: a wrong or used code counts as a failure."""
    if not user.totp_enabled:
        return
    if not code:
        raise LoginFailed(LoginProblem.CODE_REQUIRED)
    if not use_totp_code(user, code, now):
        _count_failure(user, keys, ip, now, "code")
        raise LoginFailed(LoginProblem.INVALID)


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (of now, the one before or the one after: clock drift) whose code is
    ``code``, compared in constant time; ``None`` if none."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    matched = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            matched = step
    return matched


def use_totp_code(user: StaffUser, code: str, now: datetime) -> bool:
    """Accept ``code`` for ``user`` once: its step must be later than the last one used."""
    step = totp_step(user.totp_secret or "", code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def _count_failure(
    user: StaffUser | None, keys: dict[Throttle, str], ip: str | None, now: datetime, what: str
) -> None:
    """Count a failure on both throttles (known address or not); a pause that starts on a
    real account is audited and mailed to its owner."""
    paused = [throttle for throttle, key in keys.items() if _fail(throttle, key, now)]
    _audit_failure(user, what, ip, now, commit=False)
    if paused and user is not None:
        _tell_of_pause(user, paused, ip, now)
    db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER)
    )
    db.session.commit()


def _fail(throttle: Throttle, key: str, now: datetime) -> bool:
    """One more failure on ``key``; whether it starts a pause."""
    row = db.session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=now)
        db.session.add(row)
    row.failures += 1
    row.last_failure_at = now
    beyond = row.failures - throttle.free
    if beyond < 0:
        return False
    wait = throttle.first * 2 ** min(beyond, 20)
    row.blocked_until = now + min(wait, throttle.longest)
    return True


def _forget(keys: dict[Throttle, str]) -> None:
    """A successful sign-in clears the counts of its address."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys.values())))


def _tell_of_pause(
    user: StaffUser, paused: list[Throttle], ip: str | None, now: datetime
) -> None:
    from rightsdesk.delivery import outbox

    scopes = [throttle.scope for throttle in paused]
    audit.record(
        "staff.login_paused",
        actor=Actor.staff(user),
        now=now,
        data={"staff": user.id, "scopes": scopes, "ip": ip},
    )
    outbox.queue(
        "login_paused",
        recipient=user.email,
        language="ko",
        context={
            "staff": user,
            "ip": ip or "-",
            "everywhere": ADDRESS in paused,
            "at": now,
            "organisation": _organisation(),
        },
        now=now,
    )


def _organisation():
    from rightsdesk.core.context import current_organisation

    try:
        return current_organisation()
    except LookupError:
        return None


def _audit_failure(
    user: StaffUser | None, reason: str, ip: str | None, now: datetime, *, commit: bool = True
) -> None:
    actor = Actor.staff(user) if user else ANONYMOUS
    audit.record("staff.login_failed", actor=actor, now=now, data={"reason": reason, "ip": ip})
    if commit:
        db.session.commit()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: StaffUser, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


class ConfirmationNeeded(StaffError):
    """Replacing a second factor needs the current code or the password."""


def enable_totp(
    user: StaffUser, *, secret: str, code: str, now: datetime, confirm: str = ""
) -> None:
    """Turn on (or replace) the second factor with ``secret`` once ``code`` matches it. If one
    is on already, ``confirm`` must be a code of the current one (unused) or the password:
    a session left open must not be enough to move someone's second factor to a new phone."""
    if user.totp_enabled and not _confirmed(user, confirm, now):
        raise ConfirmationNeeded("confirm with a code of your current authenticator or password")
    step = totp_step(secret, code, now)
    if step is None:
        raise StaffError("the code does not match: check the clock of your device")
    user.totp_secret = secret
    user.totp_enabled = True
    user.totp_last_step = max(step, user.totp_last_step or step)
    audit.record("staff.totp_enabled", actor=Actor.staff(user), now=now)
    db.session.commit()


def _confirmed(user: StaffUser, confirm: str, now: datetime) -> bool:
    confirm = confirm.strip()
    if not confirm:
        return False
    if confirm.isdigit() and len(confirm) == 6:
        return use_totp_code(user, confirm, now)
    return check_password_hash(user.password_hash, confirm)


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
    user.totp_last_step = None
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
