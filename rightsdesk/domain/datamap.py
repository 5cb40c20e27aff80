"""The data map: where a data subject's personal data lives, and what to do with it.

A TOML file names the *systems* that hold personal data and the *recipients* it goes to. A
recipient has a ``role``: ``processor`` (처리위탁, PIPA §26: a 수탁자 doing a task for the
operator, e.g. delivery or payment processing; ``purpose`` is the task entrusted) or
``third_party`` (제3자 제공, PIPA §17: the recipient uses the data for its own ``purpose``, and
keeps it for its own ``retention``). A recipient that names no role is a third party: maps
written before roles existed listed their recipients as provision to third parties, and the
policies published from them said so; the stricter reading stays until the operator says
otherwise. A system is one of three kinds:

- ``sql``: a database reached through a SQLAlchemy URL kept in an environment variable (never
  in the file); its tables, how each finds a subject's rows (identity columns, or a relation to
  a parent table followed back to one that has them), the data category of each column, the
  statutory retention category, the erasure strategy, and the action per processing purpose
  that a suspension or consent withdrawal takes (delete rows, or set columns).
- ``webhook``: an HTTPS endpoint of the host application that does the work itself.
- ``manual``: instructions for staff, for what no program can reach (paper forms, …).

:func:`load_datamap` reads the file and refuses what is not a map (bad TOML, a wrong type, a
missing or unknown key) with :class:`DataMapError`; :func:`check_structure` lists what is
wrong inside a well-formed map (an unknown strategy, a relation cycle, …). Both name the line:
``tomllib`` keeps no positions, so :func:`index_lines` scans the text once for every
``[header]`` and ``key =`` and the map remembers where each key path was written.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NoReturn
from urllib.parse import urlsplit

from rightsdesk.domain.retention import DEFAULT_SCHEDULE, Rule
from rightsdesk.domain.toml_lines import KeyPath, dotted, index_lines, line_of

Scalar = str | int | float | bool


class SystemKind(StrEnum):
    SQL = "sql"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class Erasure(StrEnum):
    """What erasing a subject does to a table's rows."""

    DELETE = "delete"  # delete the rows
    ANONYMISE = "anonymise"  # replace the listed columns by non-identifying values
    NULL = "null"  # set the listed columns to NULL


IDENTITY_KINDS = ("email", "phone", "user_id")


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


DEFAULT_WEBHOOK_TIMEOUT = 10.0


# The statutory categories a table may name (the retention schedule's rules; operators may add
# their own there).
RETENTION_CATEGORIES: Mapping[str, Rule] = DEFAULT_SCHEDULE.rules


@dataclass(frozen=True)
class Relation:
    """This table's rows belong to a subject through ``column`` = ``table``.``parent_column``."""

    table: str
    column: str
    parent_column: str


@dataclass(frozen=True)
class PurposeAction:
    """What stopping one processing purpose (e.g. marketing) does to a table's rows."""

    delete_rows: bool = False
    set_values: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    name: str
    path: KeyPath
    retention: str
    erasure: str
    identity: Mapping[str, str] = field(default_factory=dict)
    via: Relation | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    anonymise: tuple[str, ...] = ()
    null: tuple[str, ...] = ()
    purposes: Mapping[str, PurposeAction] = field(default_factory=dict)
    # The date column the retention period runs from (e.g. an order's date); without it the
    # period runs from the erasure.
    retention_from: str = ""
    # What the table holds in the subject's words ("결제 기록" / "payment records"): notices
    # name it so, never by ``system.table``.
    label_ko: str = ""
    label_en: str = ""

    def label(self, language: str) -> str:
        chosen = self.label_ko if language == "ko" else self.label_en
        return chosen or self.label_ko or self.label_en

    def named_columns(self) -> list[tuple[str, KeyPath]]:
        """Every column of this table the map names, with the key path that names it."""
        named = [(c, (*self.path, "identity", k)) for k, c in self.identity.items()]
        if self.via is not None:
            named.append((self.via.column, (*self.path, "via")))
        named += [(c, (*self.path, "fields", c)) for c in self.fields]
        named += [(c, (*self.path, "anonymise")) for c in self.anonymise]
        named += [(c, (*self.path, "null")) for c in self.null]
        if self.retention_from:
            named.append((self.retention_from, (*self.path, "retention_from")))
        for purpose, action in self.purposes.items():
            named += [(c, (*self.path, "purposes", purpose, "set", c)) for c in action.set_values]
        return named


@dataclass(frozen=True)
class System:
    """One place personal data lives; the fields of other kinds stay empty."""

    name: str
    kind: str
    path: KeyPath
    description: str = ""
    categories: tuple[str, ...] = ()  # webhook and manual: what the system holds
    url_env: str = ""  # sql; webhook: a variable that, when set, holds the url (it wins)
    tables: tuple[Table, ...] = ()  # sql
    url: str = ""  # webhook
    secret_env: str = ""  # webhook
    timeout: float = DEFAULT_WEBHOOK_TIMEOUT  # webhook, seconds
    instructions: Mapping[str, str] = field(default_factory=dict)  # manual, by language

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def held_categories(self) -> set[str]:
        held = set(self.categories)
        for table in self.tables:
            held.update(table.fields.values())
        return held


class RecipientRole(StrEnum):
    PROCESSOR = "processor"  # 처리위탁 (PIPA §26): a 수탁자 doing the operator's task
    THIRD_PARTY = "third_party"  # 제3자 제공 (PIPA §17): the recipient's own purpose


DEFAULT_RECIPIENT_ROLE = RecipientRole.THIRD_PARTY  # what maps without roles published


@dataclass(frozen=True)
class Recipient:
    """Someone personal data goes to, which categories of it, and in which role: a processor
    (``purpose`` is the task entrusted) or a third party (its own ``purpose`` and
    ``retention``). An unknown role is kept as written; :func:`check_structure` names it."""

    name: str
    path: KeyPath
    categories: tuple[str, ...]
    purpose: str
    contact: str = ""
    role: str = DEFAULT_RECIPIENT_ROLE.value
    retention: str = ""
    purpose_en: str = ""  # the purpose for the English policy, where ``purpose`` is Korean
    retention_en: str = ""

    def purpose_in(self, language: str) -> str:
        return self.purpose_en if language == "en" and self.purpose_en else self.purpose

    def retention_in(self, language: str) -> str:
        return self.retention_en if language == "en" and self.retention_en else self.retention
    # What the recipient knows the person by, as it calls it: {"주문번호": "shop.orders.id"}.
    # A correction notice carries these values, so the recipient can find the record.
    identifiers: Mapping[str, str] = field(default_factory=dict)
    # How correction notices reach it: "email" (to ``contact``) or "webhook" (a signed POST to
    # ``url``, or the URL in the variable ``url_env``, with the secret in ``secret_env``).
    channel: str = "email"
    url: str = ""
    url_env: str = ""
    secret_env: str = ""

    @property
    def is_processor(self) -> bool:
        return self.role == RecipientRole.PROCESSOR


@dataclass(frozen=True)
class DataMap:
    source: str
    systems: tuple[System, ...]
    recipients: tuple[Recipient, ...] = ()
    lines: Mapping[KeyPath, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: KeyPath) -> int:
        return line_of(self.lines, path)

    def system(self, name: str) -> System:
        for system in self.systems:
            if system.name == name:
                return system
        accepted = ", ".join(s.name for s in self.systems)
        raise LookupError(f"no system {name!r} in the data map; it has: {accepted}")

    @property
    def table_count(self) -> int:
        return sum(len(s.tables) for s in self.systems)


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}"


class DataMapError(ValueError):
    """A file that is not a data map at all: bad TOML, a wrong type, a missing key."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


_SQL_TABLE_KEYS = (
    "identity",
    "via",
    "fields",
    "retention",
    "retention_from",
    "erasure",
    "anonymise",
    "null",
    "purposes",
    "label_ko",
    "label_en",
)
RECIPIENT_KEYS = (
    "name",
    "role",
    "categories",
    "purpose",
    "retention",
    "contact",
    "identifiers",
    "channel",
    "url",
    "url_env",
    "secret_env",
    "purpose_en",
    "retention_en",
)
RECIPIENT_CHANNELS = ("email", "webhook")
_TOML_ERROR_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


def load_datamap(text: str, source: str) -> DataMap:
    """The map in ``text`` (TOML); :class:`DataMapError` names the line of the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_ERROR_LINE.search(message)
        line = int(found.group(1)) if found else 1
        problem = _TOML_ERROR_LINE.sub("", message) if found else message
        raise DataMapError(source, line, f"not valid TOML: {problem}") from None
    return _Reader(source, index_lines(text)).datamap(data)


class _Reader:
    """Turns the parsed TOML into the map, refusing wrong shapes at the line that wrote them."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: KeyPath, problem: str) -> NoReturn:
        raise DataMapError(self.source, line_of(self.lines, path), problem)

    def datamap(self, data: dict[str, Any]) -> DataMap:
        self.only(data, (), ("systems", "recipients"))
        systems = self.table(data, (), "systems")
        if not systems:
            self.fail(("systems",), "the map names no systems; add a [systems.<name>] table")
        recipients = data.get("recipients", [])
        if not isinstance(recipients, list):
            self.fail(("recipients",), "recipients must be an array of tables ([[recipients]])")
        return DataMap(
            source=self.source,
            systems=tuple(self.system(name, raw) for name, raw in systems.items()),
            recipients=tuple(self.recipient(i, raw) for i, raw in enumerate(recipients)),
            lines=self.lines,
        )

    def system(self, name: str, raw: object) -> System:
        path: KeyPath = ("systems", name)
        raw = self.as_table(raw, path)
        base = System(
            name=name,
            kind=self.text(raw, path, "kind"),
            path=path,
            description=self.text(raw, path, "description", ""),
        )
        build = {
            SystemKind.SQL: self.sql_system,
            SystemKind.WEBHOOK: self.webhook_system,
            SystemKind.MANUAL: self.manual_system,
        }.get(base.kind)
        return build(base, raw) if build else base  # an unknown kind: check_structure names it

    def sql_system(self, base: System, raw: dict[str, Any]) -> System:
        path = base.path
        self.only(raw, path, ("kind", "description", "url_env", "tables"))
        tables = self.table(raw, path, "tables")
        if not tables:
            self.fail((*path, "tables"), f"system {base.name!r} has no tables")
        return replace(
            base,
            url_env=self.text(raw, path, "url_env"),
            tables=tuple(self.sql_table(path, t, v) for t, v in tables.items()),
        )

    def webhook_system(self, base: System, raw: dict[str, Any]) -> System:
        path = base.path
        allowed = ("kind", "description", "categories", "url", "url_env", "secret_env", "timeout")
        self.only(raw, path, allowed)
        if "url" not in raw and "url_env" not in raw:
            self.fail(path, f"{dotted(path)}: missing 'url' (or 'url_env')")
        return replace(
            base,
            categories=self.texts(raw, path, "categories"),
            url=self.text(raw, path, "url", "" if "url_env" in raw else None),
            url_env=self.text(raw, path, "url_env", ""),
            secret_env=self.text(raw, path, "secret_env"),
            timeout=self.timeout(raw, path),
        )

    def manual_system(self, base: System, raw: dict[str, Any]) -> System:
        path = base.path
        self.only(raw, path, ("kind", "description", "categories", "instructions"))
        instructions = self.text_table(raw, path, "instructions", required=True)
        self.only(instructions, (*path, "instructions"), ("ko", "en"))
        if "ko" not in instructions:
            self.fail((*path, "instructions"), f"{dotted(path)}.instructions: missing 'ko'")
        return replace(
            base, categories=self.texts(raw, path, "categories"), instructions=instructions
        )

    def sql_table(self, system_path: KeyPath, name: str, raw: object) -> Table:
        path: KeyPath = (*system_path, "tables", name)
        raw = self.as_table(raw, path)
        self.only(raw, path, _SQL_TABLE_KEYS)
        purposes = self.table(raw, path, "purposes")
        return Table(
            name=name,
            path=path,
            retention=self.text(raw, path, "retention"),
            retention_from=self.text(raw, path, "retention_from", default=""),
            erasure=self.text(raw, path, "erasure"),
            identity=self.text_table(raw, path, "identity"),
            via=self.relation(raw, path),
            fields=self.text_table(raw, path, "fields"),
            anonymise=self.texts(raw, path, "anonymise"),
            null=self.texts(raw, path, "null"),
            purposes={p: self.purpose((*path, "purposes", p), v) for p, v in purposes.items()},
            label_ko=self.text(raw, path, "label_ko", default=""),
            label_en=self.text(raw, path, "label_en", default=""),
        )

    def relation(self, raw: dict[str, Any], table_path: KeyPath) -> Relation | None:
        if "via" not in raw:
            return None
        path = (*table_path, "via")
        via = self.as_table(raw["via"], path)
        self.only(via, path, ("table", "column", "parent_column"))
        return Relation(
            table=self.text(via, path, "table"),
            column=self.text(via, path, "column"),
            parent_column=self.text(via, path, "parent_column"),
        )

    def purpose(self, path: KeyPath, raw: object) -> PurposeAction:
        raw = self.as_table(raw, path)
        self.only(raw, path, ("delete_rows", "set"))
        delete_rows = raw.get("delete_rows", False)
        if not isinstance(delete_rows, bool):
            self.fail((*path, "delete_rows"), f"{dotted(path)}.delete_rows must be true or false")
        values = self.table(raw, path, "set")
        for column, value in values.items():
            if not isinstance(value, Scalar):
                self.fail((*path, "set", column), f"{dotted(path)}.set.{column} must be a scalar")
        if delete_rows == bool(values):
            self.fail(path, f"{dotted(path)}: give either delete_rows = true or set = {{…}}")
        return PurposeAction(delete_rows=delete_rows, set_values=values)

    def recipient(self, index: int, raw: object) -> Recipient:
        path: KeyPath = ("recipients", index)
        raw = self.as_table(raw, path)
        self.only(
            raw,
            path,
            RECIPIENT_KEYS,
        )
        categories = self.texts(raw, path, "categories")
        if not categories:
            self.fail((*path, "categories"), f"recipient {index + 1}: list its categories")
        return Recipient(
            name=self.text(raw, path, "name"),
            path=path,
            categories=categories,
            purpose=self.text(raw, path, "purpose"),
            contact=self.text(raw, path, "contact", ""),
            role=self.text(raw, path, "role", DEFAULT_RECIPIENT_ROLE.value),
            retention=self.text(raw, path, "retention", ""),
            purpose_en=self.text(raw, path, "purpose_en", ""),
            retention_en=self.text(raw, path, "retention_en", ""),
            identifiers=self.text_table(raw, path, "identifiers"),
            channel=self.text(raw, path, "channel", "email"),
            url=self.text(raw, path, "url", ""),
            url_env=self.text(raw, path, "url_env", ""),
            secret_env=self.text(raw, path, "secret_env", ""),
        )

    def timeout(self, raw: dict[str, Any], path: KeyPath) -> float:
        value = raw.get("timeout", DEFAULT_WEBHOOK_TIMEOUT)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail((*path, "timeout"), f"{dotted(path)}.timeout must be a positive number")
        return float(value)

    # The shapes of values.

    def only(self, raw: dict[str, Any], path: KeyPath, allowed: Iterable[str]) -> None:
        unknown = [key for key in raw if key not in allowed]
        if unknown:
            where = f"{dotted(path)}: " if path else ""
            self.fail(
                (*path, unknown[0]),
                f"{where}unknown key {unknown[0]!r}; accepted: {', '.join(allowed)}",
            )

    def as_table(self, raw: object, path: KeyPath) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(path, f"{dotted(path)} must be a table")
        return raw

    def table(self, raw: dict[str, Any], path: KeyPath, key: str) -> dict[str, Any]:
        return self.as_table(raw.get(key, {}), (*path, key))

    def text(self, raw: dict[str, Any], path: KeyPath, key: str, default: str | None = None) -> str:
        if key not in raw:
            if default is None:
                self.fail(path, f"{dotted(path)}: missing {key!r}")
            return default
        value = raw[key]
        if not isinstance(value, str) or (default is None and not value.strip()):
            self.fail((*path, key), f"{dotted((*path, key))} must be a non-empty string")
        return value

    def texts(self, raw: dict[str, Any], path: KeyPath, key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail((*path, key), f"{dotted((*path, key))} must be a list of strings")
        return tuple(value)

    def text_table(
        self, raw: dict[str, Any], path: KeyPath, key: str, *, required: bool = False
    ) -> dict[str, str]:
        if required and key not in raw:
            self.fail(path, f"{dotted(path)}: missing {key!r}")
        value = self.table(raw, path, key)
        for name, item in value.items():
            if not isinstance(item, str) or not item.strip():
                self.fail((*path, key, name), f"{dotted((*path, key, name))} must be a string")
        return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_structure(
    datamap: DataMap, categories: Iterable[str] = RETENTION_CATEGORIES
) -> list[Problem]:
    """What is wrong inside a loaded map, by line; empty if nothing."""
    problems: list[Problem] = []
    for system in datamap.systems:
        problems += _check_system(datamap, system, tuple(categories))
    problems += _check_recipients(datamap)
    return sorted(problems)


def _check_system(datamap: DataMap, system: System, categories: tuple[str, ...]) -> list[Problem]:
    at = datamap.line_of
    if system.kind not in tuple(SystemKind):
        accepted = ", ".join(SystemKind)
        message = f"system {system.name!r}: unknown kind {system.kind!r}; accepted: {accepted}"
        return [Problem(at((*system.path, "kind")), message)]
    problems = _check_env_names(datamap, system)
    checked_url = system.url or not system.url_env  # a url_env's value is checked at run time
    if system.kind == SystemKind.WEBHOOK and checked_url and not acceptable_webhook_url(system.url):
        problems.append(
            Problem(
                at((*system.path, "url")),
                f"system {system.name!r}: url {system.url!r} must be https:// "
                f"(http:// only to {', '.join(LOOPBACK_HOSTS)})",
            )
        )
    for table in system.tables:
        problems += _check_table(datamap, system, table, categories)
    return problems + _duplicate_tables(datamap, system) + _relation_cycles(datamap, system)


def _check_env_names(datamap: DataMap, system: System) -> list[Problem]:
    """``url_env`` and ``secret_env`` name variables; a value there is a secret in the map."""
    problems = []
    for key in ("url_env", "secret_env"):
        name = getattr(system, key)
        if name and not _ENV_NAME.fullmatch(name):
            problems.append(
                Problem(
                    datamap.line_of((*system.path, key)),
                    f"system {system.name!r}: {key} must name an environment variable "
                    f"(e.g. RIGHTSDESK_SHOP_DATABASE_URL), not hold the value",
                )
            )
    return problems


def acceptable_webhook_url(url: str) -> bool:
    """https://, or http:// to a loopback host (a webhook system's endpoint)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_table(
    datamap: DataMap, system: System, table: Table, categories: tuple[str, ...]
) -> list[Problem]:
    name = f"table {system.name}.{table.name}"
    problems = []
    if table.retention not in categories:
        accepted = ", ".join(categories)
        problems.append(
            Problem(
                datamap.line_of((*table.path, "retention")),
                f"{name}: unknown retention category {table.retention!r}; accepted: {accepted}",
            )
        )
    problems += _check_erasure(datamap, name, table)
    problems += [
        Problem(
            datamap.line_of((*table.path, "identity", kind)),
            f"{name}: unknown identity kind {kind!r}; accepted: {', '.join(IDENTITY_KINDS)}",
        )
        for kind in table.identity
        if kind not in IDENTITY_KINDS
    ]
    return problems + _check_reach(datamap, system, name, table)


def _check_reach(datamap: DataMap, system: System, name: str, table: Table) -> list[Problem]:
    """A table's rows must be found: by an identity column or through a table of the system."""
    at = datamap.line_of
    problems = []
    if not table.identity and table.via is None:
        problems.append(
            Problem(
                at(table.path),
                f"{name}: no identity columns and no via relation, so no row can be "
                "found for a subject",
            )
        )
    if table.via is not None and system.table(table.via.table) is None:
        problems.append(
            Problem(
                at((*table.path, "via")),
                f"{name}: via names table {table.via.table!r}, which is not a table of "
                f"system {system.name!r}",
            )
        )
    return problems


def _check_erasure(datamap: DataMap, name: str, table: Table) -> list[Problem]:
    if table.erasure not in tuple(Erasure):
        accepted = ", ".join(Erasure)
        return [
            Problem(
                datamap.line_of((*table.path, "erasure")),
                f"{name}: unknown erasure strategy {table.erasure!r}; accepted: {accepted}",
            )
        ]
    # What each strategy needs: delete takes no columns, anonymise its list (and may null
    # more columns), null its list.
    needs = {"anonymise": table.erasure == Erasure.ANONYMISE, "null": table.erasure == Erasure.NULL}
    allowed = {"anonymise": needs["anonymise"], "null": table.erasure != Erasure.DELETE}
    problems = []
    for key in ("anonymise", "null"):
        problems += _check_columns(
            datamap, name, table, key, needed=needs[key], allowed=allowed[key]
        )
    return problems


def _check_columns(
    datamap: DataMap, name: str, table: Table, key: str, *, needed: bool, allowed: bool
) -> list[Problem]:
    """The table's ``anonymise`` or ``null`` list (``key``): given when the strategy needs it,
    absent when it does nothing, and naming declared columns only (:func:`_undeclared`)."""
    at = datamap.line_of
    columns: tuple[str, ...] = getattr(table, key)
    problems = []
    if needed and not columns:
        problems.append(
            Problem(
                at((*table.path, "erasure")),
                f"{name}: erasure = {table.erasure!r} needs a {key} = [columns] list",
            )
        )
    elif columns and not allowed:
        problems.append(
            Problem(
                at((*table.path, key)),
                f"{name}: a {key} list does nothing with erasure = {table.erasure!r}",
            )
        )
    return problems + _undeclared(datamap, name, table, key)


def _undeclared(datamap: DataMap, name: str, table: Table, key: str) -> list[Problem]:
    declared = set(table.fields) | set(table.identity.values())
    return [
        Problem(
            datamap.line_of((*table.path, key)),
            f"{name}: {key} names {column!r}, which is neither in its fields "
            "nor an identity column",
        )
        for column in getattr(table, key)
        if column not in declared
    ]


def _duplicate_tables(datamap: DataMap, system: System) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for table in system.tables:
        if table.name in seen:
            problems.append(
                Problem(
                    datamap.line_of(table.path),
                    f"table {system.name}.{table.name} is described twice",
                )
            )
        seen.add(table.name)
    return problems


def _relation_cycles(datamap: DataMap, system: System) -> list[Problem]:
    """Each cycle of via relations once, at the via line of its first table in the file."""
    parent = {t.name: t.via.table for t in system.tables if t.via is not None}
    reported: set[frozenset[str]] = set()
    problems = []
    for table in system.tables:
        chain = [table.name]
        while chain[-1] in parent and parent[chain[-1]] not in chain:
            chain.append(parent[chain[-1]])
        if chain[-1] not in parent:
            continue  # the chain ends at a table found by identity (or a missing one)
        cycle = chain[chain.index(parent[chain[-1]]) :]
        if table.name not in cycle or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        route = " → ".join([*cycle, cycle[0]])
        problems.append(
            Problem(
                datamap.line_of((*table.path, "via")),
                f"table {system.name}.{table.name}: via relations form a cycle ({route}), "
                "so its rows never lead to a subject",
            )
        )
    return problems


def recipient_warnings(datamap: DataMap) -> list[Problem]:
    """Recipients a correction notice could not identify the person to: no ``identifiers``."""
    return [
        Problem(
            datamap.line_of(recipient.path),
            f"recipient {recipient.name!r} names no identifiers: a correction notice cannot "
            "say whose record it is; add e.g. identifiers = { \"주문번호\" = \"shop.orders.id\" }",
        )
        for recipient in datamap.recipients
        if not recipient.identifiers
    ]


def _identifier_problems(datamap: DataMap, recipient: Recipient) -> list[Problem]:
    """Each identifier must name ``system.table.column`` of an SQL table of the map."""
    tables = {
        f"{system.name}.{table.name}"
        for system in datamap.systems
        if system.kind == SystemKind.SQL
        for table in system.tables
    }
    problems = []
    for label, column in recipient.identifiers.items():
        place = column.rsplit(".", 1)[0] if column.count(".") == 2 else ""
        if place not in tables:
            problems.append(
                Problem(
                    datamap.line_of((*recipient.path, "identifiers", label)),
                    f"recipient {recipient.name!r}: identifier {label!r} must be "
                    f"system.table.column of an sql table of the map, not {column!r}",
                )
            )
    return problems


def _channel_problems(datamap: DataMap, recipient: Recipient) -> list[Problem]:
    """A webhook recipient needs where to post and the secret to sign with."""
    at = datamap.line_of
    name = recipient.name
    if recipient.channel not in RECIPIENT_CHANNELS:
        accepted = ", ".join(RECIPIENT_CHANNELS)
        message = f"recipient {name!r}: unknown channel {recipient.channel!r}; accepted: {accepted}"
        return [Problem(at((*recipient.path, "channel")), message)]
    if recipient.channel != "webhook":
        return []
    problems = []
    if not (recipient.url or recipient.url_env):
        message = f"recipient {name!r}: a webhook channel needs url or url_env"
        problems.append(Problem(at((*recipient.path, "channel")), message))
    elif recipient.url and not acceptable_webhook_url(recipient.url):
        message = f"recipient {name!r}: the url must be https:// (http:// only to loopback)"
        problems.append(Problem(at((*recipient.path, "url")), message))
    if not _ENV_NAME.fullmatch(recipient.secret_env or ""):
        message = f"recipient {name!r}: a webhook channel needs secret_env, a variable's name"
        problems.append(Problem(at((*recipient.path, "channel")), message))
    return problems


def _check_recipients(datamap: DataMap) -> list[Problem]:
    held: set[str] = set()
    for system in datamap.systems:
        held |= system.held_categories()
    problems = []
    roles = ", ".join(role.value for role in RecipientRole)
    for recipient in datamap.recipients:
        problems += _identifier_problems(datamap, recipient)
        problems += _channel_problems(datamap, recipient)
        if recipient.role not in set(RecipientRole):
            problems.append(
                Problem(
                    datamap.line_of((*recipient.path, "role")),
                    f"recipient {recipient.name!r}: unknown role {recipient.role!r}; "
                    f"accepted: {roles}",
                )
            )
        for category in recipient.categories:
            if category not in held:
                problems.append(
                    Problem(
                        datamap.line_of((*recipient.path, "categories")),
                        f"recipient {recipient.name!r}: category {category!r} is held by no "
                        f"system of the map (known: {', '.join(sorted(held)) or 'none'})",
                    )
                )
    return problems
