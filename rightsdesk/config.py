"""Configuration from the environment: ``RIGHTSDESK_*`` for rightsdesk, ``MAIL_*`` for Flask-Mail.

Every variable is optional; the defaults give the embedded demo (SQLite under ``instance/``,
Asia/Seoul, Korean). Values are read as JSON where they parse as JSON (``true``, ``587``),
as plain strings otherwise, as Flask's ``from_prefixed_env`` does.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from flask import Flask

PREFIX = "RIGHTSDESK"

DEFAULTS: dict[str, Any] = {
    "TIMEZONE": "Asia/Seoul",
    "DEFAULT_JURISDICTION": "KR",
    "PROFILES_FILE": None,
    "DEFAULT_LOCALE": "ko",
    "LOCALES": ["ko", "en"],
    "DATABASE_URL": None,
    # Links in e-mails are built on it: the address people reach this service at.
    "BASE_URL": "http://127.0.0.1:5000",
    # Demo mode (the README's run command): without MAIL_SERVER, mail goes to /dev/mailbox.
    "DEMO": False,
    # "production" refuses demo mode and insists on a secret key.
    "ENV": "development",
    "VERIFY_TTL_HOURS": 24,
    "UNVERIFIED_EXPIRY_DAYS": 7,
    "RESEND_LIMIT": "3 per hour",
    "SUBMIT_LIMIT": "10 per hour",  # accepted submissions, per client and per e-mail address
    "ATTEMPT_LIMIT": "60 per hour",  # every form post, rejected ones included, per client
    "VERIFY_LIMIT": "30 per hour",
    # Several web nodes share limits through Redis: redis://host:6379 (pip install '.[redis]').
    "RATELIMIT_STORAGE_URI": "memory://",
    "PROXY_HOPS": 0,
    # Strict-Transport-Security in production, on HTTPS (as seen through PROXY_HOPS proxies);
    # 0 sends none.
    "HSTS_MAX_AGE": 31_536_000,
    # Admins must set up a TOTP second factor before anything else.
    "REQUIRE_ADMIN_TOTP": False,
    "TOTP_ISSUER": "rightsdesk",
    "INBOUND_SECRET": None,
    # The audit chain's HMAC key (kept off the database); by default derived from SECRET_KEY.
    "AUDIT_KEY": None,
    # Host apps name subjects by HMAC(key, e-mail); by default derived from SECRET_KEY.
    "SUBJECT_HASH_KEY": None,
    "WEBHOOK_ALLOW_HTTP": False,
    "WEBHOOK_TIMEOUT": 10,
    "API_MAX_BODY_KB": 64,
    "UPLOAD_DIR": None,
    "MAX_UPLOAD_MB": 10,
    "DOWNLOAD_TTL_DAYS": 30,
    "PACKAGE_TTL_DAYS": 7,  # access packages built from the data map
    # Fernet keys (one, or several comma-separated, the current first) for files offered to
    # subjects; outside production derived from SECRET_KEY when unset.
    "PACKAGE_KEY": None,
    # Fernet keys for separately stored records (PIPA §21③), likewise.
    "RETAINED_KEY": None,
    "MESSAGE_ID_DOMAIN": "rightsdesk.local",
    # The operator's return address printed under its name at the head of paper notices.
    "LETTER_RETURN_ADDRESS": None,
    # The data map (TOML) describing where personal data lives: `rightsdesk datamap check`.
    "DATAMAP_FILE": None,
    # The retention schedule's additions and overrides (TOML): `rightsdesk jobs schedule`.
    "RETENTION_FILE": None,
    # Purge jobs: rows per batch (one short transaction each), pause between batches (s),
    # and how often `rightsdesk worker` runs the due jobs (minutes).
    "RETENTION_BATCH_SIZE": 5000,
    "RETENTION_BATCH_PAUSE": 0,
    "RETENTION_EVERY_MINUTES": 60,
    # Monitoring: /healthz says "degraded" when no worker was seen for this long; the
    # Prometheus endpoint /metrics answers a bearer token, or these addresses (comma-separated
    # IPs or networks); with neither it does not exist.
    "WORKER_STALE_MINUTES": 5,
    "METRICS_TOKEN": None,
    "METRICS_ALLOW_FROM": None,
    # How long a worker holds what it claimed while it works on it (renewed while it works;
    # a worker killed with kill -9 delays its items at most this long).
    "WORKER_LEASE_SECONDS": 60,
    "IMAP_HOST": None,
    "IMAP_USER": None,
    "IMAP_PASSWORD": None,
    "IMAP_MAILBOX": "INBOX",
}


class ConfigError(RuntimeError):
    """A setting that cannot work; raised at start-up, naming the variable."""


SETTINGS_FILE = "rightsdesk.env"


def load_settings_file(app: Flask) -> None:
    """``instance/rightsdesk.env``: ``RIGHTSDESK_…=value`` lines (``make run`` writes the
    demo's), so every ``rightsdesk`` command in this checkout sees the same settings. The
    environment wins over the file."""
    path = Path(app.instance_path) / SETTINGS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.startswith(f"{PREFIX}_"):
            raise ConfigError(f"{path}:{number}: expected {PREFIX}_NAME=value")
        os.environ.setdefault(name.strip(), value.strip())


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    app.config.update(DEFAULTS)
    if not (overrides or {}).get("TESTING") and not os.environ.get(f"{PREFIX}_NO_SETTINGS_FILE"):
        load_settings_file(app)
    app.config.from_prefixed_env(PREFIX)
    _load_mail_env(app)
    if overrides:
        app.config.update(overrides)
    _derive_settings(app)
    if app.config["ENV"] == "production":
        _harden_for_production(app, overrides)
    _check_timezone(app)
    _check_keys(app)
    _check_metrics_addresses(app)


def _derive_settings(app: Flask) -> None:
    """Settings that follow from others, and the cookie, database and secret-key defaults."""
    app.config["MAIL_SERVER_CONFIGURED"] = bool(app.config.get("MAIL_SERVER"))
    app.config.setdefault("MAIL_DEFAULT_SENDER", "privacy@rightsdesk.local")
    app.config["UPLOAD_DIR"] = app.config["UPLOAD_DIR"] or str(Path(app.instance_path) / "uploads")
    # Whole request bodies: the proof upload plus the form around it.
    app.config["MAX_CONTENT_LENGTH"] = (int(app.config["MAX_UPLOAD_MB"]) + 1) * 1024 * 1024
    # Flask's defaults exist already (SameSite unset), so these are set, not defaulted.
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})  # pinged when idle (app.py)
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or _instance_secret(app)
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["DEFAULT_LOCALE"]
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]


def _harden_for_production(app: Flask, overrides: dict[str, Any] | None) -> None:
    """No demo, a secret key that was given (not generated), secure cookies."""
    if app.config["DEMO"]:
        raise ConfigError(f"{PREFIX}_DEMO cannot be on when {PREFIX}_ENV=production")
    if not os.environ.get(f"{PREFIX}_SECRET_KEY") and not (overrides or {}).get("SECRET_KEY"):
        raise ConfigError(f"{PREFIX}_SECRET_KEY must be set when {PREFIX}_ENV=production")
    for setting in EXPLICIT_IN_PRODUCTION:
        if not app.config.get(setting):
            raise ConfigError(
                f"{PREFIX}_{setting} must be set when {PREFIX}_ENV=production "
                "(a key derived from the secret key would change with it): "
                "see 'rightsdesk keys generate'"
            )
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = True


#: Keys production must be given: derived from the secret key, they would change with it.
EXPLICIT_IN_PRODUCTION = ("PACKAGE_KEY", "RETAINED_KEY", "SUBJECT_HASH_KEY", "AUDIT_KEY")
#: Settings holding Fernet keys: one, or a comma-separated list (current first).
FERNET_SETTINGS = ("PACKAGE_KEY", "RETAINED_KEY")


def fernet_keys(value: Any) -> list[str]:
    """The keys of a Fernet setting, current first (empty when unset)."""
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _check_keys(app: Flask) -> None:
    """Every Fernet key given is one (named by position, never printed)."""
    for setting in FERNET_SETTINGS:
        for position, key in enumerate(fernet_keys(app.config.get(setting)), start=1):
            try:
                Fernet(key.encode())
            except ValueError:
                raise ConfigError(
                    f"{PREFIX}_{setting}: key {position} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes; make one with 'rightsdesk keys generate')"
                ) from None


def _check_metrics_addresses(app: Flask) -> None:
    for part in str(app.config.get("METRICS_ALLOW_FROM") or "").split(","):
        try:
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"{PREFIX}_METRICS_ALLOW_FROM: {part.strip()!r} is not an IP address or "
                "network (e.g. 127.0.0.1,10.0.0.0/8)"
            ) from None


def _check_timezone(app: Flask) -> None:
    try:
        ZoneInfo(app.config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{PREFIX}_TIMEZONE={app.config['TIMEZONE']!r} is not an IANA time zone "
            "(e.g. Asia/Seoul)"
        ) from None


def database_url(app: Flask) -> str:
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or app.config.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(app.instance_path) / 'rightsdesk.db'}"
    url = str(url)
    # A bare postgresql:// URL would make SQLAlchemy look for psycopg2; we ship psycopg 3.
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def _load_mail_env(app: Flask) -> None:
    for key, value in os.environ.items():
        if key.startswith("MAIL_"):
            try:
                app.config[key] = json.loads(value)
            except json.JSONDecodeError:
                app.config[key] = value


def _instance_secret(app: Flask) -> str:
    """A random key kept in ``instance/secret_key`` for the embedded default.

    Production sets ``RIGHTSDESK_SECRET_KEY``; the file keeps sessions and signed links valid
    across restarts of a demo without anyone choosing a key.
    """
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
