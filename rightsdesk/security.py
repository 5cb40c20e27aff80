"""Response headers every page carries: a CSP with no inline script, no framing, no sniffing,
and no referrer leaving the site (status links carry a token in their path); in production,
over HTTPS, Strict-Transport-Security."""

from __future__ import annotations

import re

from flask import Flask, current_app, request
from flask.wrappers import Response
from werkzeug.routing import IntegerConverter

#: The largest id a route accepts: PostgreSQL's ``integer`` (SQLite's is larger). A bigger
#: number is no row of ours, so it is a 404 before the database sees it.
MAX_ROUTE_ID = 2**31 - 1

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    hsts = int(current_app.config.get("HSTS_MAX_AGE") or 0)
    if current_app.config["ENV"] == "production" and request.is_secure and hsts > 0:
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={hsts}; includeSubDomains"
        )
    if current_app.config["ENV"] == "production":
        _secure_cookies(response)
    return response


_SECURE = re.compile(r";\s*secure\s*(;|$)", re.IGNORECASE)


def _secure_cookies(response: Response) -> None:
    """Every cookie Secure in production, those set by extensions too (Flask-Login deletes
    its remember cookie without the flag)."""
    cookies = response.headers.getlist("Set-Cookie")
    if all(_SECURE.search(cookie) for cookie in cookies):
        return
    del response.headers["Set-Cookie"]
    for cookie in cookies:
        secure = cookie if _SECURE.search(cookie) else cookie + "; Secure"
        response.headers.add("Set-Cookie", secure)


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route: 0 to :data:`MAX_ROUTE_ID`, else the route does not match
    (404) — never an out-of-range parameter for the database to refuse with a 500."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ROUTE_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before the blueprints are registered: their rules use the bounded converter."""
    app.url_map.converters["int"] = BoundedInt
    app.after_request(_headers)
