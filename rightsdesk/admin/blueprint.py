"""The admin blueprint and what every admin view shares.

Access is closed by default: every view declares the roles that may use it with ``@roles``,
and a view without that declaration answers 403 to everyone (``_guard``, before each request).
Admins may do everything; handlers work requests; auditors read everything and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from rightsdesk.extensions import login_manager
from rightsdesk.models import StaffRole

bp = Blueprint("admin", __name__, url_prefix="/admin")

ALL_STAFF = (StaffRole.ADMIN, StaffRole.HANDLER, StaffRole.AUDITOR)
WORKERS = (StaffRole.ADMIN, StaffRole.HANDLER)
READERS = (StaffRole.ADMIN, StaffRole.AUDITOR)
ADMINS = (StaffRole.ADMIN,)
PUBLIC = ()  # the sign-in page

View = TypeVar("View", bound=Callable)


def roles(*allowed: StaffRole) -> Callable[[View], View]:
    """Declare who may use a view; ``roles()`` with nothing means anyone (sign-in only)."""

    def mark(view: View) -> View:
        view.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return mark


@bp.before_request
def _guard():
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "allowed_roles", None)
    if allowed is None:
        abort(403)  # closed by default: an undeclared view is nobody's
    if not allowed:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.full_path))
    if current_user.role not in allowed:
        abort(403)
    if _totp_setup_required() and request.endpoint not in _TOTP_EXEMPT:
        return redirect(url_for("admin.totp_setup"))
    return None


_TOTP_EXEMPT = {"admin.totp_setup", "admin.logout"}


def _totp_setup_required() -> bool:
    """With RIGHTSDESK_REQUIRE_ADMIN_TOTP on, an admin must set up a second factor first."""
    return (
        bool(current_app.config.get("REQUIRE_ADMIN_TOTP"))
        and current_user.role is StaffRole.ADMIN
        and not current_user.totp_enabled
    )


def init_login(app) -> None:
    from rightsdesk.organisation.staff import load_staff

    login_manager.init_app(app)
    login_manager.user_loader(load_staff)
    login_manager.session_protection = "strong"
