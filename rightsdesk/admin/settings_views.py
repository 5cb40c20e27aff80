"""Settings, for admins: the operator's identity, policy periods, holidays and staff."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from rightsdesk.admin.blueprint import ADMINS, bp, roles
from rightsdesk.core import deploy_check
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import (
    NoOrganisation,
    authority_text,
    jurisdiction_setting,
    settings,
)
from rightsdesk.domain.deadlines import PolicyLongerThanLaw
from rightsdesk.domain.identity import InvalidEmail, normalise_email
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.domain.regions import valid_regions
from rightsdesk.extensions import db
from rightsdesk.models import OverrideAction, StaffRole, StaffUser
from rightsdesk.organisation import calendars
from rightsdesk.organisation import staff as staff_service
from rightsdesk.organisation.jurisdictions import set_jurisdiction, takes_region
from rightsdesk.organisation.setup import (
    OrganisationError,
    check_identity,
    current_organisation,
    promise_period,
    set_up_organisation,
)
from rightsdesk.organisation.staff import StaffError
from rightsdesk.requests.deadlines import promised_periods


def _actor() -> Actor:
    return Actor.staff(current_user)


# The operator's identity (checked by the service, in the words the CLI uses too) and the
# objection texts; the telephone, title and department are optional.
IDENTITY_FIELDS = ("slug", "name_ko", "name_en", "officer_name", "officer_email")
OBJECTION_FIELDS = ("objection_ko", "objection_en")


@bp.route("/settings", methods=["GET", "POST"])
@roles(*ADMINS)
def settings_page():
    try:
        organisation = current_organisation()
    except NoOrganisation:
        organisation = None
    if request.method == "POST" and _save_organisation(request.form):
        return redirect(url_for("admin.settings_page"))
    profile = settings().profile()
    promises = promised_periods(profile.code) if organisation else {}
    return render_template(
        "admin/settings.html",
        organisation=organisation,
        profile=profile,
        kinds=SUBJECT_KINDS,
        promises=promises,
        config_jurisdiction=profile.code,
        profiles=settings().profiles,
        abroad=_abroad(),
        findings=deploy_check.run(deploy_check.Options(scan_stored=False), now=utcnow()),
    )


def _abroad() -> list[dict]:
    """The jurisdictions whose region or supervisory authority the operator can set."""
    shown = []
    for code in settings().profiles:
        profile = settings().profile(code)
        if takes_region(profile) or profile.refusal_rights:
            chosen = jurisdiction_setting(code)
            shown.append(
                {
                    "profile": profile,
                    "chosen": chosen,
                    "regions": valid_regions(profile),
                    "authority": authority_text(profile, "en"),
                }
            )
    return shown


@bp.post("/settings/jurisdictions/<code>")
@roles(*ADMINS)
def save_jurisdiction(code: str):
    """The operator's region and supervisory authority in one jurisdiction; an unknown
    Member State or subdivision is refused with the valid codes, nothing saved."""
    form = request.form
    region = form.get("region", "").strip() or None
    try:
        result = set_jurisdiction(
            code,
            region=region,
            authority_name=form.get("authority_name", ""),
            authority_contact=form.get("authority_contact", ""),
            actor=_actor(),
            now=utcnow(),
        )
    except (ValueError, NoOrganisation) as error:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=str(error)), "error")
    else:
        flash(_("Saved; %(count)s open request(s) re-dated.", count=len(result.changed)))
    return redirect(url_for("admin.settings_page"))


def _save_organisation(form) -> bool:
    """Set up or update the operator from the form; ``False`` (with the reason flashed) if a
    required field is empty or the officer's address is not one."""
    try:
        check_identity(**{key: form.get(key, "") for key in IDENTITY_FIELDS})
    except OrganisationError as error:
        flash(str(error), "error")
        return False
    if any(not form.get(key, "").strip() for key in OBJECTION_FIELDS):
        flash(_("How to object must be given in Korean and in English."), "error")
        return False
    try:
        email = normalise_email(form["officer_email"])
    except InvalidEmail:
        flash(_("Please enter a valid e-mail address."), "error")
        return False
    _set_up_from(form, email)
    db.session.commit()
    flash(_("Saved."))
    return True


def _set_up_from(form, email: str) -> None:
    organisation = set_up_organisation(
        slug=form["slug"].strip(),
        name_ko=form["name_ko"].strip(),
        name_en=form["name_en"].strip(),
        officer_name=form["officer_name"].strip(),
        officer_email=email,
        officer_phone=form.get("officer_phone"),
        officer_title=form.get("officer_title"),
        officer_department=form.get("officer_department"),
        actor=_actor(),
        now=utcnow(),
    )
    organisation.objection_method_ko = form["objection_ko"].strip()
    organisation.objection_method_en = form["objection_en"].strip()
    chosen = form.get("jurisdiction", "")
    organisation.default_jurisdiction = chosen if chosen in settings().profiles else None


@bp.post("/settings/promises")
@roles(*ADMINS)
def save_promise():
    try:
        kind = RequestKind(request.form.get("kind", ""))
        days_text = request.form.get("days", "").strip()
        days = int(days_text) if days_text else None
        if days is not None and days <= 0:
            raise ValueError("days")
        changed = promise_period(
            kind=kind, days=days, jurisdiction=None, actor=_actor(), now=utcnow()
        )
    except PolicyLongerThanLaw:
        db.session.rollback()
        flash(_("A policy may promise a shorter period than the law, never a longer one."), "error")
    except (ValueError, NoOrganisation):
        db.session.rollback()
        flash(
            _("Give a positive number of days, or leave it empty for the statute's period."),
            "error",
        )
    else:
        flash(_("Saved; %(count)s open request(s) re-dated.", count=changed))
    return redirect(url_for("admin.settings_page"))


@bp.route("/settings/holidays", methods=["GET", "POST"])
@roles(*ADMINS)
def holidays_page():
    country = settings().profile().calendar_country or "KR"
    if request.method == "POST":
        _save_holiday(country, request.form)
        return redirect(url_for("admin.holidays_page"))
    return render_template(
        "admin/holidays.html", country=country, overrides=calendars.list_overrides(country)
    )


def _save_holiday(country: str, form) -> None:
    """Add, remove or clear one day's override, flashing what came of it."""
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        flash(_("Use the form YYYY-MM-DD."), "error")
        return
    action = form.get("action")
    if action != "clear" and not (action in ("add", "remove") and form.get("name", "").strip()):
        flash(_("Give a name or a reason."), "error")
        return
    result = _change_override(country, day, action, form)
    count = len(result.changed) if result else 0
    flash(_("Saved; %(count)s open request(s) re-dated.", count=count))


def _change_override(country: str, day: date, action: str, form):
    if action == "clear":
        return calendars.clear_override(country=country, day=day, actor=_actor(), now=utcnow())
    return calendars.set_override(
        country=country,
        day=day,
        action=OverrideAction(action),
        name=form["name"].strip(),
        actor=_actor(),
        now=utcnow(),
    )


@bp.route("/settings/staff", methods=["GET", "POST"])
@roles(*ADMINS)
def staff_page():
    if request.method == "POST":
        form = request.form
        try:
            staff_service.create_staff(
                email=form.get("email", ""),
                name=form.get("name", ""),
                role=StaffRole(form.get("role", "")),
                password=form.get("password", ""),
                actor=_actor(),
                now=utcnow(),
            )
        except (StaffError, InvalidEmail, ValueError) as error:
            db.session.rollback()
            flash(_("Not created: %(reason)s", reason=str(error)), "error")
        else:
            flash(_("Account created."))
        return redirect(url_for("admin.staff_page"))
    accounts = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("admin/staff.html", accounts=accounts, roles=list(StaffRole))


@bp.post("/settings/staff/<int:staff_id>/<action>")
@roles(*ADMINS)
def staff_action(staff_id: int, action: str):
    user = db.session.get(StaffUser, staff_id)
    if user is None or action not in ("deactivate", "activate", "reset-totp"):
        return redirect(url_for("admin.staff_page"))
    if user.id == current_user.id and action == "deactivate":
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("admin.staff_page"))
    if action == "reset-totp":
        staff_service.reset_totp(user, actor=_actor(), now=utcnow())
    else:
        staff_service.set_active(user, action == "activate", actor=_actor(), now=utcnow())
    flash(_("Saved."))
    return redirect(url_for("admin.staff_page"))
