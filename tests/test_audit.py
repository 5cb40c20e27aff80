"""The audit trail is append-only in the database, and `rightsdesk audit verify` finds any
edit or deletion made by someone who got around that."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from rightsdesk.extensions import db
from tests.helpers import make_request


def _three_requests(app) -> None:
    with app.app_context():
        for day in (1, 2, 3):
            make_request(
                email=f"s{day}@example.com",
                name=None,
                received=f"2025-09-0{day}T01:00:00Z",
                verified=False,
            )


def _drop_append_only_triggers() -> None:
    """What an attacker with database access would do first, in the same transaction as the
    forgery (PostgreSQL: a superuser turns triggers off for this transaction only)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_an_intact_chain_verifies(app, runner):
    _three_requests(app)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert result.output.startswith("OK: 3 events, chain intact")


def test_an_empty_chain_verifies(runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert result.output.startswith("OK: 0 events")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
    ],
)
def test_the_database_refuses_to_change_events(app, statement):
    _three_requests(app)
    with app.app_context(), pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement))
    with app.app_context():
        db.session.rollback()


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            'UPDATE audit_events SET data = \'{"kind":"deletion"}\' WHERE seq = 2',
            "event 2: content was changed after it was written",
        ),
        ("DELETE FROM audit_events WHERE seq = 2", "event 2 is missing"),
        ("DELETE FROM audit_events WHERE seq = 3", "events at the end were deleted"),
    ],
)
def test_verify_detects_edits_and_deletions(app, runner, statement, problem):
    _three_requests(app)
    with app.app_context():
        _drop_append_only_triggers()
        db.session.execute(text(statement))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert result.output.startswith("FAILED")
    assert problem in result.output


def test_a_rewritten_link_breaks_the_next_one(app, runner):
    """Editing an event and recomputing its own hash still breaks the chain after it."""
    from rightsdesk.core.audit import event_hash
    from rightsdesk.models import AuditEvent

    _three_requests(app)
    with app.app_context():
        _drop_append_only_triggers()
        event = db.session.get(AuditEvent, 1)
        forged_data = '{"kind":"deletion"}'
        forged = event_hash(
            event.seq,
            event.at,
            event.actor,
            event.action,
            event.request_ref,
            forged_data,
            event.prev_hash,
        )
        db.session.execute(
            text("UPDATE audit_events SET data = :d, hash = :h WHERE seq = 1"),
            {"d": forged_data, "h": forged},
        )
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "event 2: does not follow the event before it" in result.output
