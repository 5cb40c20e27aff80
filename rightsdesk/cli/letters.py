"""``rightsdesk letters list|save|posted``: paper notices waiting to be posted.

The console's "Letters to post" page does the same; these suit a print room's batch run.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from rightsdesk.cli.common import InputError, actor
from rightsdesk.core.clock import utcnow

letters_group = AppGroup("letters", help="Paper notices: list, save as PDF, record as posted.")


@letters_group.command("list")
def letters_list() -> None:
    """One line per letter not yet posted: id, reference, notice, created (UTC), and how it
    goes (post, or phone when the person gave only a phone number)."""
    from rightsdesk.delivery.letters import unposted

    for letter in unposted():
        created = letter.created_at.isoformat(timespec="minutes")
        how = "phone" if letter.by_phone else "post"
        click.echo(
            f"{letter.id}\t{letter.request_ref or '-'}\t{letter.template}\t{created}\t{how}"
        )


@letters_group.command("save")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def letters_save(directory: Path) -> None:
    """Write every letter not yet posted as DIRECTORY/<reference>-<id>-<notice>.pdf (audited:
    they carry the person's address)."""
    from rightsdesk.core import audit
    from rightsdesk.delivery.letters import unposted
    from rightsdesk.extensions import db

    letters = unposted()
    directory.mkdir(parents=True, exist_ok=True)
    who, now = actor(), utcnow()
    for letter in letters:
        path = directory / f"{letter.request_ref or 'letter'}-{letter.id}-{letter.template}.pdf"
        path.write_bytes(letter.pdf or b"")
        audit.record(
            "letter.downloaded",
            actor=who,
            now=now,
            request_ref=letter.request_ref,
            data={"letter": letter.id},
        )
    db.session.commit()
    click.echo(f"saved {len(letters)} letter(s) to {directory}")


@letters_group.command("posted")
@click.argument("letter_id", type=int)
@click.option("--on", "posted_on", default=None, help="The day it was posted (default: today).")
def letters_posted(letter_id: int, posted_on: str | None) -> None:
    """Record that letter LETTER_ID went into the post (the delivery evidence; audited)."""
    from rightsdesk.core.context import settings
    from rightsdesk.delivery.letters import LetterError, mark_posted
    from rightsdesk.extensions import db
    from rightsdesk.models import Letter

    now = utcnow()
    try:
        day = date.fromisoformat(posted_on) if posted_on else now.astimezone(settings().tz).date()
    except ValueError:
        raise InputError(f"malformed date {posted_on!r}; expected YYYY-MM-DD") from None
    letter = db.session.get(Letter, letter_id)
    if letter is None or letter.pdf is None:
        raise InputError(f"no letter {letter_id} to post")
    try:
        mark_posted(letter, posted_on=day, actor=actor(), now=now)
    except LetterError as error:
        raise InputError(str(error)) from None
    click.echo(f"letter {letter_id} posted on {day.isoformat()}")
