"""Several writers at once: no reference is handed out twice and the audit chain stays linear."""

from __future__ import annotations

import threading

from sqlalchemy import select

from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.extensions import db
from rightsdesk.models import Channel, Request
from rightsdesk.services.audit import verify_chain
from rightsdesk.services.requests import submit_request

from .conftest import utc

WRITERS, EACH = 4, 5


def test_concurrent_submissions_get_distinct_references_and_one_chain(app):
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(number: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(EACH):
                    submit_request(
                        kind=K.ACCESS,
                        email=f"w{number}-{i}@example.com",
                        name=None,
                        channel=Channel.WEB,
                        now=utc("2026-03-02T01:00:00Z"),
                        actor="test",
                    )
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context():
        references = db.session.scalars(select(Request.reference)).all()
        assert len(references) == WRITERS * EACH
        assert sorted(references) == [f"RD-2026-{n:06d}" for n in range(1, WRITERS * EACH + 1)]
        report = verify_chain()
        assert report.ok, report.problems
        assert report.events == WRITERS * EACH
