"""The production entry point (``gunicorn 'wsgi:app'``). The settings are loaded here once, so a
setting that cannot work (e.g. production without explicit keys) or a profiles file the law
refuses stops the start with one line. The exit status is 3, gunicorn's "worker failed to
boot", so gunicorn stops instead of starting the worker again and again."""

import sys

from rightsdesk import create_app
from rightsdesk.config import ConfigError
from rightsdesk.core.context import settings
from rightsdesk.domain.profiles import ProfileError

try:
    app = create_app()
except ConfigError as error:
    print(f"rightsdesk: {error}", file=sys.stderr)
    raise SystemExit(3) from None
with app.app_context():
    try:
        settings()
    except ProfileError as error:
        print(f"rightsdesk: {error}", file=sys.stderr)
        raise SystemExit(3) from None
