"""What staff can do with a request now, the most likely next step first, and how long is left.

The request page shows only these actions: the first is the next step, the others folded in
three groups (communicate, fulfil, decide). Which moves the lifecycle allows comes from
:data:`rightsdesk.domain.lifecycle.TRANSITIONS`; what fulfilment has done so far decides which
one is most likely next (an access package offered → complete; erasure run → finish).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import OPEN, TRANSITIONS, Status

# The page's groups, in order, and the actions each holds.
GROUPS: dict[str, tuple[str, ...]] = {
    "communicate": ("ask", "note", "assign"),
    "fulfil": ("verify", "start", "collect", "erasure", "stop", "offer"),
    "decide": ("complete", "partial", "refuse", "extend", "deferral-end", "withdraw"),
}


@dataclass(frozen=True)
class Situation:
    """What the page knows about a request beyond its status and kind."""

    status: Status
    kind: RequestKind
    has_datamap: bool = False
    proof_to_check: bool = False  # a representative's proof not checked yet
    can_extend: bool = False  # the jurisdiction allows a (further) extension of this kind
    deferred: bool = False  # postponed until a ground ends, and the ground has not ended
    package_offered: bool = False  # a file is on the status page
    erasure_run: bool = False  # every erasure step is done
    corrections_open: bool = False  # correction items not decided yet
    processing_stopped: bool = False  # the data map's stop actions were carried out


@dataclass(frozen=True)
class NextSteps:
    primary: str | None  # the next step, shown open; None while nothing is to be done now
    groups: dict[str, tuple[str, ...]]  # the other actions allowed now, per group

    @property
    def allowed(self) -> set[str]:
        names = {name for names in self.groups.values() for name in names}
        return names | ({self.primary} if self.primary else set())


def _may(situation: Situation, target: Status) -> bool:
    return target in TRANSITIONS[situation.status]


def _fulfilment(situation: Situation) -> str | None:
    """The fulfilment action of the request's kind, where the data map does it."""
    if not situation.has_datamap:
        return None
    return {
        RequestKind.ACCESS: "collect",
        RequestKind.DELETION: "erasure",
        RequestKind.SUSPENSION: "stop",
        RequestKind.CONSENT_WITHDRAWAL: "stop",
    }.get(situation.kind)


_RULES: dict[str, Callable[[Situation], bool]] = {
    "verify": lambda s: s.status is Status.RECEIVED_UNVERIFIED or s.proof_to_check,
    "start": lambda s: s.status in (Status.VERIFIED, Status.EXTENDED),
    "ask": lambda s: _may(s, Status.AWAITING_SUBJECT),
    "collect": lambda s: s.status in OPEN and _fulfilment(s) == "collect" and _worked(s),
    "erasure": lambda s: s.status in OPEN and _fulfilment(s) == "erasure" and _worked(s),
    "stop": lambda s: s.status in OPEN and _fulfilment(s) == "stop" and _worked(s),
    "offer": lambda s: s.status in OPEN and _worked(s),
    "complete": lambda s: _may(s, Status.COMPLETED),
    "partial": lambda s: _may(s, Status.PARTIALLY_COMPLETED),
    "refuse": lambda s: _may(s, Status.REFUSED) and _worked(s),
    "extend": lambda s: s.can_extend and _may(s, Status.EXTENDED),
    "deferral-end": lambda s: s.deferred,
    "withdraw": lambda s: _may(s, Status.WITHDRAWN) and _worked(s),
    "note": lambda s: True,
    "assign": lambda s: True,
}


def _worked(situation: Situation) -> bool:
    """Open and confirmed: the request can be worked (an unconfirmed one only verified)."""
    return situation.status in OPEN and situation.status is not Status.RECEIVED_UNVERIFIED


def _primary(situation: Situation, allowed: set[str]) -> str | None:
    """The most likely next step among those allowed."""
    s = situation
    if s.status not in OPEN or s.status is Status.AWAITING_SUBJECT:
        return None  # closed, or the subject's turn: nothing presses
    fulfil = _fulfilment(s)
    done = {
        "collect": s.package_offered,
        "erasure": s.erasure_run,
        "stop": s.processing_stopped,
    }.get(fulfil or "", True)
    order = ["verify", "deferral-end"]
    if s.kind is RequestKind.DELETION and fulfil:
        order += ["erasure"]  # its own finish sends the notice
    elif s.corrections_open:
        order += ["start"]  # the items are decided on the page, then the request completed
    elif fulfil and not done:
        order += [fulfil]
    else:
        order += ["start", "complete"]
    for name in order:
        if name in allowed:
            return name
    return None


def next_steps(situation: Situation) -> NextSteps:
    allowed = {name for name, rule in _RULES.items() if rule(situation)}
    primary = _primary(situation, allowed)
    groups = {
        group: tuple(n for n in names if n in allowed and n != primary)
        for group, names in GROUPS.items()
    }
    return NextSteps(primary, {g: names for g, names in groups.items() if names})


@dataclass(frozen=True)
class DaysLeft:
    calendar_days: int  # negative once the day has passed
    working_days: int  # working days after today up to and including the due day
    mark: str  # "overdue", "soon" (two working days or less) or ""


def days_left(
    today: date, due: date, is_working_day: Callable[[date], bool], *, open_: bool = True
) -> DaysLeft:
    """How long is left until ``due``, in calendar and working days, marked as the queue marks
    it: overdue past the day, soon within two working days."""
    working = 0
    day = today + timedelta(days=1)
    while day <= due:
        working += is_working_day(day)
        day += timedelta(days=1)
    calendar_days = (due - today).days
    if not open_:
        mark = ""
    elif calendar_days < 0:
        mark = "overdue"
    elif working <= 2:
        mark = "soon"
    else:
        mark = ""
    return DaysLeft(calendar_days, working, mark)
