"""The lifecycle's transition table: every legal move works, every other one is refused."""

import pytest

from rightsdesk.domain.kinds import RequestKind, parse_kind
from rightsdesk.domain.lifecycle import (
    OPEN,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Status,
    check_transition,
    parse_status,
)

S = Status

LEGAL = [
    (S.RECEIVED_UNVERIFIED, S.VERIFIED),
    (S.RECEIVED_UNVERIFIED, S.EXPIRED),
    (S.RECEIVED_UNVERIFIED, S.WITHDRAWN),
    (S.VERIFIED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.AWAITING_SUBJECT),
    (S.AWAITING_SUBJECT, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.PARTIALLY_COMPLETED),
    (S.IN_PROGRESS, S.REFUSED),
    (S.IN_PROGRESS, S.EXTENDED),
    (S.EXTENDED, S.IN_PROGRESS),
    (S.EXTENDED, S.COMPLETED),
    (S.VERIFIED, S.WITHDRAWN),
]

ILLEGAL = [
    (S.RECEIVED_UNVERIFIED, S.IN_PROGRESS),  # identity first (영 §46)
    (S.RECEIVED_UNVERIFIED, S.COMPLETED),
    (S.COMPLETED, S.IN_PROGRESS),
    (S.REFUSED, S.COMPLETED),
    (S.EXPIRED, S.VERIFIED),
    (S.WITHDRAWN, S.IN_PROGRESS),
    (S.AWAITING_SUBJECT, S.COMPLETED),
    (S.VERIFIED, S.EXPIRED),
]


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_moves(current, target):
    check_transition(current, target, reason="because the notice must say why")


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_moves_are_refused_with_the_allowed_ones_named(current, target):
    with pytest.raises(IllegalTransition, match=f"cannot move a request from {current.value}"):
        check_transition(current, target, reason="x")


def test_final_states_say_so():
    with pytest.raises(IllegalTransition, match="completed is final"):
        check_transition(S.COMPLETED, S.REFUSED, reason="x")


@pytest.mark.parametrize("target", [S.EXTENDED, S.REFUSED, S.PARTIALLY_COMPLETED])
def test_moves_whose_notice_states_a_reason_need_one(target):
    with pytest.raises(IllegalTransition, match="needs a reason"):
        check_transition(S.IN_PROGRESS, target)
    with pytest.raises(IllegalTransition, match="needs a reason"):
        check_transition(S.IN_PROGRESS, target, reason="   ")


def test_every_status_has_a_row_and_open_and_terminal_split_them():
    assert set(TRANSITIONS) == set(Status)
    assert set(Status) == OPEN | TERMINAL and not OPEN & TERMINAL
    assert {S.COMPLETED, S.PARTIALLY_COMPLETED, S.REFUSED, S.WITHDRAWN, S.EXPIRED} == TERMINAL


def test_parsing_accepts_hyphens_and_names_the_accepted_values():
    assert parse_kind("consent-withdrawal") is RequestKind.CONSENT_WITHDRAWAL
    assert parse_status("Received-Unverified") is S.RECEIVED_UNVERIFIED
    with pytest.raises(ValueError, match="accepted: access, correction"):
        parse_kind("erasure")
