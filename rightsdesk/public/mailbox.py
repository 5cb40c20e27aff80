"""The demo's mailbox: with no SMTP server configured, demo mail is read here.

Registered only when ``RIGHTSDESK_DEMO`` is on, which the production configuration refuses.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template
from markupsafe import Markup, escape
from sqlalchemy import select

from rightsdesk.extensions import db
from rightsdesk.models import OutboxMessage

bp = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape the text, then make its links clickable."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


@bp.get("/")
def index() -> str:
    messages = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    ).all()
    return render_template("dev/mailbox.html", messages=messages)


@bp.get("/<int:message_id>")
def show(message_id: int) -> str:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return render_template("dev/message.html", message=message, body=linkify(message.body_text))
