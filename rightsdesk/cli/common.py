"""What every command shares: one-line input errors (exit 2), who acts, dates and languages,
the worker's name and its filing of web-form submissions."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import click

from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.domain.profiles import ProfileError


class InputError(click.ClickException):
    """Bad input: one line on standard error, exit status 2."""

    exit_code = 2


def actor() -> Actor:
    """The operator at the terminal, by login name."""
    try:
        return Actor(f"cli:{getpass.getuser()}")
    except Exception:  # no login name in some containers
        return Actor("cli")


def worker_name() -> str:
    """This process among the workers: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def file_submissions(*, seconds: float | None):
    """File the web form's waiting submissions as requests (for ``seconds`` at most, or until
    none wait); one line if any were attempted. The report, for its failures."""
    from rightsdesk.requests import intake

    filed = intake.process_submissions(now=utcnow(), seconds=seconds)
    if filed.attempted:
        click.echo(f"intake: {len(filed.filed)} request(s) filed, {len(filed.failed)} retrying")
    return filed


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn the domain's ValueErrors into one-line exit-2 errors."""
    try:
        yield
    except ProfileError:
        raise  # the configuration, not the input: the command group prints its own line
    except (ValueError, LookupError) as error:
        raise InputError(str(error)) from None


def parse_timestamp(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"malformed timestamp {value!r}; expected ISO 8601 with an offset, "
            "e.g. 2025-09-24T10:00+09:00 or 2025-09-24T01:00Z"
        ) from None
    if instant.tzinfo is None:
        raise InputError(
            f"naive timestamp {value!r}: the receipt date depends on the time zone; "
            "add an offset, e.g. 2025-09-24T10:00+09:00 or 2025-09-24T01:00Z"
        )
    return instant


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"malformed date {value!r}; expected YYYY-MM-DD") from None


def language_option(function: Callable) -> Callable:
    return click.option(
        "--lang",
        "language",
        default=None,
        help="Language of the explanation: ko or en (default: RIGHTSDESK_DEFAULT_LOCALE).",
    )(function)


def choose_language(app_config: dict, language: str | None) -> str:
    chosen = language or app_config["DEFAULT_LOCALE"]
    if chosen not in app_config["LOCALES"]:
        accepted = ", ".join(app_config["LOCALES"])
        raise InputError(f"unknown language {language!r}; accepted: {accepted}")
    return chosen
