"""Staff decisions on a request and the statutory notices they send.

Each action checks the lifecycle, records an audit event with the member of staff and their
address, queues its notice in the same transaction and commits once. ``preview`` renders the
very notice an action would send, from the same context, without storing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from rightsdesk.core import audit
from rightsdesk.core.actors import Actor
from rightsdesk.core.context import authority_text, current_organisation, settings
from rightsdesk.core.urls import external_url
from rightsdesk.delivery.letters import send_to_subject
from rightsdesk.delivery.outbox import render
from rightsdesk.domain.deadlines import check_extension
from rightsdesk.domain.identity import strip_control_characters
from rightsdesk.domain.lifecycle import OPEN, IllegalTransition, Status, check_transition
from rightsdesk.domain.messages import N_, StaffMessageError
from rightsdesk.extensions import db
from rightsdesk.models import Note, Question, Request, StaffUser
from rightsdesk.requests.deadlines import (
    answer_without_delay,
    apply_deadline,
    deadline_for,
    is_deferred,
)
from rightsdesk.requests.downloads import available
from rightsdesk.requests.intake import ask_subject
from rightsdesk.requests.lifecycle import change_status
from rightsdesk.requests.tokens import status_token


class DecisionError(StaffMessageError):
    """An action that cannot be taken as asked; the message says why."""


@dataclass(frozen=True)
class Notice:
    template: str
    context: dict[str, Any]


def _organisation():
    try:
        return current_organisation()
    except LookupError:
        return None


def _base_context(request: Request) -> dict[str, Any]:
    return {
        "item": request,
        "organisation": _organisation(),
        "status_url": external_url(
            "public.status", token=status_token(request), lang=request.language
        ),
        "profile": settings().profile(request.jurisdiction),
    }


def _audit(action: str, request: Request, actor: Actor, now: datetime, **data: Any) -> None:
    audit.record(
        action,
        actor=actor.name,
        now=now,
        request_ref=request.reference,
        data={**data, "ip": actor.ip},
    )


def _send(request: Request, notice: Notice, now: datetime) -> None:
    """The notice by mail, or as a letter when the request is answered by post."""
    send_to_subject(request, notice.template, context=notice.context, now=now)


def preview(request: Request, notice: Notice) -> tuple[str, str]:
    """The subject line and text body the notice would have, exactly."""
    subject, text, _html = render(notice.template, request.language, notice.context)
    return subject, text


def _require_open(request: Request) -> None:
    if request.status not in OPEN:
        raise DecisionError(
            N_("%(reference)s is closed (%(status)s)"),
            reference=request.reference,
            status=request.status.value,
        )


def _require_text(value: str | None, missing: str) -> str:
    """The text without control characters; ``missing`` (a message id) when it is blank."""
    text = strip_control_characters(value or "").strip()
    if not text:
        raise DecisionError(missing)
    return text


# --- actions without a notice ------------------------------------------------------------


def view(request: Request, actor: Actor, now: datetime) -> None:
    """A member of staff opened the request's personal data: that is an audit event."""
    _audit("staff.viewed", request, actor, now)
    db.session.commit()


def verify_by_hand(
    request: Request, actor: Actor, now: datetime, method: str | None = None
) -> None:
    """Identity confirmed by staff (e.g. a representative's 위임장 checked), ``method`` saying
    how (영 §46); the subject gets the acknowledgement with the due date and their status link,
    as after a web confirmation."""
    method = strip_control_characters(method or "").strip()
    if method:
        request.identity_method = method[:300]
    if request.representative is not None and request.representative.proof_checked_at is None:
        request.representative.proof_checked_at = now
    if request.status is Status.RECEIVED_UNVERIFIED:
        change_status(request, Status.VERIFIED, actor=actor.name, now=now, commit=False)
        context = {**_base_context(request), "without_delay": answer_without_delay(request)}
        _send(request, Notice("acknowledge", context), now)
    _audit("request.verified_by_staff", request, actor, now, method_recorded=bool(method))
    db.session.commit()


def start(request: Request, actor: Actor, now: datetime) -> None:
    change_status(request, Status.IN_PROGRESS, actor=actor.name, now=now, commit=False)
    _audit("request.started", request, actor, now)
    db.session.commit()


def assign(request: Request, assignee: StaffUser | None, actor: Actor, now: datetime) -> None:
    request.assignee = assignee
    _audit("request.assigned", request, actor, now, assignee=assignee.id if assignee else None)
    db.session.commit()


def add_note(request: Request, text: str, actor: Actor, now: datetime) -> Note:
    text = _require_text(text, N_("Write the note first."))
    note = Note(request=request, author=actor.user, at=now, text=text)
    db.session.add(note)
    db.session.flush()
    _audit("request.note", request, actor, now, note=note.id)
    db.session.commit()
    return note


def question_notice(request: Request, question: str) -> Notice:
    _require_open(request)
    if request.status is Status.RECEIVED_UNVERIFIED:
        raise DecisionError(N_("confirm the requester's identity before asking them anything"))
    text = _require_text(question, N_("The question is required: the subject must be told"))
    return Notice("question", {**_base_context(request), "question": Question(text=text)})


ASK_PURPOSES = ("identity", "fee", "clarification", "other")


def ask(
    request: Request, question: str, actor: Actor, now: datetime, purpose: str = "other"
) -> None:
    """Ask the subject; ``purpose`` says whether the answer restarts the period where the
    jurisdiction says so (UK GDPR Art. 12A: identity, fee or clarification)."""
    question_notice(request, question)
    if purpose not in ASK_PURPOSES:
        raise DecisionError(
            N_("purpose %(purpose)r is not one of: %(accepted)s"),
            purpose=purpose,
            accepted=", ".join(ASK_PURPOSES),
        )
    if not (purpose == "other" and request.awaiting_purpose not in (None, "other")):
        request.awaiting_purpose = purpose  # a restarting question already open stays so
    ask_subject(request, question.strip(), actor=actor.name, now=now)


# --- decisions that send a statutory notice ----------------------------------------------


def extension_notice(request: Request, reason: str, review_on: str | None = None) -> Notice:
    """The postponement notice: a new date, or, for a deferral until its ground ends (법 §35③
    후문), the ground and that access follows without delay once it has ended — never the
    operator's internal review date (``review_on``, required for a deferral)."""
    profile = settings().profile(request.jurisdiction)
    _require_open(request)
    check_transition(request.status, Status.EXTENDED, reason)
    rule = check_extension(profile, request.kind, request.extension_count + 1)
    if rule.until_ground_ends:
        _review_date(review_on, request)
    new_due = deadline_for(request, extensions=request.extension_count + 1).due
    return Notice(
        "extended",
        {
            **_base_context(request),
            "reason": _require_text(reason, N_("The reason is required: the subject must be told")),
            "new_due": new_due,
            "basis": rule.basis,
            "until_ground_ends": rule.until_ground_ends,
        },
    )


def _review_date(value: str | None, request: Request) -> date:
    """The operator's internal review date of a deferral: a real date after receipt."""
    try:
        review_on = date.fromisoformat((value or "").strip())
    except ValueError:
        raise DecisionError(
            N_(
                "an internal review date (YYYY-MM-DD) is required: when you will check "
                "whether the ground for postponing still holds"
            )
        ) from None
    if review_on <= request.received_at.date():
        raise DecisionError(N_("the review date must be after the day the request was received"))
    return review_on


def extend(
    request: Request, reason: str, actor: Actor, now: datetime, review_on: str | None = None
) -> None:
    notice = extension_notice(request, reason, review_on)
    if notice.context["until_ground_ends"]:
        request.deferral_review_on = _review_date(review_on, request)
    change_status(
        request, Status.EXTENDED, actor=actor.name, now=now, reason=reason.strip(), commit=False
    )
    notice.context["new_due"] = request.due_date
    _send(request, notice, now)
    _audit("request.extended", request, actor, now, due=request.due_date.isoformat())
    db.session.commit()


def end_deferral(request: Request, actor: Actor, now: datetime) -> None:
    """Staff record that the ground for postponing access has ended: access is now due
    without delay (the operator's target from today), 법 §35③ 후문."""
    _require_open(request)
    if not is_deferred(request) or request.deferral_ended_at is not None:
        raise DecisionError(
            N_("%(reference)s is not postponed until a ground ends"), reference=request.reference
        )
    request.deferral_ended_at = now
    apply_deadline(request)
    _audit("request.deferral_ended", request, actor, now, due=request.due_date.isoformat())
    db.session.commit()


def refusal_notice(
    request: Request,
    ground_code: str,
    explanation: str,
    *,
    partial: bool,
    done: str | None = None,
    kept_by_policy: str = "",
) -> Notice:
    _require_open(request)
    target = Status.PARTIALLY_COMPLETED if partial else Status.REFUSED
    explanation = _require_text(
        explanation, N_("The explanation is required: the subject must be told")
    )
    check_transition(request.status, target, explanation)
    profile = settings().profile(request.jurisdiction)
    try:
        ground = profile.ground(ground_code, request.kind)
    except ValueError:
        raise DecisionError(
            N_("%(ground)r is not a legal ground for this request: choose one listed"),
            ground=ground_code,
        ) from None
    if partial:
        done = _require_text(done, N_("What was done is required: the subject must be told"))
    return Notice(
        "partially_refused" if partial else "refused",
        {
            **_base_context(request),
            "ground": ground,
            "explanation": explanation,
            "done": done,
            "kept_by_policy": kept_by_policy,
            "rights": refusal_rights(request),
        },
    )


def refusal_rights(request: Request) -> list[tuple[str, str]]:
    """What the jurisdiction's law requires a refusal to tell besides the ground (e.g. GDPR
    Art. 12(4): the supervisory authority and the judicial remedy), as (text, article)."""
    profile = settings().profile(request.jurisdiction)
    authority = authority_text(profile, request.language)
    return [
        (right.text(request.language, authority), right.basis)
        for right in profile.rights_for(request.kind)
    ]


def refuse(
    request: Request,
    ground_code: str,
    explanation: str,
    actor: Actor,
    now: datetime,
    *,
    partial: bool = False,
    done: str | None = None,
    kept_by_policy: str = "",
) -> None:
    """``kept_by_policy``: what the operator's own policy keeps (no refusal ground), said apart
    from the refusal."""
    notice = refusal_notice(
        request, ground_code, explanation, partial=partial, done=done, kept_by_policy=kept_by_policy
    )
    target = Status.PARTIALLY_COMPLETED if partial else Status.REFUSED
    request.refusal_ground = ground_code
    request.outcome_text = _joined(notice.context["done"], kept_by_policy) if partial else None
    change_status(
        request, target, actor=actor.name, now=now, reason=explanation.strip(), commit=False
    )
    _send(request, notice, now)
    _audit("request.refused", request, actor, now, ground=ground_code, partial=partial)
    db.session.commit()


def _joined(*parts: str | None) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def completion_notice(request: Request, outcome: str, *, kept_by_policy: str = "") -> Notice:
    _require_open(request)
    check_transition(request.status, Status.COMPLETED)

    files = available(request, datetime.now(UTC))
    return Notice(
        "completed",
        {
            **_base_context(request),
            "outcome": _require_text(
                outcome, N_("The outcome is required: the subject must be told")
            ),
            "files": files,
            "kept_by_policy": kept_by_policy,
        },
    )


def complete(
    request: Request, outcome: str, actor: Actor, now: datetime, *, kept_by_policy: str = ""
) -> None:
    """``kept_by_policy``: what the operator's own policy keeps, with how to object."""
    notice = completion_notice(request, outcome, kept_by_policy=kept_by_policy)
    request.outcome_text = _joined(outcome, kept_by_policy)
    change_status(request, Status.COMPLETED, actor=actor.name, now=now, commit=False)
    _send(request, notice, now)
    _audit("request.completed", request, actor, now)
    db.session.commit()


def withdrawal_notice(request: Request) -> Notice:
    _require_open(request)
    check_transition(request.status, Status.WITHDRAWN)
    return Notice("withdrawn", _base_context(request))


def withdraw_for_subject(request: Request, note: str, actor: Actor, now: datetime) -> None:
    """The subject withdrew by phone or letter; staff record it and confirm by mail."""
    notice = withdrawal_notice(request)
    change_status(
        request,
        Status.WITHDRAWN,
        actor=actor.name,
        now=now,
        reason=_require_text(
            note, N_("How the subject withdrew is required: the subject must be told")
        ),
        commit=False,
    )
    _send(request, notice, now)
    _audit("request.withdrawn_by_staff", request, actor, now)
    db.session.commit()


__all__ = ["DecisionError", "IllegalTransition"]
