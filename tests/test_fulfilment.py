"""Access on the operator's real data: the demo shop, its data map, the package the subject gets."""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.fulfilment.access import prepare_access_package
from rightsdesk.models import AuditEvent, Request, StaffRole
from rightsdesk.requests.downloads import fetch
from rightsdesk.systems.configured import FulfilmentError
from tests.helpers import DEMO_MAP, act, new_request, shop_rows, sign_in
from tests.helpers import DEMO_SUBJECT as SUBJECT


def _access_request(app, email: str = SUBJECT) -> str:
    return new_request(app, email=email, name=None, days_ago=0)


def test_the_package_holds_every_row_of_the_subject_and_no_one_elses(mapped_app, shop):
    reference = _access_request(mapped_app)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        download = prepare_access_package(found, actor="staff:test", now=datetime.now(UTC))
        _item, data = fetch(found, download.id, now=datetime.now(UTC))
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fulfilment.access")
        ).all()
    archive = zipfile.ZipFile(io.BytesIO(data))
    users = json.loads(archive.read("shop/users.json"))
    assert [u["email"] for u in users] == [SUBJECT]
    user_id = users[0]["id"]
    orders = json.loads(archive.read("shop/orders.json"))
    expected_orders = shop_rows(shop, "SELECT id FROM orders WHERE user_id = :u", u=user_id)
    assert sorted(o["id"] for o in orders) == sorted(r.id for r in expected_orders)
    assert orders and all(o["user_id"] == user_id for o in orders)
    payments = json.loads(archive.read("shop/payments.json"))
    assert {p["order_id"] for p in payments} <= {o["id"] for o in orders}
    assert len(payments) == len(
        shop_rows(
            shop,
            "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.user_id = :u",
            u=user_id,
        )
    )
    assert archive.read("shop/users.csv").decode("utf-8-sig").startswith("id,")
    summary = archive.read("summary.html").decode()
    assert reference in summary and "KG이니시스" in summary and "전자상거래법" in summary
    # The audit trail records what was read, never the data itself.
    assert len(events) == 1  # one execution record for the run, with counts per table
    tables = {t["table"]: t for t in json.loads(events[0].data)["tables"]}
    assert {"users", "orders", "payments"} <= set(tables)
    assert tables["orders"]["rows"] == len(orders) and tables["payments"]["rows"] == len(payments)
    assert all(SUBJECT not in e.data for e in events)


def test_staff_collect_from_the_console(mapped_app, shop):
    reference = _access_request(mapped_app)
    client = sign_in(mapped_app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="do-collect"' in page
    act(client, reference, "collect")
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        assert [d.filename for d in found.downloads] == [f"{reference}-personal-data.zip"]


def test_without_a_data_map_collecting_says_what_to_set(app):
    reference = _access_request(app)
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        with pytest.raises(FulfilmentError, match="RIGHTSDESK_DATAMAP_FILE"):
            prepare_access_package(found, actor="test", now=datetime.now(UTC))


def test_an_unconfigured_database_is_listed_not_ignored(mapped_app, monkeypatch):
    monkeypatch.delenv("RIGHTSDESK_SHOP_DATABASE_URL")
    reference = _access_request(mapped_app)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        download = prepare_access_package(found, actor="test", now=datetime.now(UTC))
        _item, data = fetch(found, download.id, now=datetime.now(UTC))
    summary = zipfile.ZipFile(io.BytesIO(data)).read("summary.html").decode()
    assert "RIGHTSDESK_SHOP_DATABASE_URL is not set" in summary


def _correction_request(app, item: str, value: str) -> str:
    return new_request(
        app,
        kind=RequestKind.CORRECTION,
        email=SUBJECT,
        name=None,
        days_ago=0,
        corrections=[(item, value)],
    )


def test_an_approved_correction_changes_the_shop_and_tells_the_recipients(mapped_app, shop, smtp):
    from rightsdesk.delivery.outbox import deliver_due

    reference = _correction_request(mapped_app, "전화번호", "010-9999-0000")
    before = shop_rows(shop, "SELECT phone FROM users WHERE email = :e", e=SUBJECT)
    others = shop_rows(shop, "SELECT id, phone FROM users WHERE email != :e", e=SUBJECT)
    client = sign_in(mapped_app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert '<option value="shop.users.phone">' in page
    with mapped_app.app_context():
        item_id = (
            db.session.scalar(select(Request).where(Request.reference == reference))
            .corrections[0]
            .id
        )
    act(
        client,
        reference,
        "correction",
        item=str(item_id),
        decision="approve",
        target="shop.users.phone",
    )
    after = shop_rows(shop, "SELECT phone FROM users WHERE email = :e", e=SUBJECT)
    assert before != after and after[0].phone == "010-9999-0000"
    assert shop_rows(shop, "SELECT id, phone FROM users WHERE email != :e", e=SUBJECT) == others
    with mapped_app.app_context():
        decided = db.session.scalar(
            select(Request).where(Request.reference == reference)
        ).corrections[0]
        assert (decided.decision, decided.rows_changed) == ("approved", 1)
        deliver_due(now=datetime.now(UTC), worker="t")
    told = [m for m in smtp.messages if m["To"] == "privacy@cj-logistics.example"]
    assert len(told) == 1  # the processor of "contact" data, and not the payment processor
    assert "010-9999-0000" in told[0].get_body(preferencelist=("plain",)).get_content()
    assert not [m for m in smtp.messages if m["To"] == "privacy@inicis.example"]


def test_a_rejection_needs_a_reason_and_an_approval_a_field(mapped_app, shop):
    from rightsdesk.fulfilment.correction import decide_correction

    reference = _correction_request(mapped_app, "이름", "박지운")
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item_id = found.corrections[0].id
        with pytest.raises(FulfilmentError, match="say why"):
            decide_correction(
                found,
                item_id,
                approve=False,
                target=None,
                note=" ",
                actor="t",
                now=datetime.now(UTC),
            )
        with pytest.raises(FulfilmentError, match="choose the field"):
            decide_correction(
                found,
                item_id,
                approve=True,
                target="shop.users.nope",
                note=None,
                actor="t",
                now=datetime.now(UTC),
            )
        decided = decide_correction(
            found,
            item_id,
            approve=False,
            target=None,
            note="가족관계증명서의 이름과 다릅니다",
            actor="t",
            now=datetime.now(UTC),
        )
        assert decided.decision == "rejected"
        with pytest.raises(FulfilmentError, match="decided already"):
            decide_correction(
                found,
                item_id,
                approve=True,
                target="shop.users.name",
                note=None,
                actor="t",
                now=datetime.now(UTC),
            )
    assert shop_rows(shop, "SELECT name FROM users WHERE email = :e", e=SUBJECT)[0].name != "박지운"


def test_an_access_package_is_offered_for_seven_days(mapped_app, shop):
    reference = _access_request(mapped_app)
    now = datetime.now(UTC)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        download = prepare_access_package(found, actor="t", now=now)
        assert (download.expires_at - now).days == 7


def test_stopping_marketing_deletes_only_the_subjects_marketing_consents(mapped_app, shop):
    def consents(where: str, **params) -> list:
        return shop_rows(
            shop,
            "SELECT c.channel FROM marketing_consents c JOIN users u ON u.id = c.user_id"
            f" WHERE {where}",
            **params,
        )

    others_before = consents("u.email != :e", e=SUBJECT)
    assert consents("u.email = :e", e=SUBJECT)  # the demo subject has consents to withdraw
    reference = new_request(
        mapped_app,
        kind=RequestKind.CONSENT_WITHDRAWAL,
        email=SUBJECT,
        name=None,
        days_ago=0,
        scope={"purposes": ["marketing"]},
    )
    client = sign_in(mapped_app, StaffRole.HANDLER)
    assert 'id="do-stop"' in client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    act(client, reference, "stop")
    assert consents("u.email = :e", e=SUBJECT) == []
    assert consents("u.email != :e", e=SUBJECT) == others_before
    assert shop_rows(shop, "SELECT id FROM users WHERE email = :e", e=SUBJECT)  # user kept
    with mapped_app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fulfilment.stop")
        ).one()
        data = json.loads(event.data)
    assert data["table"] == "marketing_consents" and data["rows"] >= 1
    assert data["purposes"] == ["marketing"]


def test_stopping_is_refused_for_other_kinds(mapped_app, shop):
    from rightsdesk.fulfilment.suspension import stop_processing

    reference = _access_request(mapped_app)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        with pytest.raises(FulfilmentError, match="suspension and consent withdrawal"):
            stop_processing(found, actor="t", now=datetime.now(UTC))


def test_a_system_that_is_down_fails_the_step_without_a_crash(mapped_app, monkeypatch, tmp_path):
    reference = _access_request(mapped_app)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", f"sqlite:///{tmp_path}/missing/shop.db")
    client = sign_in(mapped_app, StaffRole.HANDLER)
    response = act(client, reference, "collect")
    assert response.status_code == 302
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "shop에서 실패하여 아무것도 바뀌지 않았습니다" in page  # in the staff member's language
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        assert found.downloads == [] and found.status is Status.VERIFIED


def test_a_correction_into_a_table_without_a_primary_key_is_refused_not_a_crash(mapped_app, shop):
    """The shop's ``users`` rebuilt without a primary key: rightsdesk cannot update the
    subject's row by key, so staff get one line saying so, and nothing is decided or changed."""
    engine = create_engine(shop)
    with engine.begin() as connection:
        schema = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'users'")
        ).scalar_one()
        assert "PRIMARY KEY (id)," in schema
        connection.execute(text("PRAGMA foreign_keys = OFF"))
        connection.execute(
            text(schema.replace("users", "users_copy", 1).replace("PRIMARY KEY (id),", ""))
        )
        connection.execute(text("INSERT INTO users_copy SELECT * FROM users"))
        connection.execute(text("DROP TABLE users"))
        connection.execute(text("ALTER TABLE users_copy RENAME TO users"))
    engine.dispose()
    reference = _correction_request(mapped_app, "전화번호", "010-9999-0000")
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item_id = found.corrections[0].id
    client = sign_in(mapped_app, StaffRole.HANDLER)
    answer = act(
        client,
        reference,
        "correction",
        item=str(item_id),
        decision="approve",
        target="shop.users.phone",
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "users has no primary key: correct it by hand" in page
    assert shop_rows(shop, "SELECT phone FROM users WHERE email = :e", e=SUBJECT)[0].phone != (
        "010-9999-0000"
    )
    with mapped_app.app_context():
        item = db.session.scalar(select(Request).where(Request.reference == reference))
        assert (item.corrections[0].decision, item.corrections[0].target) == (None, None)


# --- the operator's schema is read once and re-read when it changes ------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_shop(request, shop, monkeypatch):
    """The demo shop on SQLite, or in a database of its own on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield shop
        return
    base = os.environ.get("RIGHTSDESK_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("a shop on PostgreSQL needs RIGHTSDESK_TEST_DATABASE_URL")
    from rightsdesk.demo.shop import create_demo_shop
    from rightsdesk.systems.connect import sql_url

    admin = create_engine(sql_url(base), isolation_level="AUTOCOMMIT")
    name = f"rd_test_shop_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sql_url(base).rsplit("/", 1)[0] + f"/{name}"
    try:
        create_demo_shop(url, users=30)
        monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
        yield url
    finally:
        from rightsdesk.systems.connect import dispose_shared

        dispose_shared()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _ddl(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def _package_users(reference: str) -> list[dict]:
    found = db.session.scalar(select(Request).where(Request.reference == reference))
    download = prepare_access_package(found, actor="staff:test", now=datetime.now(UTC))
    _item, data = fetch(found, download.id, now=datetime.now(UTC))
    return json.loads(zipfile.ZipFile(io.BytesIO(data)).read("shop/users.json"))


def test_a_schema_changed_between_two_requests_is_read_again_never_used_stale(
    mapped_app, any_shop
):
    from sqlalchemy import event

    from rightsdesk.fulfilment import erasure
    from rightsdesk.systems.connect import shared_engine, sql_url

    first, again, second, third = (_access_request(mapped_app) for _ in range(4))
    deletion = new_request(mapped_app, kind=RequestKind.DELETION, email=SUBJECT, name=None)
    statements: list[str] = []
    engine = shared_engine(sql_url(any_shop))
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with mapped_app.app_context():
        assert "nickname" not in _package_users(first)[0]
        statements.clear()
        assert "nickname" not in _package_users(again)[0]
        # The schema unchanged, it was not read again (columns: SQLite's table_xinfo pragma,
        # PostgreSQL's format_type in pg_attribute), only its fingerprint (which, like the
        # rows, is read on the driver's cursor, out of SQLAlchemy's sight).
        assert not [s for s in statements if "xinfo" in s or "format_type" in s]
        _ddl(any_shop, "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) DEFAULT 'jj'")
        assert _package_users(second)[0]["nickname"] == "jj"  # the new column, not the cached
        assert [s for s in statements if "xinfo" in s or "format_type" in s]  # read again
        _ddl(any_shop, "DROP TABLE marketing_consents")
        found = db.session.scalar(select(Request).where(Request.reference == third))
        with pytest.raises(FulfilmentError, match="marketing_consents"):
            prepare_access_package(found, actor="staff:test", now=datetime.now(UTC))
        found = db.session.scalar(select(Request).where(Request.reference == deletion))
        steps = [s for s in erasure.run(found, actor="staff:test", now=datetime.now(UTC))
                 if s.kind == "sql"]
    # The erasure met the missing table before touching anything: failed with the reason.
    assert steps[0].state == "failed" and "marketing_consents" in steps[0].error
    assert not [s for s in steps if s.state == "done"]
    assert shop_rows(any_shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)


def test_the_package_json_is_exactly_what_json_dumps_writes_indented():
    from rightsdesk.domain.datamap import load_datamap
    from rightsdesk.systems.collect import Collection, TableRows, build_package
    from tests.helpers import DEMO_MAP

    datamap = load_datamap(DEMO_MAP.read_text(encoding="utf-8"), "demo")
    users = next(t for s in datamap.systems if s.name == "shop" for t in s.tables)
    tricky = [
        {"id": 1, "name": '김 "quoted" \\ back', "n": None, "f": 1.5, "at": None},
        {"id": 2, "name": "line\nbreak\t\u2028", "n": True, "f": 2, "at": datetime(2025, 1, 2)},
    ]
    nested = [{"id": 3, "prefs": {"a": [1, 2]}}]  # a JSON column
    for rows in (tricky, nested, []):
        collection = Collection(tables=[TableRows("shop", users, rows)])
        data = build_package(
            collection, datamap, reference="RD-1", organisation="", generated=datetime.now(UTC)
        )
        written = zipfile.ZipFile(io.BytesIO(data)).read(f"shop/{users.name}.json").decode()
        plain = [
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()}
            for r in rows
        ]
        assert written == json.dumps(plain, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("any_shop", ["postgresql"], indirect=True)
def test_a_connection_lost_inside_the_erasure_transaction_fails_its_steps_and_a_retry_finishes(
    mapped_app, any_shop
):
    """The erasure's statements run on the driver's cursor (systems.statements): a connection
    the server terminates while the shop transaction waits on a row lock still arrives as
    "failed, nothing was changed" (not a crash), the shop keeps every row, the lost connection
    is not handed out again, and the next run finishes."""
    import threading
    import time

    from rightsdesk.fulfilment import erasure

    reference = new_request(mapped_app, kind=RequestKind.DELETION, email=SUBJECT, name=None)
    holding = create_engine(any_shop)
    holder = holding.connect()
    holder.execute(text("SELECT 1 FROM users WHERE email = :e FOR UPDATE"), {"e": SUBJECT})
    killed: list[int] = []

    def terminate_the_waiting_backend() -> None:
        admin = create_engine(any_shop, isolation_level="AUTOCOMMIT")  # a fresh view each time
        with admin.connect() as connection:
            deadline = time.monotonic() + 30
            while not killed and time.monotonic() < deadline:
                pids = connection.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE users%'"
                    )
                ).scalars().all()
                for pid in pids:
                    connection.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid})
                    killed.append(pid)
                time.sleep(0.05)
        admin.dispose()

    killer = threading.Thread(target=terminate_the_waiting_backend)
    killer.start()
    try:
        with mapped_app.app_context():
            found = db.session.scalar(select(Request).where(Request.reference == reference))
            steps = erasure.run(found, actor="staff:test", now=datetime.now(UTC))
    finally:
        killer.join(timeout=60)
        holder.rollback()
        holder.close()
        holding.dispose()
    assert killed
    sql_steps = [s for s in steps if s.kind == "sql"]
    assert sql_steps and all(s.state == "failed" for s in sql_steps)
    assert all("shop failed, nothing was changed" in s.error for s in sql_steps)
    assert shop_rows(any_shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        again = erasure.run(found, actor="staff:test", now=datetime.now(UTC))
    assert all(s.state == "done" for s in again if s.kind == "sql")
    assert not shop_rows(any_shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)


@pytest.mark.parametrize("any_shop", ["sqlite", "postgresql"], indirect=True)
def test_every_kind_of_schema_change_is_seen_by_the_next_read(mapped_app, any_shop):
    """The cached description of the mapped tables is replaced after each kind of DDL that
    changes what erasure and access rely on: columns added, renamed, dropped, retyped, made
    NOT NULL, and the primary key dropped and made again."""
    from rightsdesk.domain.datamap import load_datamap
    from rightsdesk.systems.collect import collect_rows
    from rightsdesk.systems.connect import shared_engine, sql_url

    datamap = load_datamap(DEMO_MAP.read_text(encoding="utf-8"), "demo")
    system = next(s for s in datamap.systems if s.name == "shop")
    engine = shared_engine(sql_url(any_shop))

    def users():
        _found, described = collect_rows(system, engine, {"email": SUBJECT})
        table = described["users"]
        return (
            {c.name: (str(c.type).split("(")[0], c.nullable) for c in table.columns},
            [c.name for c in table.primary_key.columns],
        )

    columns, keys = users()
    assert "nickname" not in columns and keys == ["id"]
    _ddl(any_shop, "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)")
    assert "nickname" in users()[0]
    _ddl(any_shop, "ALTER TABLE users RENAME COLUMN nickname TO handle")
    assert "handle" in users()[0] and "nickname" not in users()[0]
    if any_shop.startswith("postgresql"):  # SQLite has no ALTER COLUMN
        _ddl(any_shop, "ALTER TABLE users ALTER COLUMN handle TYPE TEXT")
        assert users()[0]["handle"][0] == "TEXT"
        _ddl(any_shop, "UPDATE users SET handle = 'x'")
        _ddl(any_shop, "ALTER TABLE users ALTER COLUMN handle SET NOT NULL")
        assert users()[0]["handle"][1] is False
        _ddl(any_shop, "ALTER TABLE users DROP CONSTRAINT users_pkey CASCADE")
        assert users()[1] == []
        _ddl(any_shop, "ALTER TABLE users ADD PRIMARY KEY (id)")
        assert users()[1] == ["id"]
    _ddl(any_shop, "ALTER TABLE users DROP COLUMN handle")
    assert "handle" not in users()[0]


@pytest.mark.parametrize("any_shop", ["sqlite", "postgresql"], indirect=True)
def test_a_statement_refused_midway_through_the_erasure_leaves_the_shop_as_it_was(
    mapped_app, any_shop
):
    """The shop's statements are one transaction: on PostgreSQL one pipeline in autocommit
    (one implicit transaction), elsewhere BEGIN … COMMIT. The last of them (the users row's
    anonymisation) refused by a trigger undoes the deletions before it; the steps fail with
    the database's reason, and a run after the trigger is gone erases everything."""
    from rightsdesk.fulfilment import erasure

    payments = "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id" \
        " JOIN users u ON u.id = o.user_id WHERE u.email = :e"
    before = shop_rows(any_shop, payments, e=SUBJECT)
    assert before  # the subject has payments, deleted before the users row is touched
    if any_shop.startswith("postgresql"):
        _ddl(any_shop, "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                       " RAISE EXCEPTION 'users are frozen'; END $$ LANGUAGE plpgsql")
        _ddl(any_shop, "CREATE TRIGGER frozen BEFORE UPDATE ON users"
                       " FOR EACH ROW EXECUTE FUNCTION refuse()")
    else:
        _ddl(any_shop, "CREATE TRIGGER frozen BEFORE UPDATE ON users"
                       " BEGIN SELECT RAISE(ABORT, 'users are frozen'); END")
    reference = new_request(mapped_app, kind=RequestKind.DELETION, email=SUBJECT, name=None)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        steps = [s for s in erasure.run(found, actor="staff:test", now=datetime.now(UTC))
                 if s.kind == "sql"]
    assert steps and all(s.state == "failed" for s in steps)
    assert all("users are frozen" in s.error for s in steps)
    assert shop_rows(any_shop, payments, e=SUBJECT) == before  # the deletions undone
    assert shop_rows(any_shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)
    _ddl(any_shop, "DROP TRIGGER frozen" + (" ON users" if "postgresql" in any_shop else ""))
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        again = erasure.run(found, actor="staff:test", now=datetime.now(UTC))
    assert all(s.state == "done" for s in again if s.kind == "sql")
    assert not shop_rows(any_shop, payments, e=SUBJECT)
    assert not shop_rows(any_shop, "SELECT 1 FROM users WHERE email = :e", e=SUBJECT)
