"""Who the request is about: e-mail addresses normalised so one person is one subject."""

from __future__ import annotations

import re
import unicodedata

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit


class InvalidEmail(ValueError):
    pass


def normalise_email(value: str) -> str:
    """Trim, NFC-normalise and lower-case an address; refuse what cannot be one.

    Lower-casing the local part is not what RFC 5321 promises, but it is what every mailbox
    provider a Korean service meets does, and two requests from ``Kim@x`` and ``kim@x`` are
    the same person's.
    """
    email = unicodedata.normalize("NFC", value).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidEmail(f"not an e-mail address: {value!r}")
    if any(ch in email for ch in ',;<>"') or has_control_characters(email, allow_breaks=False):
        raise InvalidEmail(f"not an e-mail address: {value!r}")
    return email


def has_control_characters(text: str, *, allow_breaks: bool = True) -> bool:
    """NUL and other control characters (which PostgreSQL text, or a mail header, refuses);
    line breaks and tabs pass where ``allow_breaks``."""
    allowed = "\n\r\t" if allow_breaks else ""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


def strip_control_characters(text: str) -> str:
    """The text without control characters other than line breaks and tabs."""
    return "".join(ch for ch in text if not has_control_characters(ch))
