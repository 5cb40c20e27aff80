"""Is this deployment safe to run? ``rightsdesk check --deploy`` and the console's settings page.

Each check gives findings: what is wrong and the fix, one line each, never a secret. A
*serious* finding (not production mode, demo mode, debug, SQLite, a plain-HTTP address, no
mail, derived keys, pending migrations, no worker seen, a skewed clock, stored data no key
opens) makes the command exit 1; a warning is advice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from rightsdesk.config import EXPLICIT_IN_PRODUCTION, PREFIX
from rightsdesk.core import heartbeat, key_store
from rightsdesk.core.keys import KINDS
from rightsdesk.extensions import db
from rightsdesk.models import Organisation, StaffRole, StaffUser

#: A clock further than this from the database's is serious (leases, link expiry, the audit).
MAX_SKEW_SECONDS = 30

#: code → (the problem, the fix); ``%(name)s`` filled from the finding's values.
TEXTS: dict[str, tuple[Any, Any]] = {
    "env": (
        _l("Not in production mode (RIGHTSDESK_ENV=%(env)s)."),
        _l("Set RIGHTSDESK_ENV=production."),
    ),
    "demo": (
        _l("Demo mode is on: mail may go to /dev/mailbox."),
        _l("Remove RIGHTSDESK_DEMO (and instance/rightsdesk.env)."),
    ),
    "debug": (
        _l("Debug mode is on: errors show code and settings."),
        _l("Unset FLASK_DEBUG and serve with gunicorn."),
    ),
    "sqlite": (
        _l("The database is SQLite: one host only, and no online backup."),
        _l("Set RIGHTSDESK_DATABASE_URL=postgresql://… and run 'rightsdesk db upgrade'."),
    ),
    "base_url": (
        _l("The public address %(url)s is not HTTPS: links in mail would travel in the clear."),
        _l("Set RIGHTSDESK_BASE_URL=https://… and serve behind a TLS proxy."),
    ),
    "proxy_hops": (
        _l("RIGHTSDESK_PROXY_HOPS is 0: behind a proxy every client has the proxy's address."),
        _l("Set RIGHTSDESK_PROXY_HOPS to the number of proxies in front (usually 1)."),
    ),
    "mail": (
        _l("No mail server: verification links and notices cannot be sent."),
        _l("Set MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USERNAME and MAIL_PASSWORD."),
    ),
    "mail_sender": (
        _l("Mail is sent from a placeholder address (%(sender)s)."),
        _l("Set MAIL_DEFAULT_SENDER to the privacy office's address."),
    ),
    "key": (
        _l("%(variable)s is not set: a key derived from the secret key changes with it."),
        _l("Run 'rightsdesk keys generate', set the key and keep a copy with the backups."),
    ),
    "unreadable": (
        _l("%(count)d stored %(kind)s item(s) open under no configured key."),
        _l("Put the old key back after the current one, then run 'rightsdesk keys rotate'."),
    ),
    "rotate": (
        _l("%(count)d stored %(kind)s item(s) are still under an older key."),
        _l("Run 'rightsdesk keys rotate', then remove the older key."),
    ),
    "migrations": (
        _l("The database schema is behind the code: migrations are pending."),
        _l("Run 'rightsdesk db upgrade' once, before starting the new code on any host."),
    ),
    "worker": (
        _l(
            "No worker is running (none seen in the last %(minutes)d minutes): "
            "submissions and mail wait."
        ),
        _l("Start 'rightsdesk worker' (deploy/rightsdesk-worker.service)."),
    ),
    "clock": (
        _l("The clock of %(host)s is %(seconds)d s off the database's."),
        _l("Run NTP (systemd-timesyncd or chrony) on every host."),
    ),
    "organisation": (
        _l("No operator or privacy officer is set up."),
        _l("Run 'rightsdesk org setup …'."),
    ),
    "admin": (
        _l("No active admin account."),
        _l("Run 'rightsdesk staff create --email … --role admin'."),
    ),
    "totp": (
        _l("Two-step sign-in is not required for admins."),
        _l("Set RIGHTSDESK_REQUIRE_ADMIN_TOTP=true."),
    ),
    "ratelimit": (
        _l("Rate limits are counted per web process: several gunicorn workers multiply them."),
        _l("Set RIGHTSDESK_RATELIMIT_STORAGE_URI=redis://… (pip install '.[redis]')."),
    ),
    "lease": (
        _l("The worker lease is shorter than twice the slowest time-out (%(seconds)d s)."),
        _l("Raise RIGHTSDESK_WORKER_LEASE_SECONDS or lower MAIL_TIMEOUT."),
    ),
}


@dataclass(frozen=True)
class Finding:
    code: str
    serious: bool
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        text = str(TEXTS[self.code][0])  # translated in the current locale
        return text % self.values if self.values else text

    @property
    def fix(self) -> str:
        return str(TEXTS[self.code][1])


@dataclass(frozen=True)
class Options:
    worker_minutes: int = 60
    scan_stored: bool = True  # decrypt every stored item (the CLI); the console skips it


def _mode(config) -> list[Finding]:
    found = []
    if config["ENV"] != "production":
        found.append(Finding("env", True, {"env": config["ENV"]}))
    if config["DEMO"]:
        found.append(Finding("demo", True))
    if current_app.debug:
        found.append(Finding("debug", True))
    return found


def _database(config) -> list[Finding]:
    return [Finding("sqlite", True)] if db.engine.dialect.name == "sqlite" else []


def _address(config) -> list[Finding]:
    base = str(config["BASE_URL"])
    if not base.startswith("https://"):
        return [Finding("base_url", True, {"url": base})]
    return [Finding("proxy_hops", False)] if int(config["PROXY_HOPS"]) < 1 else []


def _mail(config) -> list[Finding]:
    if not config.get("MAIL_SERVER"):
        return [Finding("mail", True)]
    sender = str(config.get("MAIL_DEFAULT_SENDER", ""))
    return [Finding("mail_sender", False, {"sender": sender})] if sender.endswith(".local") else []


def _keys(config) -> list[Finding]:
    return [
        Finding("key", True, {"variable": f"{PREFIX}_{setting}"})
        for setting in EXPLICIT_IN_PRODUCTION
        if not config.get(setting)
    ]


def _stored(config) -> list[Finding]:
    found = []
    for kind in KINDS.values():
        tally = key_store.check(kind)
        if tally.unreadable:
            values = {"count": len(tally.unreadable), "kind": kind.name}
            found.append(Finding("unreadable", True, values))
        elif tally.behind:
            found.append(Finding("rotate", False, {"count": tally.behind, "kind": kind.name}))
    return found


def _worker(options: Options, now: datetime) -> list[Finding]:
    """A worker that stopped on purpose (SIGTERM) does not count: none is running then."""
    if not heartbeat.running(now, timedelta(minutes=options.worker_minutes)):
        return [Finding("worker", True, {"minutes": options.worker_minutes})]
    return []


def _migrations(config) -> list[Finding]:
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return [] if current == set(script.get_heads()) else [Finding("migrations", True)]


def _clocks(now: datetime) -> list[Finding]:
    skews = [("this host", heartbeat.clock_skew(now))]
    skews += [(w.host, w.clock_skew) for w in heartbeat.running(now, timedelta(minutes=10))]
    return [
        Finding("clock", True, {"host": host, "seconds": round(skew)})
        for host, skew in skews
        if abs(skew) > MAX_SKEW_SECONDS
    ]


def _operator(config) -> list[Finding]:
    found = []
    if not db.session.scalar(select(func.count()).select_from(Organisation)):
        found.append(Finding("organisation", True))
    admins = select(func.count()).select_from(StaffUser)
    if not db.session.scalar(admins.where(StaffUser.role == StaffRole.ADMIN, StaffUser.active)):
        found.append(Finding("admin", False))
    if not config["REQUIRE_ADMIN_TOTP"]:
        found.append(Finding("totp", False))
    return found


def _tuning(config) -> list[Finding]:
    found = []
    if str(config["RATELIMIT_STORAGE_URI"]).startswith("memory://"):
        found.append(Finding("ratelimit", False))
    slowest = max(float(config.get("MAIL_TIMEOUT") or 30), float(config["WEBHOOK_TIMEOUT"]))
    if float(config["WORKER_LEASE_SECONDS"]) < 2 * slowest:
        found.append(Finding("lease", False, {"seconds": round(slowest)}))
    return found


def run(options: Options, *, now: datetime) -> list[Finding]:
    """Every finding, serious ones first; reads only (rolls back what it opened)."""
    config = current_app.config
    checks: list[Callable[[], list[Finding]]] = [
        lambda: _mode(config),
        lambda: _database(config),
        lambda: _address(config),
        lambda: _mail(config),
        lambda: _keys(config),
        lambda: _migrations(config),
        lambda: _worker(options, now),
        lambda: _clocks(now),
        lambda: _operator(config),
        lambda: _tuning(config),
    ]
    if options.scan_stored:
        checks.append(lambda: _stored(config))
    found = [finding for check in checks for finding in check()]
    db.session.rollback()
    return sorted(found, key=lambda f: not f.serious)
