"""The public site: what a data subject sees. Thin: parse, call a service, render."""

# importing the views registers their routes
from rightsdesk.public import demo_app, monitoring, privacy, views  # noqa: F401
from rightsdesk.public.blueprint import bp

__all__ = ["bp"]
