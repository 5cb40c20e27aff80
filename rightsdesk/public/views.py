from __future__ import annotations

from flask import render_template
from sqlalchemy.exc import OperationalError, ProgrammingError

from ..domain.kinds import RequestKind
from ..extensions import db
from ..services.context import settings
from ..services.organisation import NoOrganisation, current_organisation
from . import bp


@bp.get("/")
def home() -> str:
    """The rights the operator offers, with the law's period for each."""
    profile = settings().profile()
    try:
        organisation = current_organisation()
    except (NoOrganisation, OperationalError, ProgrammingError):
        db.session.rollback()
        organisation = None
    rights = [(kind, profile.period(kind)) for kind in RequestKind]
    return render_template(
        "public/home.html", organisation=organisation, rights=rights, profile=profile
    )


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness and database reachability, for the operator's monitoring."""
    try:
        db.session.execute(db.select(1))
    except OperationalError:
        db.session.rollback()
        return {"status": "database unavailable"}, 503
    return {"status": "ok"}, 200
