"""Sign in and out, the second factor, and one's own password."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from rightsdesk.admin.blueprint import ALL_STAFF, PUBLIC, bp, roles
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.extensions import limiter
from rightsdesk.organisation import staff as staff_service
from rightsdesk.organisation.staff import (
    ConfirmationNeeded,
    LoginFailed,
    LoginProblem,
    StaffError,
)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target:
        return url_for("admin.queue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("admin.queue")
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in unquote(target)):
        return url_for("admin.queue")  # a header break (%0D%0A) or other control character
    return target


@bp.route("/login", methods=["GET", "POST"])
@roles(*PUBLIC)
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if request.method == "GET":
        return render_template("admin/login.html", next=request.args.get("next", ""))
    try:
        user = staff_service.authenticate(
            email=request.form.get("email", ""),
            password=request.form.get("password", ""),
            code=request.form.get("code") or None,
            ip=request.remote_addr,
            now=utcnow(),
        )
    except LoginFailed as failure:
        return _login_refused(failure.problem)
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


def _login_refused(problem: LoginProblem):
    """The sign-in form again, saying why (without saying which of the three was wrong)."""
    if problem is LoginProblem.LOCKED:
        message = _(
            "Too many failed sign-in attempts for this address: wait a few minutes and try again."
        )
    elif problem is LoginProblem.CODE_REQUIRED:
        message = _("Enter the code from your authenticator app.")
    else:
        message = _("The e-mail address, password or code is not right.")
    return render_template(
        "admin/login.html",
        error=message,
        email=request.form.get("email", ""),
        next=request.form.get("next", ""),
        ask_code=problem is LoginProblem.CODE_REQUIRED,
    ), 401


@bp.post("/logout")
@roles(*ALL_STAFF)
def logout():
    staff_service.end_sessions(current_user)
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.route("/account/totp", methods=["GET", "POST"])
@roles(*ALL_STAFF)
def totp_setup():
    if request.method == "POST":
        secret = session.get("pending_totp_secret", "")
        try:
            staff_service.enable_totp(
                current_user,
                secret=secret,
                code=request.form.get("code", ""),
                confirm=request.form.get("confirm", ""),
                now=utcnow(),
            )
        except ConfirmationNeeded:
            flash(
                _("Confirm with a code from your current authenticator or your password."),
                "error",
            )
            return redirect(url_for("admin.totp_setup"))
        except StaffError:
            flash(
                _("The code does not match. Check the time on your device and try again."), "error"
            )
            return redirect(url_for("admin.totp_setup"))
        session.pop("pending_totp_secret", None)
        flash(_("Two-step sign-in is on."))
        return redirect(url_for("admin.queue"))
    secret = session.get("pending_totp_secret") or staff_service.new_totp_secret()
    session["pending_totp_secret"] = secret
    uri = staff_service.totp_uri(current_user, secret, current_app.config["TOTP_ISSUER"])
    qr = Markup(segno.make(uri).svg_inline(scale=4))
    return render_template("admin/totp.html", secret=secret, qr=qr)


@bp.route("/account/password", methods=["GET", "POST"])
@roles(*ALL_STAFF)
def change_password():
    if request.method == "POST":
        from werkzeug.security import check_password_hash

        if not check_password_hash(current_user.password_hash, request.form.get("current", "")):
            flash(_("The current password is not right."), "error")
        elif request.form.get("new") != request.form.get("repeat"):
            flash(_("The two new passwords differ."), "error")
        else:
            try:
                staff_service.change_password(
                    current_user,
                    request.form.get("new", ""),
                    actor=Actor.staff(current_user),
                    now=utcnow(),
                )
            except StaffError:
                flash(_("Use at least 12 characters."), "error")
            else:
                login_user(current_user)  # the session carries the new version
                flash(_("Password changed. Other sessions are signed out."))
                return redirect(url_for("admin.queue"))
    return render_template("admin/password.html")
