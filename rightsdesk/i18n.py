"""Korean first, English on request: the locale comes from ``?lang=``, then a cookie."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask.wrappers import Response

from .extensions import babel

LANG_COOKIE = "rightsdesk_lang"


def select_locale() -> str:
    supported = current_app.config["LOCALES"]
    if not has_request_context():
        return current_app.config["DEFAULT_LOCALE"]
    for candidate in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in supported:
            return candidate
    return current_app.config["DEFAULT_LOCALE"]


def _remember_choice(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in current_app.config["LOCALES"] and chosen != request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember_choice)
    from flask_babel import format_datetime

    app.jinja_env.globals.update(
        kind_label=kind_label,
        unit_label=unit_label,
        status_label=status_label,
        lang_url=lang_url,
        format_datetime=format_datetime,
    )

    @app.context_processor
    def _locale_context() -> dict[str, object]:
        from flask_babel import get_locale

        return {"current_locale": str(get_locale()), "locales": app.config["LOCALES"], "g": g}


def kind_label(kind: object) -> str:
    from flask_babel import gettext as _

    labels = {
        "access": _("Access to my data"),
        "correction": _("Correction of my data"),
        "deletion": _("Deletion of my data"),
        "suspension": _("Suspension of processing"),
        "consent_withdrawal": _("Withdrawal of consent"),
        "automated_decision": _("Objection to an automated decision"),
        "unclassified": _("Request to be classified by our staff"),
    }
    return labels.get(str(kind), str(kind))


def unit_label(unit: object, amount: int) -> str:
    from flask_babel import ngettext

    if str(unit) == "months":
        return ngettext("%(num)d month", "%(num)d months", amount)
    if str(unit) == "business_days":
        return ngettext("%(num)d business day", "%(num)d business days", amount)
    return ngettext("%(num)d day", "%(num)d days", amount)


def lang_url(language: str) -> str:
    """The current page in another language (keeps the query, e.g. ``?kind=access``)."""
    args = request.args.to_dict()
    args["lang"] = language
    from urllib.parse import urlencode

    return f"{request.path}?{urlencode(args)}"


def status_label(status: object) -> str:
    from flask_babel import gettext as _

    labels = {
        "received_unverified": _("Received — waiting for your confirmation"),
        "verified": _("Confirmed — in the queue"),
        "in_progress": _("Being handled"),
        "awaiting_subject": _("Waiting for your answer"),
        "extended": _("Postponed, with the reason we sent you"),
        "completed": _("Completed"),
        "partially_completed": _("Partly completed, partly refused"),
        "refused": _("Refused"),
        "withdrawn": _("Withdrawn by you"),
        "expired": _("Expired: never confirmed"),
    }
    return labels.get(str(status), str(status))
