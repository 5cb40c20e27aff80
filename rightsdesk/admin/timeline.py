"""A request's audit trail as sentences in the staff member's language ("2026-11-30 15:52
정보주체가 본인 확인을 마침"); the raw event stays one click away for auditors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from rightsdesk.domain.particles import resolve
from rightsdesk.i18n import staff_label, staff_status_label
from rightsdesk.models import AuditEvent

# What happened, by the event's action; %(who)s is who did it. A status change names both.
_SENTENCES = {
    "request.received": _l("%(who)s received the request (%(channel)s)"),
    "request.created": _l("%(who)s entered the request"),
    "request.status": _l("%(who)s: %(old)s → %(new)s"),
    "request.status_changed": _l("%(who)s: %(old)s → %(new)s"),
    "request.verified_by_staff": _l("%(who)s confirmed the identity by hand"),
    "request.started": _l("%(who)s started work"),
    "request.assigned": _l("%(who)s assigned the request"),
    "request.note": _l("%(who)s added a note"),
    "request.question": _l("%(who)s asked the subject a question"),
    "request.answered": _l("%(who)s answered the question"),
    "request.extended": _l("%(who)s postponed the request"),
    "request.deferral_ended": _l("%(who)s recorded that the ground for postponing ended"),
    "request.refused": _l("%(who)s refused the request"),
    "request.completed": _l("%(who)s completed the request"),
    "request.withdrawn_by_staff": _l("%(who)s withdrew the request on the subject's behalf"),
    "request.download_offered": _l("%(who)s offered a file to the subject"),
    "request.download_deleted": _l("%(who)s deleted an expired file"),
    "request.link_resent": _l("%(who)s sent a new status link"),
    "request.link_revoked": _l("%(who)s revoked the status links"),
    "request.redated": _l("%(who)s re-dated the request after a calendar change"),
    "request.purged": _l("%(who)s purged the request's personal data"),
    "subject.downloaded": _l("%(who)s downloaded a file"),
    "staff.viewed": _l("%(who)s viewed the request"),
    "staff.proof_downloaded": _l("%(who)s downloaded the representative's proof"),
    "staff.answer_downloaded": _l("%(who)s downloaded the subject's file"),
    "fulfilment.access": _l("%(who)s collected the subject's data"),
    "fulfilment.correction": _l("%(who)s decided a correction item"),
    "fulfilment.erasure": _l("%(who)s ran the erasure"),
    "fulfilment.erasure_decision": _l("%(who)s decided on rows kept under our own policy"),
    "fulfilment.stop": _l("%(who)s stopped the processing in the operator's systems"),
    "connector.job_created": _l("%(who)s created a job for an application"),
    "connector.done": _l("An application answered its job"),
    "connector.failed": _l("An application's job failed"),
    "connector.retry_requested": _l("%(who)s asked to send a job again"),
    "connector.checklist_created": _l("%(who)s created a checklist item"),
    "connector.checklist_done": _l("%(who)s marked a checklist item done"),
    "letter.posted": _l("%(who)s recorded a letter as posted"),
    "letter.downloaded": _l("%(who)s downloaded a letter"),
    "letter.told_by_phone": _l("%(who)s recorded telling the person by phone"),
    "recipient_notice.delivered": _l("A recipient received a correction notice"),
    "recipient_notice.failed": _l("A correction notice to a recipient failed"),
    "dormancy.restored": _l("%(who)s restored the dormant account"),
}


@dataclass(frozen=True)
class Entry:
    event: AuditEvent
    sentence: str
    data: dict[str, Any]


def who(actor: str) -> str:
    """The actor as staff call them: a staff member by address, the subject, the system."""
    kind, _sep, name = actor.partition(":")
    if kind == "staff":
        return name
    if kind == "subject":
        return _("The data subject")
    if kind == "api":
        return _("The app %(name)s", name=name)
    if kind == "cli":
        return _("The command line (%(user)s)", user=name)
    return _("rightsdesk")


def sentence(event: AuditEvent, data: dict[str, Any]) -> str:
    template = _SENTENCES.get(event.action)
    if template is None:
        return _("%(who)s: %(action)s", who=who(event.actor), action=event.action)
    values = {
        "who": who(event.actor),
        "channel": staff_label("channel", data.get("channel", "")),
        "old": staff_status_label(data.get("from", "")),
        "new": staff_status_label(data.get("to", "")),
    }
    return resolve(str(template) % values)


def timeline(events: Sequence[AuditEvent]) -> list[Entry]:
    entries = []
    for event in events:
        data = json.loads(event.data)
        entries.append(Entry(event, sentence(event, data), data))
    return entries
