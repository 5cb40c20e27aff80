"""The application factory: configuration, extensions and blueprints, in named steps.

The command line (:mod:`rightsdesk.cli`) builds its apps here and adds its commands to its own
group, so nothing here imports the commands (nor the benches, which build apps too).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the package imports no Flask, so ``rightsdesk.domain`` stays pure
    from flask import Flask
    from werkzeug.exceptions import HTTPException

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. No database work happens here: migrations and data are CLI steps."""
    from flask import Flask

    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_config(app, test_config)
    register_proxy(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_pages(app)
    register_favicon(app)
    return app


def register_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    from rightsdesk.config import load_config

    load_config(app, test_config)


def register_proxy(app: Flask) -> None:
    """Behind N reverse proxies, trust their X-Forwarded-* headers (rate limits key on the
    client's address, links use the public scheme and host)."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from rightsdesk import (
        i18n,
        models,  # noqa: F401  (the mappings must be known to migrations)
        security,
    )
    from rightsdesk.admin import init_login
    from rightsdesk.database import init_database, render_item
    from rightsdesk.extensions import csrf, db, limiter, mail, migrate

    init_database(app)
    if "pool_pre_ping" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]:
        from rightsdesk.core.driver import ping_when_idle

        with app.app_context():  # creates the engine object only: nothing connects yet
            ping_when_idle(db.engine)
    migrate.init_app(
        app,
        db,
        directory=str(PROJECT_ROOT / "migrations"),
        compare_type=True,
        render_as_batch=True,
        render_item=render_item,
    )
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    init_login(app)


def register_blueprints(app: Flask) -> None:
    from rightsdesk import api
    from rightsdesk.admin import bp as admin_bp
    from rightsdesk.inbound import bp as inbound_bp
    from rightsdesk.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(inbound_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api.bp)
    api.init_app(app)
    if app.config["DEMO"]:
        from rightsdesk.public.mailbox import bp as mailbox_bp

        app.register_blueprint(mailbox_bp)


def register_favicon(app: Flask) -> None:
    """Browsers ask for /favicon.ico whatever the page links: the same icon, cached a day."""
    from flask import send_from_directory

    @app.get("/favicon.ico")
    def _favicon():
        return send_from_directory(
            app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
        )


def register_error_pages(app: Flask) -> None:
    """A profiles file the settings refuse (``path:line: problem``) is logged with its line,
    and every page answers 503 with a short notice instead of a traceback (the settings are
    loaded before each request: once, then cached). ``wsgi.py`` checks the file at start-up,
    so a production server does not start with it."""
    from flask import render_template

    from rightsdesk.core.context import settings
    from rightsdesk.domain.profiles import ProfileError

    @app.before_request
    def _load_settings() -> None:
        settings()  # cached after the first request; a refused file stops here

    @app.errorhandler(429)
    def _too_many_requests(error: HTTPException):
        return too_many_requests(error)

    @app.errorhandler(ProfileError)
    def _configuration_error(error: ProfileError):
        app.logger.error("RIGHTSDESK_PROFILES_FILE refused: %s", error)
        return render_template("unavailable.html"), 503


def too_many_requests(error: HTTPException):
    """A rate limit reached: JSON under /api/, otherwise a page in the site's layout and the
    person's language saying when to come back, with ``Retry-After`` (seconds)."""
    import math
    import time

    from flask import make_response, render_template, request

    from rightsdesk.api import json_http_errors
    from rightsdesk.extensions import limiter

    limit = limiter.current_limit
    wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    if request.path.startswith("/api/"):
        response, status = json_http_errors(error)
    else:
        page = render_template("too_many.html", minutes=math.ceil(wait / 60))
        response, status = make_response(page), 429
    response.headers["Retry-After"] = str(wait)
    return response, status
