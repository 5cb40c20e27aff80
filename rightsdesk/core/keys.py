"""Encryption keys for what rightsdesk stores for subjects: Fernet keys from the configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from flask import current_app


def fernet_for(config_key: str, label: bytes) -> Fernet:
    """The Fernet key configured under ``config_key``, else one derived from the secret key
    for this ``label`` (so each kind of stored data has its own key)."""
    configured = current_app.config.get(config_key)
    if configured:
        return Fernet(str(configured).encode())
    secret = str(current_app.config["SECRET_KEY"]).encode()
    derived = hmac.new(secret, label, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def audit_key() -> bytes:
    """The key of the audit chain's HMAC: ``RIGHTSDESK_AUDIT_KEY``, else derived from the
    secret key. Either way it lives outside the database, so access to the database alone
    cannot recompute a link."""
    configured = current_app.config.get("AUDIT_KEY")
    if configured:
        return str(configured).encode()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"rightsdesk.audit", hashlib.sha256).digest()


def package_cipher() -> Fernet:
    return fernet_for("PACKAGE_KEY", b"rightsdesk.packages")
