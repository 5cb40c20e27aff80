"""The queue primitive (``rightsdesk.core.jobqueue``), once and hard, on the real database.

Every property is checked for each kind of queue the service has: a lease kept as when it
began with a holder and a ``sending`` state (the outbox, the webhooks), a lease kept as when
it ends with a ``sending`` state and due-time order (campaign recipients), a lease alone with
no state of its own (connector jobs) — using those queues' own descriptions — and, for
:func:`~rightsdesk.core.jobqueue.take`, the web form's submissions. SQLite by default,
PostgreSQL when RIGHTSDESK_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from rightsdesk.core import jobqueue
from rightsdesk.delivery import connectors, outbox
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.models import (
    CampaignRecipient,
    Channel,
    ConnectorJob,
    IntakeSubmission,
    NoticeCampaign,
    OutboxMessage,
    OutboxState,
)
from rightsdesk.policy import campaigns
from rightsdesk.requests import intake
from rightsdesk.requests.lifecycle import submit_request
from tests.helpers import PG_URL

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


# --- rows of each kind of queue --------------------------------------------------------------


def _mail(times: list[datetime]) -> list[int]:
    rows = [
        OutboxMessage(
            template="test",
            language="ko",
            recipient=f"r{n}@example.com",
            sender="rightsdesk@example.com",
            subject="s",
            body_text="b",
            message_id=f"<{n}@jobqueue.test>",
            state=OutboxState.QUEUED,
            attempts=0,
            next_attempt_at=at,
            created_at=NOW,
        )
        for n, at in enumerate(times)
    ]
    return _stored(rows)


def _campaign() -> int:
    campaign = NoticeCampaign(
        purpose="test",
        subject_ko="s",
        text_ko="t",
        source="list",
        state="sending",
        rate_per_minute=600,
        queued=0,
        sent=0,
        bounced=0,
        failed=0,
        created_by="test",
        created_at=NOW,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign.id


def _recipients(times: list[datetime], campaign_id: int | None = None) -> list[int]:
    campaign_id = campaign_id or _campaign()
    rows = [
        CampaignRecipient(
            campaign_id=campaign_id,
            email=f"r{n}@example.com",
            language="ko",
            state=campaigns.PENDING,
            attempts=0,
            next_attempt_at=at,
        )
        for n, at in enumerate(times)
    ]
    return _stored(rows)


def _jobs(times: list[datetime]) -> list[int]:
    request = submit_request(
        kind=RequestKind.ACCESS,
        email="jobs@example.com",
        name=None,
        channel=Channel.WEB,
        now=NOW,
        actor="test",
        commit=False,
    )
    db.session.flush()
    rows = [
        ConnectorJob(
            request_id=request.id,
            system=f"system{n}",
            action="access",
            state=connectors.PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=NOW,
        )
        for n, at in enumerate(times)
    ]
    return _stored(rows)


def _submissions(times: list[datetime]) -> list[int]:
    rows = [
        IntakeSubmission(received_at=NOW, payload="{}", attempts=0, next_attempt_at=at)
        for at in times
    ]
    return _stored(rows)


def _stored(rows: list) -> list[int]:
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


@dataclass(frozen=True)
class Kind:
    queue: jobqueue.Queue
    make: Callable[[list[datetime]], list[int]]
    settled: object  # a final state: never claimed again
    by_due: bool  # taken earliest due first (else by id)

    @property
    def lease(self) -> timedelta:
        return self.queue.lease.length

    def row(self, row_id: int):
        db.session.expire_all()
        return db.session.get(self.queue.model, row_id)


KINDS = {
    "since+holder": Kind(outbox.MAIL, _mail, OutboxState.SENT, by_due=False),
    "until+state": Kind(campaigns.RECIPIENTS, _recipients, campaigns.SENT, by_due=True),
    "until-alone": Kind(connectors.JOBS, _jobs, connectors.DONE, by_due=False),
}


@pytest.fixture(params=list(KINDS))
def kind(request) -> Kind:
    return KINDS[request.param]


def _claim(kind: Kind, now: datetime, batch: int = 100, **options) -> list[int]:
    ids = jobqueue.claim(kind.queue, now=now, batch=batch, worker="tester", **options)
    db.session.commit()
    return ids


# --- one claimer ------------------------------------------------------------------------------


def test_due_rows_are_claimed_in_order_and_rows_not_yet_due_are_skipped(ctx, kind):
    offsets = list(range(-20, 0)) + list(range(1, 6))  # minutes: 20 due, 5 not yet
    random.Random(7).shuffle(offsets)
    times = [NOW + timedelta(minutes=m) for m in offsets]
    ids = kind.make(times)
    when = dict(zip(ids, times, strict=True))
    due = [i for i in ids if when[i] <= NOW]
    later = {i for i in ids if when[i] > NOW}
    expected = sorted(due, key=when.get) if kind.by_due else sorted(due)
    for start in range(0, 20, 3):
        assert _claim(kind, NOW, batch=3) == sorted(expected[start : start + 3])
    assert _claim(kind, NOW) == []  # what is left is not due yet
    assert set(_claim(kind, NOW + timedelta(minutes=5))) == later


def test_a_row_due_exactly_now_is_due(ctx, kind):
    [row_id] = kind.make([NOW])
    assert _claim(kind, NOW - TICK) == []
    assert _claim(kind, NOW) == [row_id]


def test_a_claimed_row_is_held_until_its_lease_runs_out_then_taken_over(ctx, kind):
    ids = kind.make([NOW - timedelta(minutes=1)] * 5)
    assert _claim(kind, NOW) == ids
    row = kind.row(ids[0])
    if kind.queue.held is not None:
        assert getattr(row, kind.queue.state.key) == kind.queue.held
    holder = kind.queue.lease.holder
    first_token = getattr(row, holder.key) if holder is not None else None
    assert holder is None or first_token.startswith("tester:")
    assert _claim(kind, NOW) == []
    assert _claim(kind, NOW + kind.lease) == []  # the lease's last moment
    # The claimer died: once its lease has run out the rows are due again, for one claimer.
    assert _claim(kind, NOW + kind.lease + TICK) == ids
    assert _claim(kind, NOW + kind.lease + TICK) == []
    if holder is not None:
        assert getattr(kind.row(ids[0]), holder.key) not in (None, first_token)


def test_a_longer_lease_can_be_asked_for(ctx):
    kind = KINDS["until-alone"]  # connector jobs ask for the longest system time-out on top
    [row_id] = kind.make([NOW])
    assert _claim(kind, NOW, lease=timedelta(hours=1)) == [row_id]
    assert _claim(kind, NOW + kind.lease + timedelta(minutes=1)) == []
    assert _claim(kind, NOW + timedelta(hours=1) + TICK) == [row_id]


def test_a_row_given_back_waits_out_its_backoff_with_the_error_recorded(ctx, kind):
    ids = kind.make([NOW, NOW])
    assert _claim(kind, NOW) == ids
    row = kind.row(ids[0])
    row.attempts += 1
    wait = timedelta(seconds=30)
    jobqueue.give_back(kind.queue, row, now=NOW, wait=wait, error="SMTPServerDisconnected: gone")
    db.session.commit()
    row = kind.row(ids[0])
    assert getattr(row, kind.queue.error.key) == "SMTPServerDisconnected: gone"
    assert getattr(row, kind.queue.due.key) == NOW + wait
    assert row.attempts == 1
    assert getattr(row, kind.queue.state.key) == kind.queue.waiting
    lease = kind.queue.lease
    assert lease.holder is None or getattr(row, lease.holder.key) is None
    assert not lease.ends or getattr(row, lease.column.key) is None
    assert _claim(kind, NOW + wait - TICK) == []  # the other one is still held
    assert _claim(kind, NOW + wait) == [ids[0]]


def test_a_released_row_is_settled_or_waits_again(ctx, kind):
    ids = kind.make([NOW, NOW])
    assert _claim(kind, NOW) == ids
    settled, untouched = kind.row(ids[0]), kind.row(ids[1])
    jobqueue.release(kind.queue, settled, kind.settled)
    jobqueue.release(kind.queue, untouched)  # put back untouched: due as it was
    db.session.commit()
    assert getattr(kind.row(ids[0]), kind.queue.state.key) == kind.settled
    assert _claim(kind, NOW) == [ids[1]]
    assert _claim(kind, NOW + timedelta(days=1)) == [ids[1]]  # the settled one never again


def test_retry_now_makes_waiting_rows_due_and_leaves_the_others(ctx, kind):
    ids = kind.make([NOW + timedelta(hours=1), NOW + timedelta(hours=2), NOW])
    assert _claim(kind, NOW) == [ids[2]]
    assert jobqueue.retry_now(kind.queue, now=NOW) == 2
    db.session.commit()
    assert _claim(kind, NOW) == ids[:2]


def test_a_claim_can_be_narrowed(ctx):
    kind = KINDS["until+state"]  # a campaign's sender claims that campaign's recipients
    mine = _campaign()
    ours = _recipients([NOW, NOW], mine)
    _recipients([NOW - timedelta(hours=1)] * 3)  # another campaign's, due earlier
    only_mine = CampaignRecipient.campaign_id == mine
    assert _claim(kind, NOW, where=only_mine) == ours


def test_a_lease_kept_as_its_start_needs_a_held_state():
    with pytest.raises(ValueError, match="held"):
        jobqueue.Queue(
            model=OutboxMessage,
            due=OutboxMessage.next_attempt_at,
            order_by=(OutboxMessage.id,),
            lease=jobqueue.Lease(OutboxMessage.claimed_at, timedelta(minutes=1), ends=False),
        )


def test_backoff_doubles_up_to_its_cap_for_any_number_of_attempts():
    first, longest = timedelta(seconds=30), timedelta(hours=1)
    waits = [jobqueue.backoff(n, first=first, longest=longest) for n in range(9)]
    assert [w.total_seconds() for w in waits] == [30, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert jobqueue.backoff(10_000, first=first, longest=longest) == longest
    assert jobqueue.backoff(5, first=first, longest=timedelta(seconds=45)) == timedelta(seconds=45)


# --- claimers at once -------------------------------------------------------------------------

CLAIMERS, ROWS, BATCH = 6, 240, 4


def _in_rounds(app: Flask, work: Callable[[int], list[int]]) -> list[list[int]]:
    """Run ``work`` in CLAIMERS threads, each with its own app context (session, connection),
    in rounds that start together, until a round in which nobody got anything."""
    got: list[list[int]] = [[] for _ in range(CLAIMERS)]
    this_round: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def round_over() -> None:
        if not this_round:
            done.set()
        this_round.clear()

    start, end = threading.Barrier(CLAIMERS), threading.Barrier(CLAIMERS, action=round_over)

    def claimer(number: int) -> None:
        with app.app_context():
            while not done.is_set():
                start.wait(timeout=60)
                try:
                    ids = work(number)
                except BaseException as error:  # reported below
                    errors.append(error)
                    ids = []
                got[number] += ids
                this_round.extend(ids)
                end.wait(timeout=60)
            db.session.remove()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    return got


def test_claimers_at_once_never_claim_the_same_row(app, kind):
    with app.app_context():
        ids = kind.make([NOW - timedelta(seconds=n) for n in range(ROWS)])

    def claim(number: int) -> list[int]:
        won = jobqueue.claim(kind.queue, now=NOW, batch=BATCH, worker=f"w{number}")
        db.session.commit()
        return won

    got = _in_rounds(app, claim)
    everything = [row_id for ids_of_one in got for row_id in ids_of_one]
    assert sorted(everything) == sorted(ids)  # each row once, none lost
    assert sum(1 for ids_of_one in got if ids_of_one) >= 2  # really side by side
    with app.app_context():
        if kind.queue.held is not None:
            states = db.session.scalars(select(kind.queue.state)).all()
            assert set(states) == {kind.queue.held}


def test_a_second_claimer_skips_the_rows_a_first_one_is_claiming(app, kind):
    """PostgreSQL: SKIP LOCKED gives the second claimer the next rows at once. SQLite: its
    single writer makes the second wait for the first one's commit, and it gets none of its
    rows."""
    with app.app_context():
        ids = kind.make([NOW - timedelta(seconds=10 - n) for n in range(10)])  # by id and due
    second: list[int] = []
    errors: list[BaseException] = []

    def other() -> None:
        with app.app_context():
            try:
                second.extend(jobqueue.claim(kind.queue, now=NOW, batch=5, worker="second"))
                db.session.commit()
            except BaseException as error:  # reported below
                errors.append(error)
            db.session.remove()

    with app.app_context():
        first = jobqueue.claim(kind.queue, now=NOW, batch=5, worker="first")
        assert first == ids[:5]
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=5 if PG_URL else 0.5)
        if PG_URL:
            assert not thread.is_alive()  # done while the first claim is still open
        else:
            assert thread.is_alive()  # waiting for SQLite's one writer
        db.session.commit()
    thread.join(timeout=30)
    assert errors == []
    assert not set(second) & set(first)
    # SQLite: none, having chosen the first one's rows before its commit (or, started late,
    # the next ones). PostgreSQL: the next ones, always.
    assert second == ids[5:] if PG_URL else second in ([], ids[5:])


# --- take: the work and the removal in one transaction ----------------------------------------


def test_take_deletes_the_oldest_due_row_and_a_rollback_puts_it_back(ctx):
    queue = intake.SUBMISSIONS
    columns = (IntakeSubmission.id, IntakeSubmission.attempts)
    times = [NOW - timedelta(minutes=1), NOW - timedelta(minutes=2), NOW, NOW + TICK]
    ids = _submissions(times)
    assert jobqueue.take(queue, now=NOW, columns=columns).id == ids[1]  # due earliest
    db.session.rollback()  # the work failed: the row is back …
    taken = jobqueue.take(queue, now=NOW, columns=columns)
    assert taken.id == ids[1]
    jobqueue.give_back(queue, ids[0], now=NOW, wait=timedelta(seconds=30), error="x", attempts=1)
    db.session.commit()  # … or done, with the removal
    assert jobqueue.take(queue, now=NOW, columns=columns).id == ids[2]  # ids[0] waits now
    db.session.commit()
    assert jobqueue.take(queue, now=NOW, columns=columns) is None  # ids[3] is not due yet
    db.session.rollback()
    kept = db.session.get(IntakeSubmission, ids[0])
    assert (kept.attempts, kept.last_error) == (1, "x")
    assert kept.next_attempt_at == NOW + timedelta(seconds=30)
    later = NOW + timedelta(seconds=30)
    assert jobqueue.take(queue, now=later, columns=columns).id == ids[3]  # due 1 µs after now
    assert jobqueue.take(queue, now=later, columns=columns).id == ids[0]


def test_give_back_of_a_row_that_is_gone_does_nothing(ctx):
    [row_id] = _submissions([NOW])
    assert jobqueue.take(intake.SUBMISSIONS, now=NOW, columns=[IntakeSubmission.id]) is not None
    db.session.commit()
    jobqueue.give_back(intake.SUBMISSIONS, row_id, now=NOW, wait=TICK, error="late")
    db.session.commit()
    assert db.session.scalar(select(func.count(IntakeSubmission.id))) == 0


def test_takers_at_once_take_each_row_once(app):
    with app.app_context():
        ids = _submissions([NOW - timedelta(seconds=n % 7) for n in range(ROWS)])

    def take(number: int) -> list[int]:
        taken = []
        for _ in range(BATCH):  # a few rows per round, one transaction each
            row = jobqueue.take(intake.SUBMISSIONS, now=NOW, columns=[IntakeSubmission.id])
            db.session.commit()
            if row is None:
                break
            taken.append(row.id)
        return taken

    got = _in_rounds(app, take)
    everything = [row_id for ids_of_one in got for row_id in ids_of_one]
    assert sorted(everything) == sorted(ids)
    assert sum(1 for ids_of_one in got if ids_of_one) >= 2
