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
    if any(ch in email for ch in "\r\n,;<>\"'"):
        raise InvalidEmail(f"not an e-mail address: {value!r}")
    return email
