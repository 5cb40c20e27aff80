"""The public site: what a data subject sees. Thin: parse, call a service, render."""

from . import demo_app, privacy, views  # noqa: F401  (importing the views registers their routes)
from .blueprint import bp

__all__ = ["bp"]
