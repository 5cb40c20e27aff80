"""The public blueprint, which the public views register their routes on."""

from flask import Blueprint

bp = Blueprint("public", __name__)
