"""Rows kept separately (분리 보관) stay the subject's: an access package after an erasure (or
after dormancy) includes them, decrypted and marked with their basis and purge date."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from rightsdesk.core.actors import Actor
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.fulfilment import erasure, separated
from rightsdesk.fulfilment.access import prepare_access_package
from rightsdesk.models import Request, RetainedRecord
from rightsdesk.requests.downloads import fetch
from tests.helpers import DEMO_SUBJECT as SUBJECT
from tests.helpers import make_request, shop_rows

NOW = datetime.now(UTC)


def _request(app, kind: RequestKind, email: str = SUBJECT) -> str:
    with app.app_context():
        return make_request(kind, email=email, name=None, received=NOW).reference


def _package(app, reference: str) -> zipfile.ZipFile:
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        download = prepare_access_package(found, actor=Actor("staff:test"), now=NOW)
        _item, data = fetch(found, download.id, now=NOW)
    return zipfile.ZipFile(io.BytesIO(data))


def test_the_access_package_of_an_erased_subject_holds_the_separated_payments(mapped_app, shop):
    user_id = shop_rows(shop, "SELECT id FROM users WHERE email = :e", e=SUBJECT)[0].id
    live_payments = shop_rows(
        shop,
        "SELECT p.id, p.amount FROM payments p JOIN orders o ON o.id = p.order_id"
        " WHERE o.user_id = :u",
        u=user_id,
    )
    deletion = _request(mapped_app, RequestKind.DELETION)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == deletion))
        erasure.run(found, actor=Actor("staff:test"), now=NOW)
        kept = db.session.scalars(
            select(RetainedRecord).where(
                RetainedRecord.request_ref == deletion, RetainedRecord.table_name == "payments"
            )
        ).all()
        kept_days = {r.purge_after.isoformat() for r in kept}
    assert kept and len(kept) <= len(live_payments)
    access = _request(mapped_app, RequestKind.ACCESS)
    archive = _package(mapped_app, access)
    assert json.loads(archive.read("shop/users.json")) == []  # the live row is anonymised
    payments = json.loads(archive.read("separated/shop/payments.json"))
    by_id = {p.id: p.amount for p in live_payments}
    assert sorted(p["id"] for p in payments) == sorted(json.loads(r.row_key)[0] for r in kept)
    assert all(by_id[p["id"]] == p["amount"] for p in payments)
    assert all(p["_separated"] is True and "전자상거래법" in p["_basis"] for p in payments)
    assert {p["_purge_after"] for p in payments} == kept_days
    summary = archive.read("summary.html").decode()
    assert f"Kept separately ({len(payments) + _others(archive, 'payments')})" in summary
    assert "separated/shop/payments" in summary
    assert "결제 기록 / Payment records" in summary  # tables named in the subject's words
    assert archive.read("separated/shop/payments.csv").decode("utf-8-sig").count("\n") == len(
        payments
    ) + 1


def _others(archive: zipfile.ZipFile, but: str) -> int:
    """Separated rows of the other tables in the package."""
    names = [
        n for n in archive.namelist() if n.startswith("separated/") and n.endswith(".json")
    ]
    return sum(len(json.loads(archive.read(n))) for n in names if not n.endswith(f"/{but}.json"))


def test_someone_elses_separated_rows_never_reach_the_package(mapped_app, shop):
    other = shop_rows(shop, "SELECT email FROM users WHERE email <> :e LIMIT 1", e=SUBJECT)[0]
    deletion = _request(mapped_app, RequestKind.DELETION, email=other.email)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == deletion))
        erasure.run(found, actor=Actor("staff:test"), now=NOW)
        assert db.session.scalar(select(RetainedRecord.id).limit(1)) is not None
    archive = _package(mapped_app, _request(mapped_app, RequestKind.ACCESS))
    assert not [n for n in archive.namelist() if n.startswith("separated/")]
    assert "Kept separately" not in archive.read("summary.html").decode()


def test_dormancy_rows_are_found_by_the_accounts_address_not_by_anyone_elses(mapped_app, shop):
    with mapped_app.app_context():
        separated.keep(
            [
                separated.Kept(
                    "[1]", {"id": 1, "email": SUBJECT}, NOW.date(), separated.lookup_hash(SUBJECT)
                ),
                separated.Kept(
                    "[2]",
                    {"id": 2, "email": "x@example.com"},
                    NOW.date(),
                    separated.lookup_hash("x@example.com"),
                ),
            ],
            system="shop",
            table="dormant_users",
            category="dormancy",
            basis="운영 방침: 장기 미이용 계정 분리 보관",
            request_ref=None,
            now=NOW,
        )
        db.session.commit()
    archive = _package(mapped_app, _request(mapped_app, RequestKind.ACCESS))
    rows = json.loads(archive.read("separated/shop/dormant_users.json"))
    assert [(r["id"], r["email"], r["_basis"][:5]) for r in rows] == [(1, SUBJECT, "운영 방침")]


def test_a_row_kept_both_by_an_erasure_and_by_dormancy_is_in_the_package_once(mapped_app, shop):
    """The subject's separated rows are found by their requests and by their account's
    address apart, then joined: a row found both ways is still one row."""
    access = _request(mapped_app, RequestKind.ACCESS)
    with mapped_app.app_context():
        separated.keep(
            [separated.Kept("[7]", {"id": 7}, NOW.date(), separated.lookup_hash(SUBJECT))],
            system="shop",
            table="dormant_users",
            category="dormancy",
            basis="운영 방침: 장기 미이용 계정 분리 보관",
            request_ref=access,  # one of the subject's requests: found that way too
            now=NOW,
        )
        db.session.commit()
    rows = json.loads(_package(mapped_app, access).read("separated/shop/dormant_users.json"))
    assert [r["id"] for r in rows] == [7]


def test_a_subjects_separated_rows_are_looked_up_by_index_not_by_reading_the_table(mapped_app):
    """Every access reads the subject's separated rows, by their requests or their account:
    through the indexes of both, never by reading the whole table, which grows with every
    erasure (written as one condition with OR, PostgreSQL read all of it: 5 ms a request at
    24,000 kept rows)."""
    with mapped_app.app_context():
        connection = db.session.connection()
        form = separated._SUBJECTS_OR_ACCOUNTS._form(connection.dialect)
        params = form.parameters({"subject": 1, "lookup": "0" * 64})
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + form.sql, params)
            scans = _scans_of(plan.scalar()[0]["Plan"], "retained_records")
            assert scans and all("Index Cond" in s or "Recheck Cond" in s for s in scans), scans
        else:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + form.sql, params)
            steps = [row[3] for row in plan]
            assert any("retained_records" in s for s in steps), steps
            assert not [s for s in steps if s.startswith("SCAN")], steps
        db.session.rollback()


def test_the_separated_rows_are_read_by_index_whatever_join_the_planner_prefers(mapped_app):
    """Without statistics (autovacuum off, or not yet run since the table grew) PostgreSQL
    joined the subject's requests to the kept rows by hashing, reading every kept row: 7.5 ms
    an access at 46,000 rows. The references and the ids are index conditions instead (the
    subqueries run first), so no join is left to choose: told to avoid nested loops, as the
    missing statistics made it, the plan still reads the table only through its indexes."""
    _request(mapped_app, RequestKind.DELETION)
    with mapped_app.app_context():
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            db.session.rollback()
            pytest.skip("PostgreSQL's planner (SQLite's: the test above)")
        connection.exec_driver_sql(  # others' kept rows: a table worth an index
            "INSERT INTO retained_records (request_ref, system, table_name, row_key, category,"
            " basis, purge_after, ciphertext, stored_at) SELECT 'R-OTHER-' || g, 'shop',"
            " 'payments', g::text, 'payment', 'statute', current_date, '\\x00', now()"
            " FROM generate_series(1, 20000) AS g"
        )
        connection.exec_driver_sql("SET LOCAL enable_nestloop = off")
        subject = db.session.scalar(select(Request.subject_id).limit(1))
        for statement, values in (
            (separated._SUBJECTS, {"subject": subject}),
            (separated._SUBJECTS_OR_ACCOUNTS, {"subject": subject, "lookup": "0" * 64}),
        ):
            form = statement._form(connection.dialect)
            plan = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + form.sql, form.parameters(values)
            ).scalar()[0]["Plan"]
            scans = _scans_of(plan, "retained_records")
            assert scans and all("Index Cond" in s or "Recheck Cond" in s for s in scans), scans
        db.session.rollback()


def _scans_of(node: dict, table: str) -> list[dict]:
    """The nodes of a PostgreSQL plan that read ``table`` (the node's own fields only)."""
    reads = node.get("Relation Name") == table
    own = [{k: v for k, v in node.items() if k != "Plans"}] if reads else []
    return own + [scan for child in node.get("Plans", []) for scan in _scans_of(child, table)]
