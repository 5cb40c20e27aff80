"""``rightsdesk datamap …``: the data map of the systems holding subjects' personal data.

``check`` validates a map and names each problem's line; ``demo-shop`` creates the demo shop's
database that the demo map describes. Bad input gets one line and exit status 2, like every
rightsdesk command; a map with problems gets one line per problem and exit status 1.
"""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rightsdesk.domain.datamap import (
    DataMap,
    DataMapError,
    Problem,
    SystemKind,
    check_structure,
    load_datamap,
    recipient_warnings,
)

datamap_group = AppGroup(
    "datamap", help="The data map: where subjects' personal data lives and what to do with it."
)


class DataMapInputError(click.ClickException):
    """Bad input: one line on standard error, exit status 2.

    Its own class, like ``bench.BenchError``: importing ``cli.InputError`` here would make this
    module and ``cli`` import each other.
    """

    exit_code = 2


def _categories() -> list[str]:
    """The retention categories of the operator's schedule (RIGHTSDESK_RETENTION_FILE)."""
    from rightsdesk.domain.retention import RetentionError
    from rightsdesk.systems.configured import current_schedule

    try:
        return list(current_schedule().rules)
    except RetentionError as error:
        raise DataMapInputError(str(error)) from None


@datamap_group.command("check")
@click.argument("path", required=False)
def check_command(path: str | None) -> None:
    """Validate a data map (default: RIGHTSDESK_DATAMAP_FILE) and the databases it names.

    Each sql system whose URL variable is set is also checked against its database.
    """
    path = path or current_app.config.get("DATAMAP_FILE")
    if not path:
        raise DataMapInputError("no data map: give PATH or set RIGHTSDESK_DATAMAP_FILE")
    datamap = read_datamap(str(path))
    problems = check_structure(datamap, _categories()) + _database_problems(datamap)
    for warning in recipient_warnings(datamap):
        click.echo(f"{datamap.source}:{warning.line}: warning: {warning.message}", err=True)
    if problems:
        for problem in sorted(problems):
            click.echo(problem.format(datamap.source))
        sys.exit(1)
    click.echo(
        f"OK: {len(datamap.systems)} systems, {datamap.table_count} tables, "
        f"{len(datamap.recipients)} recipients"
    )


def read_datamap(path: str) -> DataMap:
    """The map in the file at ``path``; an unreadable or unparseable file is an input error."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise DataMapInputError(f"{path}: cannot read the data map: {error.strerror}") from None
    except UnicodeDecodeError:
        raise DataMapInputError(f"{path}: the data map is not UTF-8 text") from None
    try:
        return load_datamap(text, source=path)
    except DataMapError as error:
        raise DataMapInputError(str(error)) from None


def _database_problems(datamap: DataMap) -> list[Problem]:
    from rightsdesk.systems.schema_check import check_against_database

    problems: list[Problem] = []
    for system in datamap.systems:
        if system.kind != SystemKind.SQL:
            continue
        url = os.environ.get(system.url_env)
        if url:
            problems += check_against_database(datamap, system.name, url)
        else:
            click.echo(
                f"note: {system.url_env} is not set: system {system.name!r} was not checked "
                "against its database",
                err=True,
            )
    return problems


@datamap_group.command("demo-shop")
@click.option("--url", required=True, help="SQLAlchemy URL of an empty database.")
@click.option("--users", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def demo_shop_command(url: str, users: int, seed: int) -> None:
    """Create the demo shop's database (six tables) that the demo data map describes."""
    from rightsdesk.demo.shop import create_demo_shop

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise DataMapInputError(
            f"malformed --url {url!r}; e.g. sqlite:///instance/shop.db"
        ) from None
    try:
        create_demo_shop(url, users=users, seed=seed)
    except ValueError as error:  # DemoShopExists, or too few users
        raise DataMapInputError(str(error)) from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise DataMapInputError(f"cannot create the demo shop in {shown}: {reason}") from None
    click.echo(f"created the demo shop ({users} users) in {shown}")
