"""Every user-facing string has a Korean translation, and the compiled catalogs are current."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "rightsdesk" / "translations"
METHOD_MAP = [
    ("rightsdesk/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]


def _source_messages() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(str(ROOT), METHOD_MAP):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(language: str, suffix: str):
    path = CATALOGS / language / "LC_MESSAGES" / f"messages.{suffix}"
    with path.open("rb") as handle:
        return read_po(handle, locale=language) if suffix == "po" else read_mo(handle)


def test_every_message_in_the_code_has_a_korean_translation():
    korean = _catalog("ko", "po")
    missing = []
    for message in sorted(_source_messages()):
        entry = korean.get(message)
        strings = entry.string if entry else None
        if isinstance(strings, tuple):
            strings = all(strings) and strings
        if not strings or (entry and entry.fuzzy):
            missing.append(message)
    assert missing == [], "run `make translations` and translate: " + "; ".join(missing)


def test_compiled_catalogs_match_their_sources():
    for language in ("ko", "en"):
        source, compiled = _catalog(language, "po"), _catalog(language, "mo")
        expected = {
            _key(m.id): _key(m.string) for m in source if m.id and _filled(m.string) and not m.fuzzy
        }
        # pybabel writes untranslated plurals as their own msgids: not a translation.
        actual = {
            _key(m.id): _key(m.string) for m in compiled if m.id and _key(m.string) != _key(m.id)
        }
        assert actual == expected, f"run `pybabel compile -d rightsdesk/translations` ({language})"


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _filled(value) -> bool:
    return all(value) if isinstance(value, list | tuple) else bool(value)
