"""Inbound e-mail: raw messages from stdin, files, mbox, Maildir or IMAP, parsed into plain values.

Standard library only (no Flask, no SQLAlchemy), so the parser can be tested and fuzzed alone.

:func:`parse_message` never raises: Korean mail still arrives in EUC-KR, CP949 labelled as
EUC-KR, ISO-2022-KR and raw 8-bit headers, and a broken message must become an unclassified
request for staff, not a lost one. Every declared charset is tried first, then UTF-8, then CP949,
then UTF-8 with replacement characters. Text fields never contain NUL or lone surrogates, so they
can be stored in PostgreSQL as they are.

Addresses are read from the header as sent, before RFC 2047 decoding, so an encoded display name
cannot smuggle in a different address.
"""

from __future__ import annotations

import binascii
import contextlib
import email
import email.message
import email.policy
import email.utils
import imaplib
import mailbox
import re
import ssl
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

from rightsdesk.domain.identity import InvalidEmail, normalise_email

MAX_BODY_CHARS = 100_000
MAX_HTML_CHARS = 2_000_000  # HTML is cut to this before conversion, to bound the parser's work
MAX_DEPTH = 32  # nested multiparts followed; deeper ones are ignored
IMAP_TIMEOUT = 60  # seconds

# Labels that Python does not know, or knows as something narrower than what mailers send.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",  # Outlook's name for what is really CP949 (Python: EUC-KR)
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "windows-949": "cp949",
    "x-windows-949": "cp949",
    "unicode-1-1-utf-7": "utf-7",
}
# Single-byte charsets that decode anything: a mislabelled UTF-8 text would silently turn into
# mojibake, so valid UTF-8 with non-ASCII bytes wins over them.
_ANY_BYTE_CHARSETS = frozenset(
    {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}
)

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InboundMessage:
    """A received message reduced to what intake needs; every text field is clean Unicode."""

    message_id: str | None
    from_address: str | None
    from_name: str | None
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    is_automated: bool  # an auto-reply or a bounce: never answer it (mail loops)
    automated_reason: str | None
    attachments: tuple[Attachment, ...]
    problems: tuple[str, ...] = ()  # headers ignored as malformed, for the record


# --- text decoding ------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (UTF-8 cannot encode it)."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def _is_utf8_with_non_ascii(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from bytes in a declared (possibly wrong or unknown) charset; never raises."""
    candidates = []
    if declared:
        name = declared.strip().strip("\"'").lower()
        name = _CHARSET_ALIASES.get(name, name)
        if name in _ANY_BYTE_CHARSETS and _is_utf8_with_non_ascii(data):
            name = "utf-8"
        candidates.append(name)
    candidates += ["utf-8", "cp949"]
    for charset in candidates:
        try:
            return _clean(data.decode(charset))
        except Exception:  # unknown name, not a text codec, bad bytes: try the next one
            continue
    return _clean(data.decode("utf-8", errors="replace"))


def _header_text(value: str) -> str:
    """A raw header value (8-bit bytes surrogate-escaped by the parser) as Unicode, unfolded."""
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return _FOLD.sub("", _clean(value))
    return _FOLD.sub("", decode_bytes(data))


def _b_decode(text: str) -> bytes:
    letters = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(letters) % 4 == 1:  # one stray character cannot be data
        letters = letters[:-1]
    try:
        return binascii.a2b_base64(letters + "=" * (-len(letters) % 4))
    except binascii.Error:
        return b""


def _q_decode(text: str) -> bytes:
    return binascii.a2b_qp(text.encode("utf-8", "replace"), header=True)


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words, joining adjacent words in one charset before decoding.

    Mailers split long Korean subjects into several words, often in the middle of a character,
    so the bytes of consecutive words must be decoded together. Whitespace between two encoded
    words is dropped, as RFC 2047 §6.2 says.
    """
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if between and not (pending and between.isspace()):
            _flush_words(out, pending)
            out.append(between)
        _add_word(pending, match)
        position = match.end()
    _flush_words(out, pending)
    out.append(text[position:])
    return _clean("".join(out))


def _flush_words(out: list[str], pending: list[tuple[str, bytes]]) -> None:
    """Decode the pending words' bytes, charset by charset, onto ``out``."""
    out.extend(decode_bytes(data, charset) for charset, data in pending)
    pending.clear()


def _add_word(pending: list[tuple[str, bytes]], match: re.Match[str]) -> None:
    """An encoded word's bytes, joined to the previous word's when in the same charset."""
    charset = match[1].split("*", 1)[0].lower()  # RFC 2231 language suffix: "utf-8*ko"
    encoded = match[3]
    data = _b_decode(encoded) if match[2] in "bB" else _q_decode(encoded)
    if pending and pending[-1][0] == charset:
        pending[-1] = (charset, pending[-1][1] + data)
    else:
        pending.append((charset, data))


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


# --- HTML ---------------------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """Visible text of an HTML body: no script or style, block elements on their own lines."""

    SKIP = frozenset({"script", "style", "title", "template"})
    BLOCK = frozenset(
        {
            "address",
            "article",
            "blockquote",
            "dd",
            "div",
            "dl",
            "dt",
            "footer",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "header",
            "hr",
            "ol",
            "p",
            "pre",
            "section",
            "table",
            "tr",
            "ul",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "body":
            self.skipping = 0  # an unclosed <title> or <style> must not hide the whole body
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag == "br" or tag in self.BLOCK:
            self.chunks.append("\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(re.sub(r"\s+", " ", data))


def _tidy_lines(text: str) -> str:
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text from HTML; tags are stripped crudely if the parser gives up."""
    html = html[:MAX_HTML_CHARS]
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser still asserts on some malformed markup
        text = re.sub(r"<[^>]*>", " ", re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html))
    return _tidy_lines(text.replace("\xa0", " "))


# --- headers ------------------------------------------------------------------------------------


def _raw_header(msg: Message, name: str) -> str | None:
    """The first header called ``name`` as sent; raw, so no policy can raise on it."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


#: The longest Message-ID kept (our own are ~45 characters; the outbox stores 250). A longer
#: one is ignored as malformed: the message is then known by its content's hash.
MAX_MESSAGE_ID = 250
#: At most this many ids are kept from References (each within :data:`MAX_MESSAGE_ID`).
MAX_REFERENCES = 50


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    text = _header_text(value)
    found = _MSG_ID.search(text)
    compact = found.group() if found else "".join(text.split())
    if len(compact) > MAX_MESSAGE_ID:
        return None
    return compact or None


def _id_problem(value: str | None) -> tuple[str, ...]:
    """Why the Message-ID was ignored, if it was."""
    if value is not None and _message_id(value) is None and value.strip():
        return (f"Message-ID ignored as malformed ({len(value)} characters)",)
    return ()


def _references(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = (m for m in _MSG_ID.findall(_header_text(value)) if len(m) <= MAX_MESSAGE_ID)
    return tuple(found)[-MAX_REFERENCES:]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(_one_line(_header_text(value)))
    except Exception:  # ValueError, TypeError, OverflowError… depending on the garbage
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # "-0000": UTC, zone unknown


def _sender(value: str | None) -> tuple[str | None, str | None, str]:
    """(normalised address, display name, raw address) of the first From mailbox."""
    if not value:
        return None, None, ""
    text = _header_text(value)
    name, address = email.utils.parseaddr(text)
    if "@" not in address:  # a whole "name <addr>" hidden in one encoded word
        name, address = email.utils.parseaddr(decode_words(text))
    try:
        normalised: str | None = normalise_email(address)
    except InvalidEmail:
        normalised = None
    display = _LINE_BREAKS.sub("", decode_words(name)).strip()
    return normalised, display or None, address


def _automated_reason(msg: Message, raw_address: str) -> str | None:
    """Why a message must never be answered, or ``None`` if a person sent it."""
    auto_submitted = _header_text(_raw_header(msg, "Auto-Submitted") or "").strip()
    keyword = re.split(r"[\s;(]", auto_submitted.lower(), maxsplit=1)[0]
    if keyword and keyword != "no":
        return f"Auto-Submitted: {_one_line(auto_submitted)}"
    local_part = raw_address.strip().split("@", 1)[0]
    if local_part.lower() in _BOUNCE_SENDERS:
        return f"bounce from {local_part}"
    return_path = _raw_header(msg, "Return-Path")
    if return_path is not None and "".join(return_path.split()) == "<>":
        return "empty Return-Path"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _raw_header(msg, name)
        if value is not None and value.strip().lower() != "no":
            return f"{name}: {_one_line(_header_text(value))}"
    precedence = _one_line(_header_text(_raw_header(msg, "Precedence") or "")).lower()
    if precedence.replace("-", "_") in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if msg.get_content_type() == "multipart/report":
        report_type = msg.get_param("report-type")
        detail = f" ({report_type})" if isinstance(report_type, str) else ""
        return f"multipart/report{detail}"
    return None


# --- body and attachments -----------------------------------------------------------------------


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    if not isinstance(name, str):
        return None
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", decode_words(_header_text(name))).strip()
    return cleaned or None


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or _filename(part) is not None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text = decode_bytes(data, part.get_content_charset())
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return _tidy_newlines(text)


def _tidy_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _texts(part: Message, depth: int = 0) -> list[str]:
    """The readable texts of a part; in multipart/alternative, plain text if it says anything."""
    if depth > MAX_DEPTH:
        return []
    if part.is_multipart():
        if part.get_content_maintype() != "multipart":
            return []  # message/rfc822 and the like: kept as attachments
        children = _children(part)
        if part.get_content_type() == "multipart/alternative":
            return _alternative(children, depth)
        return [text for child in children for text in _texts(child, depth + 1)]
    if part.get_content_type() in ("text/plain", "text/html") and not _is_attachment(part):
        text = _part_text(part)
        return [text] if text else []
    return []


def _alternative(children: list[Message], depth: int) -> list[str]:
    plain = [c for c in children if c.get_content_type() == "text/plain"]
    others = [c for c in children if c.get_content_type() != "text/plain"]
    for child in plain + list(reversed(others)):
        texts = _texts(child, depth + 1)
        if any(t.strip() for t in texts):
            return texts
    return []


def _attachments(part: Message, depth: int = 0) -> list[Attachment]:
    if depth > MAX_DEPTH:
        return []
    content_type = part.get_content_type()
    if part.is_multipart():
        if part.get_content_maintype() == "multipart":
            return [a for child in _children(part) for a in _attachments(child, depth + 1)]
        data = b"".join(_as_bytes(child) for child in _children(part))
        return [Attachment(_filename(part), content_type, data)]
    if content_type in ("text/plain", "text/html") and not _is_attachment(part):
        return []
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return [Attachment(_filename(part), content_type, data)]


def _as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:  # a header the generator cannot fold; the part is kept, empty
        return b""


# --- parse --------------------------------------------------------------------------------------


def _parse(raw: bytes, policy: email.policy.Policy) -> InboundMessage:
    msg = email.message_from_bytes(raw, policy=policy)
    from_address, from_name, raw_address = _sender(_raw_header(msg, "From"))
    reason = _automated_reason(msg, raw_address)
    in_reply_to = _references(_raw_header(msg, "In-Reply-To"))
    return InboundMessage(
        message_id=_message_id(_raw_header(msg, "Message-ID")),
        from_address=from_address,
        from_name=from_name,
        subject=_one_line(decode_words(_header_text(_raw_header(msg, "Subject") or ""))),
        body="\n\n".join(_texts(msg))[:MAX_BODY_CHARS],
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_references(_raw_header(msg, "References")),
        date=_date(_raw_header(msg, "Date")),
        is_automated=reason is not None,
        automated_reason=reason,
        attachments=tuple(_attachments(msg)),
        problems=_id_problem(_raw_header(msg, "Message-ID")),
    )


def _unparseable(raw: bytes) -> InboundMessage:
    """Last resort: the raw text as the body, so staff still see something."""
    return InboundMessage(
        message_id=None,
        from_address=None,
        from_name=None,
        subject="",
        body=decode_bytes(raw[: MAX_BODY_CHARS * 4])[:MAX_BODY_CHARS],
        in_reply_to=None,
        references=(),
        date=None,
        is_automated=False,
        automated_reason=None,
        attachments=(),
    )


def parse_message(raw: bytes) -> InboundMessage:
    """Parse one RFC 5322 message; never raises, whatever the bytes.

    The modern ``email.policy.default`` is tried first; some broken headers make it raise, and
    then the lenient ``compat32`` policy reads the message again.
    """
    for policy in (email.policy.default, email.policy.compat32):
        try:
            return _parse(bytes(raw), policy)
        except Exception:  # never lose a message to a parser bug: try the next policy
            continue
    return _unparseable(bytes(raw))


# --- sources ------------------------------------------------------------------------------------


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def _looks_like_mbox(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(5) == b"From "


def read_source(source: str) -> Iterator[tuple[str, bytes]]:
    """Raw messages as ``(label, bytes)`` from ``-`` (stdin), a Maildir, an mbox or one file.

    The path is checked at once, so a missing one raises :class:`FileNotFoundError` here, not
    at the first iteration.
    """
    if source == "-":
        return iter([("stdin", sys.stdin.buffer.read())])
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {source}")
    if path.is_dir():
        if not _is_maildir(path):
            raise IsADirectoryError(f"{source} is a directory but not a Maildir (cur/ new/ tmp/)")
        return _read_maildir(path)
    if _looks_like_mbox(path):
        return _read_mbox(path)
    return iter([(str(path), path.read_bytes())])


def _read_maildir(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.keys()):
        if not key.startswith("."):  # Maildir readers ignore dot files (.gitkeep, .nfs…)
            yield key, box.get_bytes(key)


def _read_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for index, key in enumerate(sorted(box.keys())):
            yield f"{path}#{index}", box.get_bytes(key)
    finally:
        box.close()


# --- IMAP ---------------------------------------------------------------------------------------
#
# Reading is read-only (EXAMINE, BODY.PEEK[]): nothing is marked seen while reading. Store each
# message first, then call mark_imap_seen with the UIDs that were stored, so a crash in between
# fetches them again rather than losing them (deduplicate on Message-ID).


def _imap_connect(host: str, port: int, use_ssl: bool) -> imaplib.IMAP4:
    context = ssl.create_default_context()  # imaplib's own default does not verify certificates
    if use_ssl:
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=IMAP_TIMEOUT)
    conn = imaplib.IMAP4(host, port, timeout=IMAP_TIMEOUT)
    if "STARTTLS" in conn.capabilities:
        conn.starttls(context)
    return conn


def _imap_quote(mailbox_name: str) -> str:
    escaped = mailbox_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _imap_check(result: tuple[str, list], what: str) -> list:
    status, data = result
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP {what} failed: {status} {data!r}")
    return data


def _imap_logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()


def imap_uid(label: str) -> str:
    """The UID in a label from :func:`read_imap` (``imap:INBOX:42`` → ``42``)."""
    return label.rsplit(":", 1)[-1]


def read_imap(
    host: str,
    user: str,
    password: str,
    mailbox: str = "INBOX",
    port: int = 993,
    use_ssl: bool = True,
    search: str = "UNSEEN",
) -> Iterator[tuple[str, bytes]]:
    """Messages matching ``search`` (raw IMAP search criteria), without marking them seen.

    Labels are ``imap:{mailbox}:{uid}``. Without ``use_ssl`` the connection is upgraded with
    STARTTLS when the server offers it; otherwise the password travels in clear.
    """
    conn = _imap_connect(host, port, use_ssl)
    try:
        conn.login(user, password)
        _imap_check(conn.select(_imap_quote(mailbox), readonly=True), "SELECT")
        found = _imap_check(conn.uid("SEARCH", search), "SEARCH")
        uids = found[0].split() if found and found[0] else []
        yield from _imap_fetch(conn, mailbox, uids)
    finally:
        _imap_logout(conn)


def _imap_fetch(
    conn: imaplib.IMAP4, mailbox: str, uids: list[bytes]
) -> Iterator[tuple[str, bytes]]:
    """Each message by UID, unmarked (``BODY.PEEK``); one expunged meanwhile is skipped."""
    for uid in (u.decode("ascii") for u in uids):
        fetched = _imap_check(conn.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
        raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
        if raw is not None:  # None: expunged meanwhile
            yield f"imap:{mailbox}:{uid}", raw


def mark_imap_seen(
    host: str,
    user: str,
    password: str,
    uids: Iterable[str],
    mailbox: str = "INBOX",
    port: int = 993,
    use_ssl: bool = True,
) -> None:
    """Set ``\\Seen`` on messages by UID (see :func:`imap_uid`), once they are safely stored."""
    wanted = list(uids)
    if not wanted:
        return
    if not all(uid.isdigit() for uid in wanted):
        raise ValueError(f"not IMAP UIDs: {wanted!r}")
    conn = _imap_connect(host, port, use_ssl)
    try:
        conn.login(user, password)
        _imap_check(conn.select(_imap_quote(mailbox)), "SELECT")
        _imap_check(conn.uid("STORE", ",".join(wanted), "+FLAGS", "(\\Seen)"), "STORE")
    finally:
        _imap_logout(conn)
