"""Privacy policy versions and their notice campaigns, in the console.

Everyone on staff reads; only admins write, publish and import. Publishing refuses an
effective date with less notice than the rule (7 days minor, 30 days material), naming the
earliest allowed date, and starts the notice e-mail to every user.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from rightsdesk.admin.blueprint import ADMINS, ALL_STAFF, bp, roles
from rightsdesk.core.actors import Actor
from rightsdesk.core.clock import utcnow
from rightsdesk.core.context import NoOrganisation
from rightsdesk.domain.policy import ChangeKind, NoticeTooShort
from rightsdesk.extensions import db
from rightsdesk.models import NoticeCampaign, PolicyVersion
from rightsdesk.policy import campaigns
from rightsdesk.policy import versions as service


def _earliest(now: datetime) -> dict[str, date]:
    return {c.value: service.notice_for(c, now).earliest_effective for c in ChangeKind}


@bp.get("/policy")
@roles(*ALL_STAFF)
def policy_list():
    now = utcnow()
    today = service.local_today(now)
    try:
        drift = service.drift(today)
    except NoOrganisation:
        drift = []
    imported = service.imported_in_force(today)
    return render_template(
        "admin/policy_list.html",
        timeline=service.timeline(today),
        drafts=service.drafts(),
        campaigns=campaigns.list_campaigns(),
        pending=campaigns.pending,
        earliest=_earliest(now),
        drift=drift,
        imported=imported,
    )


@bp.route("/policy/new", methods=["GET", "POST"])
@roles(*ADMINS)
def policy_new():
    now = utcnow()
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            version = service.create_version(_draft(), actor=Actor.staff(current_user), now=now)
        except (service.PolicyError, ValueError) as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Draft saved. Check the text and what changed, then publish."))
            return redirect(url_for("admin.policy_show", version_id=version.id))
    return render_template(
        "admin/policy_form.html", version=None, form=form, earliest=_earliest(now)
    )


@bp.route("/policy/<int:version_id>/edit", methods=["GET", "POST"])
@roles(*ADMINS)
def policy_edit(version_id: int):
    version = _version(version_id)
    if version.published_at is not None:
        flash(_("A published version is never changed: write a new version."), "error")
        return redirect(url_for("admin.policy_show", version_id=version.id))
    if request.method == "POST":
        try:
            service.update_version(version, _draft(), actor=Actor.staff(current_user), now=utcnow())
        except (service.PolicyError, ValueError) as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("Draft saved."))
            return redirect(url_for("admin.policy_show", version_id=version.id))
    form = request.form if request.method == "POST" else _form_of(version)
    return render_template(
        "admin/policy_form.html", version=version, form=form, earliest=_earliest(utcnow())
    )


@bp.get("/policy/<int:version_id>")
@roles(*ALL_STAFF)
def policy_show(version_id: int):
    """The text users will see (generated sections filled in) and what changes against the
    version it replaces, before publishing."""
    version = _version(version_id)
    now = utcnow()
    language = request.args.get("text", "ko") if request.args.get("text") in ("ko", "en") else "ko"
    try:
        body = service.expanded(version, language)
    except NoOrganisation as error:
        body = ""
        flash(str(error), "error")
    base = service.previous_of(version) if version.published_at else _replaced(now)
    return render_template(
        "admin/policy_show.html",
        version=version,
        language=language,
        html=service.to_html(body),
        base=base,
        lines=service.compare(base, version, language) if body else [],
        period=service.notice_for(ChangeKind(version.change), now),
        campaigns=service.campaigns_of(version),
        pending=campaigns.pending,
    )


def _replaced(now: datetime) -> PolicyVersion | None:
    """What a draft is compared with: the latest published version (upcoming or in force)."""
    versions = service.published()
    return versions[-1] if versions else None


@bp.post("/policy/<int:version_id>/publish")
@roles(*ADMINS)
def policy_publish(version_id: int):
    version = _version(version_id)
    try:
        result = service.publish(version, actor=Actor.staff(current_user), now=utcnow())
    except NoticeTooShort as error:
        db.session.rollback()
        flash(_notice_message(error), "error")
    except (service.PolicyError, NoOrganisation) as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        _flash_published(result)
    return redirect(url_for("admin.policy_show", version_id=version_id))


def _flash_published(result: service.Published) -> None:
    """When the published version takes effect, and whether its notice e-mail has started."""
    flash(
        _(
            "Published: version %(label)s takes effect on %(date)s.",
            label=result.version.label,
            date=result.version.effective_date.isoformat(),
        )
    )
    if result.campaign is not None:
        flash(
            _(
                "The notice e-mail to every user has started (campaign %(id)s).",
                id=result.campaign.id,
            )
        )
    else:
        flash(
            _(
                "No notice e-mail was sent: %(reason)s. Announce the change on your site.",
                reason=result.warning,
            ),
            "error",
        )


def _notice_message(error: NoticeTooShort) -> str:
    period = error.period
    return _(
        "Refused: a %(change)s change needs at least %(days)s days' notice. Announced today "
        "(%(today)s), it can take effect on %(earliest)s at the earliest, not %(chosen)s.",
        change=_("material") if period.change is ChangeKind.MATERIAL else _("minor"),
        days=period.days,
        today=period.notice_local.date().isoformat(),
        earliest=period.earliest_effective.isoformat(),
        chosen=error.effective.isoformat(),
    )


@bp.get("/campaigns/<int:campaign_id>")
@roles(*ALL_STAFF)
def campaign_show(campaign_id: int):
    """The evidence of one notice: its exact text, counts and send times."""
    campaign = db.session.get(NoticeCampaign, campaign_id)
    if campaign is None:
        abort(404)
    return render_template(
        "admin/policy_campaign.html", campaign=campaign, pending=campaigns.pending(campaign)
    )


def _version(version_id: int) -> PolicyVersion:
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        abort(404)
    return version


def _text(name: str) -> str:
    """A field's text, or the uploaded file's (UTF-8 Markdown) when one was chosen."""
    upload = request.files.get(f"{name}_file")
    if isinstance(upload, FileStorage) and upload.filename:
        try:
            return upload.read(service.MAX_BODY * 4 + 1).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise service.PolicyError(_("The file must be UTF-8 text (Markdown).")) from None
    return request.form.get(name, "")


def _draft() -> service.Draft:
    form = request.form
    try:
        effective = date.fromisoformat(form.get("effective_date", "").strip())
    except ValueError:
        raise service.PolicyError(_("Give the effective date as YYYY-MM-DD.")) from None
    return service.Draft(
        label=form.get("label", "").strip() or effective.isoformat(),
        change=form.get("change", ""),
        effective_date=effective,
        body_ko=_text("body_ko"),
        body_en=_text("body_en"),
        summary_ko=form.get("summary_ko", ""),
        summary_en=form.get("summary_en", ""),
    )


def _form_of(version: PolicyVersion) -> dict[str, str]:
    return {
        "label": version.label,
        "change": version.change,
        "effective_date": version.effective_date.isoformat(),
        "body_ko": version.body_ko,
        "body_en": version.body_en,
        "summary_ko": version.summary_ko or "",
        "summary_en": version.summary_en or "",
    }
