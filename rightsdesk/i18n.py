"""Korean first, English on request: the locale comes from ``?lang=``, then a cookie."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask.wrappers import Response
from flask_babel import Domain, get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from rightsdesk.domain.particles import resolve
from rightsdesk.extensions import babel

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
            LANG_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),  # on in production
        )
    return response


class _ParticleDomain(Domain):
    """The message domain, with Korean particle pairs ("은(는)") resolved once interpolated."""

    def gettext(self, string: str, **variables: object) -> str:
        return resolve(super().gettext(string, **variables))

    def ngettext(self, singular: str, plural: str, num: int, **variables: object) -> str:
        return resolve(super().ngettext(singular, plural, num, **variables))

    def pgettext(self, context: str, string: str, **variables: object) -> str:
        return resolve(super().pgettext(context, string, **variables))


def _resolved(text: str) -> str:
    """Particles resolved, keeping a template's escaped text marked safe."""
    return Markup(resolve(str(text))) if isinstance(text, Markup) else resolve(text)


@pass_context
def _template_gettext(context: Context, string: str, **variables: object) -> str:
    """Jinja's new-style ``_``/``gettext`` (interpolate, escape), then particles resolved."""
    text = get_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return _resolved(text % variables)


@pass_context
def _template_ngettext(
    context: Context, singular: str, plural: str, num: int, **variables: object
) -> str:
    variables.setdefault("num", num)
    text = get_translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return _resolved(text % variables)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    babel.domain_instance = _ParticleDomain()
    app.jinja_env.globals.update(gettext=_template_gettext, ngettext=_template_ngettext)
    app.after_request(_remember_choice)
    from flask_babel import format_datetime

    app.jinja_env.globals.update(
        kind_label=kind_label,
        unit_label=unit_label,
        status_label=status_label,
        staff_status_label=staff_status_label,
        cite=cite,
        staff_label=staff_label,
        role_label=lambda role: staff_label("role", role),
        lang_url=lang_url,
        format_datetime=format_datetime,
        officer_label=officer_label,
    )

    @app.context_processor
    def _locale_context() -> dict[str, object]:
        from flask_babel import get_locale

        return {"current_locale": str(get_locale()), "locales": app.config["LOCALES"], "g": g}


_KIND_LABELS = {
    "access": _l("Access to my data"),
    "correction": _l("Correction of my data"),
    "deletion": _l("Deletion of my data"),
    "suspension": _l("Suspension of processing"),
    "consent_withdrawal": _l("Withdrawal of consent"),
    "automated_decision": _l("Objection to an automated decision"),
    "unclassified": _l("Request to be classified by our staff"),
}


def kind_label(kind: object) -> str:
    """The kind in the current language (only that one string is translated)."""
    label = _KIND_LABELS.get(str(kind))
    return str(label) if label is not None else str(kind)


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


_STATUS_LABELS = {
    "received_unverified": _l("Received — waiting for your confirmation"),
    "verified": _l("Confirmed — in the queue"),
    "in_progress": _l("Being handled"),
    "awaiting_subject": _l("Waiting for your answer"),
    "extended": _l("Postponed, with the reason we sent you"),
    "completed": _l("Completed"),
    "partially_completed": _l("Partly completed, partly refused"),
    "refused": _l("Refused"),
    "withdrawn": _l("Withdrawn by you"),
    "expired": _l("Expired: never confirmed"),
}


def status_label(status: object) -> str:
    """The status in the current language (only that one string is translated)."""
    label = _STATUS_LABELS.get(str(status))
    return str(label) if label is not None else str(status)


def officer_label(organisation) -> str:
    """The privacy officer as subjects see them: the name, then title and department if set."""
    more = [
        v
        for v in (organisation.privacy_officer_title, organisation.privacy_officer_department)
        if v
    ]
    name = organisation.privacy_officer_name
    return f"{name} ({', '.join(more)})" if more else name


# What staff read: the same statuses in the console's words, never the subject's ("you").
_STAFF_STATUS_LABELS = {
    "received_unverified": _l("Unverified: waiting for the subject to confirm"),
    "verified": _l("Verified: not started"),
    "in_progress": _l("In progress"),
    "awaiting_subject": _l("Waiting for the subject's answer"),
    "extended": _l("Postponed (notice sent)"),
    "completed": _l("Completed"),
    "partially_completed": _l("Partly completed, partly refused"),
    "refused": _l("Refused"),
    "withdrawn": _l("Withdrawn by the subject"),
    "expired": _l("Expired: never confirmed"),
}


def staff_status_label(status: object) -> str:
    """The status as the console names it (a data subject's page says it to them instead)."""
    label = _STAFF_STATUS_LABELS.get(str(status))
    return str(label) if label is not None else str(status)


# The console's words for the codes stored in the database, by what they name.
_STAFF_LABELS = {
    "role": {
        "admin": _l("administrator"),
        "handler": _l("handler"),
        "auditor": _l("auditor"),
    },
    "channel": {
        "web": _l("web form"),
        "email": _l("e-mail"),
        "staff": _l("entered by staff"),
        "api": _l("app (API)"),
        "phone": _l("telephone"),
        "letter": _l("letter"),
    },
    "representative": {
        "legal_guardian": _l("legal representative (법정대리인)"),
        "agent": _l("agent with a power of attorney (위임장)"),
    },
    "message": {
        "queued": _l("waiting to be sent"),
        "sending": _l("being sent"),
        "sent": _l("sent"),
        "failed": _l("failed"),
    },
    "step": {
        "pending": _l("not done yet"),
        "done": _l("done"),
        "failed": _l("failed"),
    },
    "method": {
        "delete": _l("delete"),
        "anonymise": _l("anonymise"),
        "keep": _l("keep"),
        "null": _l("clear the fields"),
    },
    "job": {
        "access": _l("collect the data"),
        "erasure": _l("erase"),
        "correction": _l("correct"),
        "stop": _l("stop processing"),
    },
    "count": {  # what an app reports doing with a job
        "deleted": _l("deleted"),
        "anonymised": _l("anonymised"),
        "updated": _l("updated"),
        "stopped": _l("stopped"),
    },
    "override": {
        "add": _l("day off added"),
        "remove": _l("working day after all"),
    },
    "language": {
        "ko": _l("Korean"),
        "en": _l("English"),
    },
}


def staff_label(group: str, code: object) -> str:
    """A stored code (a role, channel, step state, erasure method …) in the staff member's
    language; an unknown code is shown as it is stored."""
    code = getattr(code, "value", code)
    label = _STAFF_LABELS.get(group, {}).get(str(code))
    return str(label) if label is not None else str(code)


def staff_message(error: Exception) -> str:
    """A refusal in the staff member's language: a ``StaffMessageError``'s id translated, then
    its values filled in; any other error as it reads."""
    from flask_babel import gettext

    message = getattr(error, "message", None)
    if not isinstance(message, str):
        return str(error)
    return gettext(message, **getattr(error, "values", {}))


# Korean statute citations as English readers know them; the article numbers stay as written.
_CITATION_EN = (
    ("법 §", "PIPA §"),
    ("영 §", "Enforcement Decree §"),
    (" 단서", " proviso"),
    (" 후문", ", second sentence"),
    (" 전문", ", first sentence"),
)


def cite(citation: str, language: str | None = None) -> str:
    """A citation such as "법 §36① 단서" in ``language`` (the page's by default): English
    readers get "PIPA §36① proviso (법 §36① 단서)", the Korean kept beside it for whoever looks
    the article up; other text passes unchanged."""
    if language is None:
        from flask_babel import get_locale

        language = str(get_locale())
    if language != "en":
        return citation
    english = citation
    for korean, translated in _CITATION_EN:
        english = english.replace(korean, translated)
    return citation if english == citation else f"{english} ({citation})"
