"""The public site: what a data subject sees. Thin: parse, call a service, render."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from rightsdesk.public import demo_app, privacy, views  # noqa: E402,F401
