"""Who the request is about: e-mail addresses normalised so one person is one subject."""

from __future__ import annotations

import re
import unicodedata

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit


#: Unicode categories no address may hold: format characters (bidirectional overrides such as
#: U+202E, zero-width joiners and spaces, U+FEFF), private use, unassigned code points.
_INVISIBLE = frozenset({"Cf", "Co", "Cn"})


class InvalidEmail(ValueError):
    pass


class UndeliverableEmail(InvalidEmail):
    """An address our mail cannot reach as written: letters outside ASCII before the ``@``
    (they need SMTPUTF8, which rightsdesk does not send) or a domain that has no IDNA form."""


def normalise_email(value: str, *, strict: bool = True) -> str:
    """Trim, NFC-normalise and lower-case an address; refuse what cannot be one.

    Lower-casing the local part is not what RFC 5321 promises, but it is what every mailbox
    provider a Korean service meets does, and two requests from ``Kim@x`` and ``kim@x`` are
    the same person's. ``strict`` (every intake) also refuses invisible characters and what
    the outbox could not send (:class:`UndeliverableEmail`); ``strict=False`` is for addresses
    already stored before that check, which must still be found and hashed as they are.
    """
    email = unicodedata.normalize("NFC", value).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidEmail(f"not an e-mail address: {value!r}")
    if any(ch in email for ch in ',;<>"') or has_control_characters(email, allow_breaks=False):
        raise InvalidEmail(f"not an e-mail address: {value!r}")
    if strict:
        _check_deliverable(email)
    return email


def _check_deliverable(email: str) -> None:
    """Refuse invisible characters anywhere, a non-ASCII local part, and a domain without an
    IDNA (punycode) form — the outbox sends the domain so and never uses SMTPUTF8."""
    if any(unicodedata.category(ch) in _INVISIBLE for ch in email):
        raise InvalidEmail("an e-mail address holds an invisible or direction-changing character")
    local, domain = email.rsplit("@", 1)
    if not local.isascii():
        raise UndeliverableEmail("the part before @ holds letters outside ASCII")
    try:
        domain.encode("idna")
    except UnicodeError:
        raise UndeliverableEmail("the domain has no internationalised (IDNA) form") from None


def has_control_characters(text: str, *, allow_breaks: bool = True) -> bool:
    """NUL and other control characters (which PostgreSQL text, or a mail header, refuses);
    line breaks and tabs pass where ``allow_breaks``."""
    allowed = "\n\r\t" if allow_breaks else ""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


def strip_control_characters(text: str) -> str:
    """The text without control characters other than line breaks and tabs."""
    return "".join(ch for ch in text if not has_control_characters(ch))
