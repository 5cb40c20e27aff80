"""Notices on paper: the same notice a mail would carry, as an A4 letter staff print and post.

A person who phoned or wrote without an e-mail address (or who asked for paper) gets every
notice as a letter. ``queue_letter`` renders the mail's own text template (so the wording is
the one the mail would have had), lays it out as a PDF with the operator's letterhead, the
addressee, the reference and the due date, and stores both, verbatim, in the caller's
transaction, as the outbox stores mail. Staff list the letters not yet posted, print them and
record the day they posted each one: that day is the delivery evidence.

The PDF is made by fpdf2 (pure Python, installed by pip with no system libraries) with an
embedded subset of NanumGothic (SIL Open Font License, ``rightsdesk/fonts/OFL.txt``) covering
every Hangul syllable, so a fresh machine prints Korean without any font package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from sqlalchemy import select

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import settings
from rightsdesk.delivery.outbox import queue, render
from rightsdesk.extensions import db
from rightsdesk.models import Letter, Request

FONT = Path(__file__).resolve().parent.parent / "fonts" / "RightsdeskGothic-Regular.ttf"
FONT_NAME = "RightsdeskGothic"


class LetterError(ValueError):
    """A letter that cannot be made or marked as asked; the message says why."""


@dataclass(frozen=True)
class Letterhead:
    """What heads every letter: the operator, its return address, its privacy officer."""

    name: str
    address: str
    officer: str


def send_to_subject(
    request: Request, template: str, *, context: dict[str, Any], now: datetime
) -> None:
    """Queue a notice to whoever speaks for the request: a letter when they answer by post,
    else a mail (the caller commits)."""
    if request.answers_by_post:
        queue_letter(request, template, context=context, now=now)
        return
    queue(
        template,
        recipient=request.contact_email or "",
        language=request.language,
        context=context,
        now=now,
        request_ref=request.reference,
    )


def queue_letter(
    request: Request, template: str, *, context: dict[str, Any], now: datetime
) -> Letter:
    """Render ``email/<template>.txt`` as a letter to the request's postal contact."""
    contact, phone = request.postal_contact, None
    if contact is None and request.phone_contact is not None:
        name, phone = request.phone_contact  # read out by phone until an address is given
        contact = (name, "")
    if contact is None:
        raise LetterError(f"{request.reference} has no e-mail, postal address or phone number")
    subject, body, _html = render(template, request.language, {**context, "paper": True})
    letter = Letter(
        request_ref=request.reference,
        template=template,
        language=request.language,
        addressee=contact[0],
        postal_address=contact[1],
        phone=phone,
        subject=subject,
        body_text=body,
        created_at=now,
    )
    letter.pdf = letter_pdf(letter, request, letterhead(context, request.language), now=now)
    db.session.add(letter)
    return letter


def letterhead(context: dict[str, Any], language: str) -> Letterhead:
    organisation = context.get("organisation")
    address = str(current_app.config.get("LETTER_RETURN_ADDRESS") or "")
    if organisation is None:
        return Letterhead(name="", address=address, officer="")
    name = organisation.name_ko if language == "ko" else organisation.name_en
    officer = " · ".join(
        part
        for part in (
            organisation.privacy_officer_name,
            organisation.privacy_officer_title,
            organisation.privacy_officer_phone,
            organisation.privacy_officer_email,
        )
        if part
    )
    return Letterhead(name=name, address=address, officer=officer)


def labels(language: str) -> dict[str, str]:
    """The letter's own words, in the addressee's language."""
    with force_locale(language):
        return {
            "ref": _("Reference"),
            "due": _("Due date"),
            "date": _("Date of this letter"),
            "to": _("To"),
            "officer": _("Privacy officer"),
            "phone": _("By telephone (no postal address given)"),
        }


def letter_pdf(letter: Letter, request: Request, head: Letterhead, *, now: datetime) -> bytes:
    """The A4 letter: letterhead, date, addressee, reference and due date, then the notice."""
    words = labels(letter.language)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(now.astimezone(UTC))
    pdf.set_title(letter.subject)
    pdf.add_font(FONT_NAME, fname=str(FONT))
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    _head(pdf, head, words)
    today = now.astimezone(settings().tz).date()
    _line(pdf, f"{words['date']}: {today.isoformat()}")
    _line(pdf, f"{words['to']}: {letter.addressee}")
    if letter.by_phone:
        _line(pdf, f"{words['phone']}: {letter.phone}")
    else:
        pdf.multi_cell(0, 5.5, letter.postal_address, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _line(pdf, f"{words['ref']}: {request.reference}")
    _line(pdf, f"{words['due']}: {_due(request).isoformat()}")
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=13)
    pdf.multi_cell(0, 7, letter.subject, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT_NAME, size=10.5)
    pdf.multi_cell(0, 5.5, letter.body_text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _head(pdf: FPDF, head: Letterhead, words: dict[str, str]) -> None:
    pdf.set_font(FONT_NAME, size=15)
    if head.name:
        pdf.multi_cell(0, 8, head.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_NAME, size=9)
    if head.address:
        pdf.multi_cell(0, 4.5, head.address, new_x="LMARGIN", new_y="NEXT")
    if head.officer:
        _line(pdf, f"{words['officer']}: {head.officer}", height=4.5)
    y = pdf.get_y() + 2
    pdf.line(20, y, 190, y)
    pdf.set_y(y + 5)
    pdf.set_font(FONT_NAME, size=10.5)


def _line(pdf: FPDF, text: str, height: float = 5.5) -> None:
    pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def _due(request: Request) -> date:
    return request.promised_due_date or request.due_date


# --- staff: the letters to post ---------------------------------------------------------------


def unposted() -> list[Letter]:
    """Letters waiting to be printed and posted, oldest first (a purged one has nothing left
    to post)."""
    return list(
        db.session.scalars(
            select(Letter)
            .where(Letter.posted_at.is_(None), Letter.pdf.is_not(None))
            .order_by(Letter.created_at, Letter.id)
        )
    )


def letters_of(reference: str) -> list[Letter]:
    return list(
        db.session.scalars(
            select(Letter).where(Letter.request_ref == reference).order_by(Letter.id)
        )
    )


def mark_posted(letter: Letter, *, posted_on: date, actor: Actor, now: datetime) -> None:
    """Record the day the letter went into the post — or, for a letter read out by phone, the
    day the person was told (the delivery evidence); audited, once."""
    if letter.posted_at is not None:
        raise LetterError(f"letter {letter.id} was already marked posted")
    today = now.astimezone(settings().tz).date()
    if posted_on > today:
        raise LetterError("a letter cannot be posted in the future")
    if posted_on < letter.created_at.astimezone(settings().tz).date():
        raise LetterError("a letter cannot be posted before it was made")
    local_noon = datetime(posted_on.year, posted_on.month, posted_on.day, 12, tzinfo=settings().tz)
    letter.posted_at = min(local_noon.astimezone(UTC), now)
    letter.posted_by = actor.name
    audit.record(
        "letter.told_by_phone" if letter.by_phone else "letter.posted",
        actor=actor,
        now=now,
        request_ref=letter.request_ref,
        data={"letter": letter.id, "template": letter.template, "posted_on": posted_on.isoformat()},
    )
    db.session.commit()
