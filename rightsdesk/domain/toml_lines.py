"""Where each key of a TOML text was written: ``tomllib`` keeps no positions, so a
problem in the data map or the retention file names its line by this index.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

KeyPath = tuple[str | int, ...]


def dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int:
    """The line that wrote ``path``, or failing that its nearest written ancestor's."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


@dataclass
class _ScanState:
    table: KeyPath = ()
    depth: int = 0  # open brackets and braces of a value spanning lines
    string: str | None = None  # the delimiter of an open multi-line string
    arrays: dict[tuple[str, ...], int] = field(default_factory=dict)  # [[x]] seen: last index


def index_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every table header and key of a valid TOML document.

    Keys inside inline tables and arrays are not indexed: their value's key stands for them.
    """
    lines: dict[KeyPath, int] = {}
    state = _ScanState()
    for number, line in enumerate(text.splitlines(), start=1):
        start = 0
        if state.string is None and state.depth == 0:
            start = _index_line(line, number, state, lines)
        _scan_value(line, start, state)
    return lines


def _index_line(line: str, number: int, state: _ScanState, lines: dict[KeyPath, int]) -> int:
    """Record a header or key on ``line``; return where its value (if any) starts."""
    stripped = line.lstrip()
    offset = len(line) - len(stripped)
    if not stripped or stripped.startswith("#"):
        return len(line)
    if stripped.startswith("["):
        is_array = stripped.startswith("[[")
        parsed = _parse_key(stripped, 2 if is_array else 1)
        if parsed is None:
            return len(line)
        state.table = _header_path(tuple(parsed[0]), is_array, state)
        _record(lines, state.table, number)
        return len(line)  # a comment may follow the header, never a value
    parsed = _parse_key(stripped, 0)
    if parsed is None or not stripped[parsed[1] :].startswith("="):
        return len(line)
    _record(lines, (*state.table, *parsed[0]), number)
    return offset + parsed[1] + 1


def _header_path(parts: tuple[str, ...], is_array: bool, state: _ScanState) -> KeyPath:
    """The full path of a header, with the current index after every array of tables in it."""
    path: list[str | int] = []
    for end in range(1, len(parts) + 1):
        path.append(parts[end - 1])
        if is_array and end == len(parts):
            state.arrays[parts] = state.arrays.get(parts, -1) + 1
            path.append(state.arrays[parts])
        elif parts[:end] in state.arrays:
            path.append(state.arrays[parts[:end]])
    return tuple(path)


def _record(lines: dict[KeyPath, int], path: KeyPath, number: int) -> None:
    for end in range(1, len(path) + 1):
        lines.setdefault(path[:end], number)


def _parse_key(text: str, start: int) -> tuple[list[str], int] | None:
    """A dotted key (bare or quoted parts) at ``text[start:]``, and the index after it."""
    parts: list[str] = []
    i = start
    while True:
        i = _skip_blanks(text, i)
        if i < len(text) and text[i] in "\"'":
            end = _string_end(text, i + 1, text[i])
            if end < 0:
                return None
            parts.append(tomllib.loads(f"k = {text[i:end]}")["k"])
            i = end
        else:
            match = _BARE_KEY.match(text, i)
            if match is None:
                return None
            parts.append(match.group())
            i = match.end()
        i = _skip_blanks(text, i)
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return parts, i


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _string_end(text: str, i: int, quote: str) -> int:
    """The index after the one-line string closing at ``quote`` from ``i``; -1 if none."""
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return -1


def _scan_value(line: str, i: int, state: _ScanState) -> None:
    """Follow strings, brackets and comments to know whether a value goes on past the line."""
    while i < len(line):
        if state.string is not None:
            i = _multiline_end(line, i, state.string)
            if i < 0:
                return
            state.string = None
            continue
        char = line[i]
        if char == "#":
            return
        if line.startswith(('"""', "'''"), i):
            state.string = line[i : i + 3]
            i += 3
        elif char in "\"'":
            i = _string_end(line, i + 1, char)
            if i < 0:
                return
        else:
            state.depth += (char in "[{") - (char in "]}")
            i += 1


def _multiline_end(line: str, i: int, delimiter: str) -> int:
    while i < len(line):
        if delimiter == '"""' and line[i] == "\\":
            i += 2
            continue
        if line.startswith(delimiter, i):
            end = i + 3
            while end < len(line) and line[end] == delimiter[0]:  # """"" ends with content quotes
                end += 1
            return end
        i += 1
    return -1
