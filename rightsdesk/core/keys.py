"""Encryption keys for what rightsdesk stores for subjects: Fernet keys from the configuration.

Each setting (``RIGHTSDESK_PACKAGE_KEY``, ``RIGHTSDESK_RETAINED_KEY``) holds one key or a
comma-separated list: the first encrypts, every one decrypts (cryptography's ``MultiFernet``).
That is how a key is rotated without losing what was stored under the old one: put the new key
first, re-encrypt (``rightsdesk keys rotate``), then drop the old one.

Outside production a setting left empty falls back to a key derived from the secret key, so the
demo runs without keys; production requires explicit keys (``config.py``), because a derived key
changes with the secret key and would make every stored record unreadable.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

from rightsdesk.config import PREFIX, fernet_keys


@dataclass(frozen=True)
class KeyKind:
    """One kind of stored data with its own key: the setting and the derivation label."""

    name: str
    setting: str
    label: bytes


PACKAGE = KeyKind("package", "PACKAGE_KEY", b"rightsdesk.packages")
RETAINED = KeyKind("retained", "RETAINED_KEY", b"rightsdesk.retained")
KINDS = {kind.name: kind for kind in (PACKAGE, RETAINED)}


def configured(kind: KeyKind) -> list[str]:
    """The keys set for ``kind``, current first; empty when none is set (then derived)."""
    return fernet_keys(current_app.config.get(kind.setting))


def derived(kind: KeyKind) -> str:
    """The key derived from the secret key for ``kind`` (development and the demo only)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return base64.urlsafe_b64encode(hmac.new(secret, kind.label, hashlib.sha256).digest()).decode()


def keys_of(kind: KeyKind) -> list[str]:
    """The keys in force for ``kind``, current first."""
    return configured(kind) or [derived(kind)]


def cipher_of(kind: KeyKind) -> MultiFernet:
    """Encrypts under the current key, decrypts under any key in force."""
    return _cipher(tuple(keys_of(kind)))


@functools.lru_cache(maxsize=16)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    """Built once per set of keys (every package and kept row asks for one)."""
    return MultiFernet([Fernet(key.encode()) for key in keys])


def package_cipher() -> MultiFernet:
    return cipher_of(PACKAGE)


def retained_cipher() -> MultiFernet:
    return cipher_of(RETAINED)


def new_key() -> str:
    return Fernet.generate_key().decode()


def fingerprint(key: str) -> str:
    """A short name for a key that reveals nothing of it (first 8 hex of its SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def variable(kind: KeyKind) -> str:
    return f"{PREFIX}_{kind.setting}"


def key_bytes(value: object) -> bytes:
    """A configured HMAC key: ``hex:<hex digits>`` for raw bytes (as ``keys generate
    --keep-current`` prints a derived key, so it can be written down unchanged), else the text."""
    text = str(value)
    return bytes.fromhex(text[4:]) if text.startswith("hex:") else text.encode()


def audit_key() -> bytes:
    """The key of the audit chain's HMAC: ``RIGHTSDESK_AUDIT_KEY``, else derived from the
    secret key. Either way it lives outside the database, so access to the database alone
    cannot recompute a link."""
    configured_key = current_app.config.get("AUDIT_KEY")
    if configured_key:
        return key_bytes(configured_key)
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"rightsdesk.audit", hashlib.sha256).digest()
