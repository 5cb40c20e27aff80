"""The rights a data subject can exercise."""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    """A data-subject right, named by what the subject asks for.

    Values are stable identifiers stored in the database and used on the command line.
    """

    ACCESS = "access"  # 열람 — PIPA §35
    CORRECTION = "correction"  # 정정 — PIPA §36
    DELETION = "deletion"  # 삭제 — PIPA §36
    SUSPENSION = "suspension"  # 처리정지 — PIPA §37
    CONSENT_WITHDRAWAL = "consent_withdrawal"  # 동의철회 — PIPA §37①
    AUTOMATED_DECISION = "automated_decision"  # 자동화된 결정 — PIPA §37-2
    UNCLASSIFIED = "unclassified"  # arrived by e-mail in words no rule recognised: staff triage


#: What a data subject can choose on the form (staff reclassify the unclassified).
SUBJECT_KINDS: tuple[RequestKind, ...] = tuple(
    k for k in RequestKind if k is not RequestKind.UNCLASSIFIED
)


def parse_kind(value: str) -> RequestKind:
    """Read a kind as typed by a person (``consent-withdrawal`` works too)."""
    normalised = value.strip().lower().replace("-", "_")
    try:
        return RequestKind(normalised)
    except ValueError:
        accepted = ", ".join(k.value for k in RequestKind)
        raise ValueError(f"unknown kind {value!r}; accepted: {accepted}") from None
