"""The privacy policy as users read it: the version in force, the one to come, the history,
and what changed between any two published versions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, request
from flask_babel import get_locale

from rightsdesk.policy import versions as policy
from rightsdesk.public.blueprint import bp


def _language() -> str:
    return str(get_locale() or policy.default_locale())


def _body(version, language: str) -> tuple[str, bool]:
    """The text in ``language``, or the Korean one (``True``) when there is no translation."""
    text = version.body_en if language == "en" else version.body_ko
    if text and text.strip():
        return text, False
    return version.body_ko, language != "ko"


@bp.get("/privacy")
def privacy() -> str:
    """The policy in force, the upcoming one marked as such, and every earlier version."""
    language = _language()
    timeline = policy.timeline(policy.local_today(datetime.now(UTC)))
    shown = timeline.current or (timeline.upcoming[0] if timeline.upcoming else None)
    body, fallback = _body(shown, language) if shown else ("", False)
    return render_template(
        "public/privacy.html",
        timeline=timeline,
        shown=shown,
        html=policy.to_html(body),
        fallback=fallback,
        previous=policy.previous_of(shown) if shown else None,
    )


@bp.get("/privacy/<label>")
def privacy_version(label: str) -> str:
    version = policy.by_label(label)
    if version is None:
        abort(404)
    language = _language()
    body, fallback = _body(version, language)
    today = policy.local_today(datetime.now(UTC))
    return render_template(
        "public/privacy_version.html",
        version=version,
        html=policy.to_html(body),
        fallback=fallback,
        previous=policy.previous_of(version),
        timeline=policy.timeline(today),
        today=today,
    )


@bp.get("/privacy/diff")
def privacy_diff() -> str:
    """What changed between two published versions (``?from=LABEL&to=LABEL``)."""
    old = policy.by_label(request.args.get("from", ""))
    new = policy.by_label(request.args.get("to", ""))
    if old is None or new is None:
        abort(404)
    language = _language()
    return render_template(
        "public/privacy_diff.html",
        old=old,
        new=new,
        lines=policy.compare(old, new, language),
    )
