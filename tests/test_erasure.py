"""Erasure (삭제) on the demo shop: preview, run, separated storage, resume, the notice."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rightsdesk.core import leases
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.domain.retention import DEFAULT_SCHEDULE, Unit, add_period
from rightsdesk.extensions import db
from rightsdesk.fulfilment import erasure, separated
from rightsdesk.models import (
    AuditEvent,
    ErasureStep,
    OutboxMessage,
    Request,
    RetainedRecord,
    StaffRole,
)
from rightsdesk.requests.tokens import status_token
from rightsdesk.systems.configured import FulfilmentError
from tests.helpers import DEMO_MAP, act, make_request, new_request, shop_rows, sign_in
from tests.helpers import DEMO_SUBJECT as SUBJECT

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Seoul")).date()


def _deletion_request(app, email: str = SUBJECT, language: str = "ko") -> str:
    with app.app_context():
        request = make_request(
            RequestKind.DELETION, email=email, name=None, received=NOW, language=language
        )
        return request.reference


def _load(reference: str) -> Request:
    return db.session.scalar(select(Request).where(Request.reference == reference))


def _user_id(url: str, email: str = SUBJECT) -> int:
    return shop_rows(url, "SELECT id FROM users WHERE email = :e", e=email)[0].id


def _expected(url: str, user_id: int) -> dict[str, list]:
    """The subject's rows, read by hand-written SQL."""
    q = {
        "orders": "SELECT id, created_at FROM orders WHERE user_id = :u",
        "payments": "SELECT p.id, p.created_at FROM payments p JOIN orders o ON o.id = p.order_id"
        " WHERE o.user_id = :u",
        "access_logs": "SELECT id, at FROM access_logs WHERE user_id = :u",
        "support_tickets": "SELECT id, created_at FROM support_tickets WHERE user_id = :u",
        "marketing_consents": "SELECT user_id FROM marketing_consents WHERE user_id = :u",
    }
    return {table: shop_rows(url, sql, u=user_id) for table, sql in q.items()}


def _day(value) -> date:
    return (value if isinstance(value, datetime) else datetime.fromisoformat(str(value))).date()


def _still_kept(rows, rule: str) -> list:
    return [r for r in rows if DEFAULT_SCHEDULE.rule(rule).until(_day(r[1])) >= TODAY]


def _other_users_rows(url: str, user_id: int) -> tuple:
    return (
        shop_rows(url, "SELECT count(*) AS n FROM orders WHERE user_id <> :u", u=user_id)[0].n,
        shop_rows(url, "SELECT count(*) AS n FROM access_logs WHERE user_id <> :u", u=user_id)[0].n,
        shop_rows(url, "SELECT count(*) AS n FROM users WHERE email LIKE 'erased-%'")[0].n,
    )


def test_the_preview_counts_each_table_and_names_what_is_kept_why_and_until_when(mapped_app, shop):
    reference = _deletion_request(mapped_app)
    expected = _expected(shop, _user_id(shop))
    with mapped_app.app_context():
        rows = {(r.system, r.table): r for r in erasure.preview(_load(reference), now=NOW)}
        assert not db.session.scalars(select(ErasureStep)).all()  # a preview changes nothing
    assert rows[("shop", "users")].rows == 1 and rows[("shop", "users")].retained == 0
    payments = rows[("shop", "payments")]
    kept = _still_kept(expected["payments"], "payment")
    assert payments.rows == len(expected["payments"]) and payments.retained == len(kept)
    assert kept, "the demo subject has recent payments"
    assert payments.basis.startswith("전자상거래법") and "§6①3" in payments.basis
    assert payments.retained_until == max(
        DEFAULT_SCHEDULE.rule("payment").until(_day(r[1])) for r in kept
    )
    logs = rows[("shop", "access_logs")]
    assert logs.rows == len(expected["access_logs"])
    assert logs.retained == len(_still_kept(expected["access_logs"], "access_log"))
    assert rows[("shop", "marketing_consents")].retained == 0
    assert rows[("app", "")].kind == "webhook" and rows[("paper", "")].kind == "manual"


def test_a_run_erases_the_subject_keeps_the_statutory_rows_apart_and_touches_no_one_else(
    mapped_app, shop
):
    reference = _deletion_request(mapped_app)
    user_id = _user_id(shop)
    expected = _expected(shop, user_id)
    others = _other_users_rows(shop, user_id)
    tickets = shop_rows(
        shop, "SELECT id, created_at, body FROM support_tickets WHERE user_id = :u", u=user_id
    )
    assert tickets and all(len(t[2]) > 20 for t in tickets)
    with mapped_app.app_context():
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        sql_steps = {s.table_name: s for s in steps if s.kind == "sql"}
        assert all(s.state == "done" for s in sql_steps.values())
        # With the webhook and manual systems still pending: returned as written.
        assert _as_stored(steps) == _as_stored(erasure.steps_of(_load(reference)))
        # Children first: payments before orders before users.
        order = [s.table_name for s in steps if s.kind == "sql"]
        assert order.index("payments") < order.index("orders") < order.index("users")
        kept = db.session.scalars(
            select(RetainedRecord).where(RetainedRecord.request_ref == reference)
        ).all()
        cipher = separated.cipher()
        kept_payments = [
            json.loads(cipher.decrypt(r.ciphertext)) for r in kept if r.table_name == "payments"
        ]
        purge_dates = {r.row_key: r.purge_after for r in kept if r.table_name == "payments"}
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fulfilment.erasure")
        ).all()
    # Live data: the subject is gone from the shop.
    user = shop_rows(
        shop, "SELECT email, name, phone, birth_date FROM users WHERE id = :u", u=user_id
    )
    assert user[0].email.startswith("erased-") and user[0].email.endswith("@erased.invalid")
    assert user[0].phone is None and user[0].birth_date is None and "erased-" in user[0].name
    assert not shop_rows(shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)
    after = _expected(shop, user_id)
    assert after["payments"] == [] and after["access_logs"] == []
    assert after["support_tickets"] == [] and after["marketing_consents"] == []
    addresses = shop_rows(shop, "SELECT address FROM orders WHERE user_id = :u", u=user_id)
    assert len(addresses) == len(expected["orders"])  # kept as keys for 5 years...
    assert all(a.address.startswith("erased-") for a in addresses)  # ...identifying nobody
    # Separated storage: exactly the payments still inside their 5 years, readable only by key.
    still_kept = _still_kept(expected["payments"], "payment")
    assert sorted(p["id"] for p in kept_payments) == sorted(r.id for r in still_kept)
    for row in still_kept:
        until = DEFAULT_SCHEDULE.rule("payment").until(_day(row[1]))
        assert purge_dates[json.dumps([row.id])] == until
    assert sql_steps["payments"].deleted == len(expected["payments"])
    assert sql_steps["payments"].retained == len(still_kept)
    assert sql_steps["access_logs"].deleted == len(expected["access_logs"])
    assert sql_steps["users"].anonymised == 1
    # Destroyed so it cannot be restored (영 §16): not even in the database file's free pages.
    if shop.startswith("sqlite:///"):
        raw = Path(shop.removeprefix("sqlite:///")).read_bytes()
        assert SUBJECT.encode() not in raw
        assert all(t[2].encode() not in raw for t in tickets)
    # Nobody else's rows changed.
    assert _other_users_rows(shop, user_id)[:2] == others[:2]
    assert _other_users_rows(shop, user_id)[2] == others[2] + 1
    # The audit trail: one event for the shop's run, with counts per table, never the data.
    shop_events = [e for e in events if json.loads(e.data)["tables"][0]["system"] == "shop"]
    assert len(shop_events) == 1
    tables = {t["table"]: t for t in json.loads(shop_events[0].data)["tables"]}
    assert set(tables) == set(sql_steps)
    for name, step in sql_steps.items():
        assert (tables[name]["deleted"], tables[name]["anonymised"]) == (
            step.deleted,
            step.anonymised,
        )
        assert tables[name]["kept_separately"] == step.retained
    assert all(SUBJECT not in e.data and "erased-" not in e.data for e in events)


def test_a_row_kept_already_is_kept_once_and_counted_only_where_it_was_kept(mapped_app, shop):
    """A payment the subject's earlier request already keeps apart (the same row of the same
    table) is not stored again: the run counts only the rows it stored itself, and says so
    in its audit event."""
    reference = _deletion_request(mapped_app)
    user_id = _user_id(shop)
    still_kept = _still_kept(_expected(shop, user_id)["payments"], "payment")
    assert len(still_kept) >= 2
    earlier = still_kept[0]
    with mapped_app.app_context():
        separated.keep(
            [separated.Kept(json.dumps([earlier.id]), {"id": earlier.id}, TODAY)],
            system="shop",
            table="payments",
            category="payment",
            basis="an earlier request",
            request_ref="EARLIER-REF",
            now=NOW,
        )
        db.session.commit()
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        payments = next(s for s in steps if s.table_name == "payments")
        stored = db.session.scalars(
            select(RetainedRecord.request_ref).where(
                RetainedRecord.table_name == "payments",
                RetainedRecord.row_key == json.dumps([earlier.id]),
            )
        ).all()
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fulfilment.erasure")
        ).one()
    assert stored == ["EARLIER-REF"]  # kept once, where it was kept first
    assert payments.state == "done" and payments.retained == len(still_kept) - 1
    tables = {t["table"]: t for t in json.loads(event.data)["tables"]}
    assert tables["payments"]["kept_separately"] == len(still_kept) - 1


def test_a_second_run_changes_nothing_and_the_finish_notice_names_what_was_kept(mapped_app, shop):
    reference = _deletion_request(mapped_app)
    with mapped_app.app_context():
        first = [
            (s.table_name, s.deleted, s.anonymised, s.retained)
            for s in erasure.run(_load(reference), actor="staff:test", now=NOW)
            if s.kind == "sql"
        ]
        kept_before = db.session.scalar(select(db.func.count()).select_from(RetainedRecord))
        second = [
            (s.table_name, s.deleted, s.anonymised, s.retained)
            for s in erasure.run(_load(reference), actor="staff:test", now=NOW)
            if s.kind == "sql"
        ]
        assert second == first
        assert db.session.scalar(select(db.func.count()).select_from(RetainedRecord)) == kept_before
        # The webhook and manual systems are not done: finishing is refused, naming them.
        with pytest.raises(FulfilmentError, match="not finished: app, paper"):
            erasure.outcome(_load(reference))
        for step in erasure.steps_of(_load(reference)):
            if step.kind != "sql":  # as if the app answered and staff ticked the paper files
                step.state = "done"
        db.session.commit()
        result = erasure.outcome(_load(reference))
        payments = next(s for s in erasure.steps_of(_load(reference)) if s.table_name == "payments")
        only_deleted = payments.deleted - payments.retained
    # In the subject's words, never system.table; what was kept is not also called deleted.
    assert "shop." not in result.kept + result.done
    assert "결제 기록" in result.kept and "전자상거래법" in result.kept
    assert "접속 기록" in result.done and "삭제" in result.done
    assert ("결제 기록:" in result.done) == (only_deleted > 0)


@pytest.fixture
def no_remote_map(tmp_path, mapped_app):
    """The demo map without its webhook and manual systems, so a run can finish on its own."""
    text = DEMO_MAP.read_text(encoding="utf-8")
    text = text[: text.index("# --- the mobile app")] + text[text.index("# --- third parties") :]
    path = tmp_path / "shop-only.toml"
    path.write_text(text, encoding="utf-8")
    mapped_app.config["DATAMAP_FILE"] = str(path)
    return mapped_app


def test_staff_preview_run_and_finish_from_the_console(no_remote_map, shop, smtp):
    app = no_remote_map
    reference = _deletion_request(app)
    client = sign_in(app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="do-erase-preview"' in page and 'id="erasure-steps"' not in page
    preview = act(client, reference, "erase-preview").get_data(as_text=True)
    assert 'id="erasure-preview"' in preview and "§6①3" in preview
    assert act(client, reference, "erase").status_code == 302
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="erasure-steps"' in page and "step-failed" not in page
    # The finish shows the exact notice first, then sends it.
    shown = act(client, reference, "erase-finish").get_data(as_text=True)
    assert "전자상거래법" in shown and 'id="preview"' in shown
    assert act(client, reference, "erase-finish", step="send").status_code == 302
    with app.app_context():
        found = _load(reference)
        assert found.status is Status.PARTIALLY_COMPLETED
        assert found.refusal_ground == "retention_required_by_law"
        message = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.request_ref == reference)
            .order_by(OutboxMessage.id.desc())
        ).first()
        token = status_token(found)
    body = message.body_text
    assert "결제 기록" in body and "전자상거래법" in body and "주문 기록" in body
    assert "shop." not in body
    # The subject's status page shows the same account.
    page = app.test_client().get(f"/requests/status/{token}").get_data(as_text=True)
    assert 'id="outcome-done"' in page and 'id="outcome-refused"' in page
    assert "결제 기록" in page and "§6①3" in page


def test_a_database_that_is_down_fails_the_step_and_a_rerun_resumes(
    no_remote_map, shop, monkeypatch, tmp_path
):
    app = no_remote_map
    reference = _deletion_request(app)
    user_id = _user_id(shop)
    expected = _expected(shop, user_id)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", f"sqlite:///{tmp_path}/missing/shop.db")
    with app.app_context():
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        assert steps[0].state == "failed" and "shop" in steps[0].error
        assert all(s.state == "pending" for s in steps[1:])
        assert _as_stored(steps) == _as_stored(erasure.steps_of(_load(reference)))
        with pytest.raises(FulfilmentError):
            erasure.outcome(_load(reference))
    assert _expected(shop, user_id) == expected  # nothing half done
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", shop)
    with app.app_context():
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        assert all(s.state == "done" for s in steps)
        assert steps[0].attempts == 2
        # What the run returns is what it wrote (it is not read back).
        assert _as_stored(steps) == _as_stored(erasure.steps_of(_load(reference)))
    assert _expected(shop, user_id)["payments"] == []


def _as_stored(steps) -> list[tuple]:
    fields = ("system", "table_name", "kind", "state", "error", "attempts", "deleted",
              "anonymised", "retained", "retention", "basis", "basis_kind")
    return [tuple(getattr(s, f) for f in fields) for s in steps]


@pytest.mark.parametrize("killed", ["before the operator's transaction", "after it"])
def test_a_run_killed_between_its_commits_resumes_with_the_right_counts(
    no_remote_map, shop, killed
):
    """A run died after recording what it keeps and the counts (its first commit), before or
    after the operator's transaction committed, and before it marked the steps done: the rerun
    (once the dead run's lease ran out) keeps nothing twice, finds erased rows gone, and keeps
    the counts recorded before erasing."""
    from rightsdesk.models import JobLock
    from rightsdesk.systems.configured import configured_datamap, system_engine
    from rightsdesk.systems.erasure import collect_all, erase_tables

    app = no_remote_map
    reference = _deletion_request(app)
    expected = _expected(shop, _user_id(shop))
    with app.app_context():
        request = _load(reference)
        datamap = configured_datamap()
        system = datamap.system("shop")
        dead = erasure._Run(request.id, reference, "staff:dead", NOW)
        assert leases.take(dead.lease, dead.holder, now=NOW, ttl=erasure.LEASE_TTL)
        planned = erasure._PLANNED.all({"r": request.id})
        steps, new = erasure._plan_steps(request.id, planned, datamap, DEFAULT_SCHEDULE)
        dead.unstored = steps if new else None  # stored with the first record, as run() does
        with system_engine(system) as engine:
            collected = collect_all(system, engine, {"email": SUBJECT})
            plans = erasure._plans(collected, steps, DEFAULT_SCHEDULE, TODAY)
            erasure._before(dead, system, steps, plans)
            if killed == "after it":
                tables = {t.name: t for t in system.tables}
                erase_tables(engine, collected, [tables[s.table_name] for s in steps])
        db.session.rollback()  # ...killed here; its lease runs out:
        db.session.execute(
            db.update(JobLock).values(lease_until=NOW - timedelta(seconds=1))
        )
        db.session.commit()
        kept_before = db.session.scalar(select(db.func.count()).select_from(RetainedRecord))
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        done = {s.table_name: s for s in steps}
        kept_after = db.session.scalar(select(db.func.count()).select_from(RetainedRecord))
    assert kept_after == kept_before > 0  # every kept row stored once, by the first attempt
    assert all(s.state == "done" and s.attempts == 2 for s in steps)
    for table in ("payments", "access_logs", "support_tickets"):
        assert done[table].deleted == len(expected[table])
    assert done["orders"].anonymised == len(expected["orders"])
    assert done["payments"].retained == len(_still_kept(expected["payments"], "payment"))
    assert not shop_rows(shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)


def test_two_runs_of_one_request_never_overlap(mapped_app, shop):
    reference = _deletion_request(mapped_app)
    with mapped_app.app_context():
        assert leases.acquire(
            f"erasure:{reference}", "other-worker", now=NOW, ttl=timedelta(minutes=15)
        )
        with pytest.raises(FulfilmentError, match="running already"):
            erasure.run(_load(reference), actor="staff:test", now=NOW)
        assert not erasure.steps_of(_load(reference))
        # Once the other holder's lease has run out, the run goes ahead.
        later = NOW + timedelta(minutes=16)
        steps = erasure.run(_load(reference), actor="staff:test", now=later)
        assert any(s.state == "done" for s in steps)


def test_erasure_is_only_for_open_deletion_requests(mapped_app, shop):
    reference = new_request(mapped_app, email=SUBJECT, name=None, days_ago=0)
    with mapped_app.app_context(), pytest.raises(FulfilmentError, match="deletion requests"):
        erasure.preview(_load(reference), now=NOW)


# --- keeps under the operator's own policy ------------------------------------------------------

POLICY_BASIS = "재가입 방지, 탈퇴 후 1년, 가입 시 동의"


@pytest.fixture
def policy_map(tmp_path, no_remote_map):
    """Only the access logs are kept, under the operator's own policy (no statute)."""
    path = Path(no_remote_map.config["DATAMAP_FILE"])
    text = path.read_text(encoding="utf-8")
    for code in ("contract", "payment", "complaint"):
        text = text.replace(f'retention = "{code}"', 'retention = "none"')
    path.write_text(text.replace('retention = "access_log"', 'retention = "abuse_watch"'))
    rules = tmp_path / "retention.toml"
    rules.write_text(
        '[rules.abuse_watch]\nperiod = "10 years"\nstart = "record_date"\nkind = "policy"\n'
        f'basis = "{POLICY_BASIS}"\n',
        encoding="utf-8",
    )
    no_remote_map.config["RETENTION_FILE"] = str(rules)
    return no_remote_map


def _last_notice(reference: str) -> OutboxMessage:
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.request_ref == reference)
        .order_by(OutboxMessage.id.desc())
    ).first()


def _policy_step(client, reference: str) -> tuple[int, str]:
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    found = re.search(r'class="policy-keep" data-step="(\d+)" data-decision="(\w*)"', page)
    assert found, "no decision asked for the policy keep"
    return int(found.group(1)), found.group(2)


def test_a_policy_keep_is_no_statutory_refusal_and_staff_keep_it_naming_the_basis(
    policy_map, shop, smtp
):
    app = policy_map
    reference = _deletion_request(app)
    client = sign_in(app, StaffRole.HANDLER)
    preview = act(client, reference, "erase-preview").get_data(as_text=True)
    row = preview.split("shop.access_logs")[1].split("</tr>")[0]
    assert 'data-kind="policy"' in row and POLICY_BASIS in row and "§36①" not in row
    assert act(client, reference, "erase").status_code == 302
    step_id, decision = _policy_step(client, reference)
    assert decision == ""
    # Undecided, the finish is refused.
    shown = act(client, reference, "erase-finish").get_data(as_text=True)
    assert 'id="preview"' not in shown
    with app.app_context():
        with pytest.raises(FulfilmentError, match=r"keep or delete: shop\.access_logs"):
            erasure.outcome(_load(reference))
        kept = db.session.scalar(select(db.func.count()).select_from(RetainedRecord))
    assert kept > 0
    # Keeping needs the basis relied on.
    act(client, reference, "erase-decide", step_id=step_id, decision="keep", basis=" ")
    assert _policy_step(client, reference)[1] == ""
    act(client, reference, "erase-decide", step_id=step_id, decision="keep", basis=POLICY_BASIS)
    assert _policy_step(client, reference)[1] == "keep"
    assert act(client, reference, "erase-finish", step="send").status_code == 302
    with app.app_context():
        found = _load(reference)
        assert found.status is Status.COMPLETED and found.refusal_ground is None
        body = _last_notice(reference).body_text
        token = status_token(found)
        assert db.session.scalar(select(db.func.count()).select_from(RetainedRecord)) == kept
    assert "§36①" not in body and "단서" not in body
    assert "법령에 따른 것이 아니라 당사의 내부 방침" in body
    assert f"접속 기록: {kept}건" in body and POLICY_BASIS in body
    assert "이의" in body  # how to object
    page = app.test_client().get(f"/requests/status/{token}").get_data(as_text=True)
    assert (
        "접속 기록" in page and POLICY_BASIS in page and 'id="outcome-refused"' not in page
    )
    # "in the ways our notice sets out": the status page says how, the notice's words apart
    assert "이의를 제기하시거나" in page and "아래 방법" not in page


def test_staff_delete_what_only_the_operators_policy_would_keep(policy_map, shop, smtp):
    app = policy_map
    reference = _deletion_request(app, language="en")
    client = sign_in(app, StaffRole.HANDLER)
    assert act(client, reference, "erase").status_code == 302
    step_id, _decision = _policy_step(client, reference)
    act(client, reference, "erase-decide", step_id=step_id, decision="delete")
    assert _policy_step(client, reference)[1] == "delete"
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(RetainedRecord)) == 0
        step = db.session.get(ErasureStep, step_id)
        assert (step.retained, step.decision, step.deleted > 0) == (0, "delete", True)
        decided = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fulfilment.erasure_decision")
        ).one()
        assert json.loads(decided.data)["decision"] == "delete"
    assert act(client, reference, "erase-finish", step="send").status_code == 302
    with app.app_context():
        found = _load(reference)
        assert found.status is Status.COMPLETED
        body = _last_notice(reference).body_text
    assert "Access logs" in body and "deleted" in body
    assert "own policy" not in body and "kept" not in body


def test_a_statute_kept_longer_by_reason_keeps_only_the_statute_s_period_on_deletion(
    no_remote_map, shop, smtp, tmp_path
):
    """Access logs kept a year (통신비밀보호법 asks three months, the operator gives a reason):
    a deletion request keeps only the logs still inside the statute's three months, under the
    statute; the older ones are erased — the extra time is no §36① 단서 ground."""
    app = no_remote_map
    rules = tmp_path / "retention.toml"
    rules.write_text(
        '[rules.access_log]\nperiod = "1 years"\nreason = "보안 사고 조사 대비"\n', encoding="utf-8"
    )
    app.config["RETENTION_FILE"] = str(rules)
    logs = shop_rows(
        shop,
        "SELECT l.at FROM access_logs l JOIN users u ON u.id = l.user_id WHERE u.email = :e",
        e=SUBJECT,
    )
    starts = [datetime.fromisoformat(str(at)).date() for (at,) in logs]
    inside = [s for s in starts if add_period(s, 3, Unit.MONTHS) >= TODAY]
    reference = _deletion_request(app)
    with app.app_context():
        steps = erasure.run(_load(reference), actor="staff:test", now=NOW)
        step = next(s for s in steps if s.table_name == "access_logs")
        # every log leaves the live table; only those inside the three months are kept apart
        assert (step.retained, step.deleted) == (len(inside), len(starts))
        assert len(inside) < len(starts)  # the demo subject has logs older than three months
        assert step.basis_kind == "statute" and "내부 방침" not in step.basis
        kept = db.session.scalars(
            select(RetainedRecord).where(RetainedRecord.table_name == "access_logs")
        ).all()
        assert sorted(r.purge_after for r in kept) == sorted(
            add_period(s, 3, Unit.MONTHS) for s in inside
        )
        assert not erasure.policy_keep(step)


CHILD = """
import sys
from datetime import UTC, datetime
from rightsdesk import create_app
from rightsdesk.extensions import db
from rightsdesk.fulfilment import erasure
from rightsdesk.models import Request
app = create_app({"TESTING": True})
with app.app_context():
    found = db.session.scalar(db.select(Request).where(Request.reference == sys.argv[1]))
    erasure.run(found, actor="staff:killed", now=datetime.now(UTC))
"""


def test_a_run_killed_with_sigkill_mid_transaction_is_resumed_keeping_each_row_once(
    no_remote_map, shop, database_url, tmp_path
):
    """A real process, killed (SIGKILL) while its transaction in the shop waits for a lock we
    hold, after it committed the separated copies: the shop is untouched, and the next run
    (once the dead run's lease ran out) erases everything, storing no kept row twice."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    app = no_remote_map
    reference = _deletion_request(app)
    expected = _expected(shop, _user_id(shop))
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": "test-secret",
        "RIGHTSDESK_DATAMAP_FILE": app.config["DATAMAP_FILE"],
        "RIGHTSDESK_SHOP_DATABASE_URL": shop,
        "RIGHTSDESK_UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    holder = sqlite3.connect(shop.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the shop's write lock: the run's erasing must wait
    child = subprocess.Popen([sys.executable, "-c", CHILD, reference], env=env)
    try:
        kept = 0
        deadline = time.monotonic() + 60
        while not kept and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with app.app_context():
                kept = db.session.scalar(
                    select(db.func.count()).select_from(RetainedRecord)
                    .where(RetainedRecord.request_ref == reference)
                )
                db.session.remove()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert child.returncode == -signal.SIGKILL and kept > 0
    assert _expected(shop, _user_id(shop)) == expected  # nothing erased: its transaction died
    later = datetime.now(UTC) + erasure.LEASE_TTL + timedelta(minutes=1)
    with app.app_context():
        steps = erasure.run(_load(reference), actor="staff:test", now=later)
        done = {s.table_name: s for s in steps}
        stored = db.session.scalar(
            select(db.func.count()).select_from(RetainedRecord)
            .where(RetainedRecord.request_ref == reference)
        )
    assert stored == kept  # each kept row stored once, by the killed run
    assert all(s.state == "done" and s.attempts == 2 for s in steps)
    for table in ("payments", "access_logs", "support_tickets"):
        assert done[table].deleted == len(expected[table])
    assert done["payments"].retained == len(_still_kept(expected["payments"], "payment"))
    assert not shop_rows(shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)


def test_a_plan_stored_twice_arrives_as_an_integrity_error_and_the_first_stands(
    no_remote_map, shop
):
    """The plan is written on the driver's cursor (core.direct), yet a second planner's
    duplicate arrives as SQLAlchemy's IntegrityError (which the run turns into "another run
    planned this erasure at once"), and the first plan stands."""
    from sqlalchemy.exc import IntegrityError

    from rightsdesk.systems.configured import configured_datamap

    reference = _deletion_request(no_remote_map)
    with no_remote_map.app_context():
        request = _load(reference)
        datamap = configured_datamap()
        run = erasure._Run(request.id, reference, "staff:test", NOW)
        planned, _new = erasure._plan_steps(request.id, [], datamap, DEFAULT_SCHEDULE)
        run.unstored = planned
        assert run.store_plan()
        db.session.commit()
        rows = [
            erasure._new_step(request.id, s.position, datamap.system(s.system),
                              datamap.system(s.system).table(s.table_name), DEFAULT_SCHEDULE)
            | {"started_at": None, "retained_until": None}
            for s in planned
        ]
        with pytest.raises(IntegrityError):
            erasure._INSERT_STEPS.many(rows)
        db.session.rollback()
    with no_remote_map.app_context():  # the first plan stands, alone
        assert len(erasure.steps_of(_load(reference))) == len(planned)
