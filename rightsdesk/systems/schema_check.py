"""The data map against a real database: every table and column it names must exist there.

Read-only: the database is only inspected (``sqlalchemy.inspect``), never written. Problems
name the line of the map that names the missing table or column, like the structure checks.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rightsdesk.domain.datamap import DataMap, Problem, System, SystemKind, Table
from rightsdesk.systems.connect import engine_for


def check_against_database(datamap: DataMap, system_name: str, url: str) -> list[Problem]:
    """What the ``sql`` system ``system_name`` names that its database at ``url`` lacks."""
    system = datamap.system(system_name)
    if system.kind != SystemKind.SQL:
        raise ValueError(f"system {system_name!r} is a {system.kind} system, not an sql one")
    where = datamap.line_of((*system.path, "url_env"))
    try:
        engine = engine_for(url)
    except (ArgumentError, ValueError) as error:
        return [
            Problem(where, f"system {system_name!r}: malformed URL in {system.url_env}: {error}")
        ]
    try:
        with engine.connect() as connection:
            return sorted(_missing(datamap, system, inspect(connection)))
    except SQLAlchemyError as error:
        return [_uninspectable(where, system_name, system, error)]
    finally:
        engine.dispose()


def _uninspectable(where: int, system_name: str, system: System, error: SQLAlchemyError) -> Problem:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return Problem(
        where,
        f"system {system_name!r}: cannot inspect the database in {system.url_env}: {reason}",
    )


def _missing(datamap: DataMap, system: System, inspector: Inspector) -> list[Problem]:
    existing = set(inspector.get_table_names())
    columns = {
        table.name: {c["name"] for c in inspector.get_columns(table.name)}
        for table in system.tables
        if table.name in existing
    }
    problems = []
    for table in system.tables:
        if table.name not in existing:
            problems.append(
                Problem(
                    datamap.line_of(table.path),
                    f"table {system.name}.{table.name}: no table {table.name!r} in the "
                    f"database of system {system.name!r}",
                )
            )
            continue
        problems += _missing_columns(datamap, system, table, columns)
    return problems


def _missing_columns(
    datamap: DataMap, system: System, table: Table, columns: dict[str, set[str]]
) -> list[Problem]:
    problems = _absent(datamap, system, table, columns[table.name])
    via = table.via
    # The parent's key is a column of the parent table (reported there if that table is missing).
    if via is not None and via.table in columns and via.parent_column not in columns[via.table]:
        problems.append(
            Problem(
                datamap.line_of((*table.path, "via")),
                f"table {system.name}.{table.name}: via names column {via.parent_column!r} "
                f"of table {via.table!r}, which has no such column "
                f"(it has: {', '.join(sorted(columns[via.table]))})",
            )
        )
    return problems


def _absent(datamap: DataMap, system: System, table: Table, have: set[str]) -> list[Problem]:
    """One problem per missing column and line (a column listed twice on a line counts once)."""
    problems = []
    reported: set[tuple[str, int]] = set()
    for column, path in table.named_columns():
        line = datamap.line_of(path)
        if column in have or (column, line) in reported:
            continue
        reported.add((column, line))
        problems.append(
            Problem(
                line,
                f"table {system.name}.{table.name}: no column {column!r} in the database "
                f"(it has: {', '.join(sorted(have))})",
            )
        )
    return problems
