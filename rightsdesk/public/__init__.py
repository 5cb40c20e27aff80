"""The public site: what a data subject sees. Thin: parse, call a service, render."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401
