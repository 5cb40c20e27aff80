"""The production entry point (``gunicorn 'wsgi:app'``). The settings are loaded here once, so a
profiles file the law refuses stops the start with its ``path:line: problem`` line."""

from rightsdesk import create_app
from rightsdesk.config import ConfigError
from rightsdesk.core.context import settings
from rightsdesk.domain.profiles import ProfileError

try:
    app = create_app()
except ConfigError as error:  # e.g. production without explicit keys: one line, no start
    raise SystemExit(f"rightsdesk: {error}") from None
with app.app_context():
    try:
        settings()
    except ProfileError as error:
        raise SystemExit(f"rightsdesk: {error}") from None
