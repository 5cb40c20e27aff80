"""The request lifecycle as an explicit table of legal transitions."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED_UNVERIFIED = "received_unverified"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    AWAITING_SUBJECT = "awaiting_subject"
    EXTENDED = "extended"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


S = Status

#: Every legal move. Anything not listed is refused by :func:`check_transition`.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED_UNVERIFIED: frozenset({S.VERIFIED, S.WITHDRAWN, S.EXPIRED}),
    S.VERIFIED: frozenset(
        {
            S.IN_PROGRESS,
            S.AWAITING_SUBJECT,
            S.EXTENDED,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.REFUSED,
            S.WITHDRAWN,
        }
    ),
    S.IN_PROGRESS: frozenset(
        {S.AWAITING_SUBJECT, S.EXTENDED, S.COMPLETED, S.PARTIALLY_COMPLETED, S.REFUSED, S.WITHDRAWN}
    ),
    S.AWAITING_SUBJECT: frozenset({S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.EXTENDED: frozenset(
        {
            S.IN_PROGRESS,
            S.AWAITING_SUBJECT,
            S.COMPLETED,
            S.PARTIALLY_COMPLETED,
            S.REFUSED,
            S.WITHDRAWN,
        }
    ),
    S.COMPLETED: frozenset(),
    S.PARTIALLY_COMPLETED: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXPIRED: frozenset(),
}

#: Moves that must carry a reason, because the notice to the subject has to state one
#: (영 §42②, §43③, §44②: the reason and how to object).
REASON_REQUIRED: frozenset[Status] = frozenset({S.EXTENDED, S.REFUSED, S.PARTIALLY_COMPLETED})

TERMINAL: frozenset[Status] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
OPEN: frozenset[Status] = frozenset(Status) - TERMINAL


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow."""


def check_transition(current: Status, target: Status, reason: str | None = None) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is a legal move."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        if not allowed:
            raise IllegalTransition(
                f"cannot move a request from {current.value} to {target.value}: "
                f"{current.value} is final"
            )
        options = ", ".join(sorted(s.value for s in allowed))
        raise IllegalTransition(
            f"cannot move a request from {current.value} to {target.value}; "
            f"allowed from {current.value}: {options}"
        )
    if target in REASON_REQUIRED and not (reason and reason.strip()):
        raise IllegalTransition(f"moving to {target.value} needs a reason for the subject")


def parse_status(value: str) -> Status:
    normalised = value.strip().lower().replace("-", "_")
    try:
        return Status(normalised)
    except ValueError:
        accepted = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {value!r}; accepted: {accepted}") from None
