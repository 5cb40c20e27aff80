"""Access on the operator's real data: the demo shop, its data map, the package the subject gets."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.fulfilment import demo_shop
from rightsdesk.models import AuditEvent, Channel, Request, StaffRole
from rightsdesk.services.downloads import fetch
from rightsdesk.services.fulfilment import FulfilmentError, prepare_access_package
from rightsdesk.services.requests import change_status, submit_request

from .conftest import make_app

DEMO_MAP = Path(demo_shop.__file__).with_name("demo_datamap.toml")
SUBJECT = "jihoon.park@example.com"


@pytest.fixture
def shop(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    demo_shop.create_demo_shop(url, users=30)
    monkeypatch.setenv("RIGHTSDESK_SHOP_DATABASE_URL", url)
    return url


@pytest.fixture
def mapped_app(database_url, smtp_port, tmp_path, shop):
    app = make_app(
        database_url,
        DATAMAP_FILE=str(DEMO_MAP),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _access_request(app, email: str = SUBJECT) -> str:
    with app.app_context():
        now = datetime.now(UTC)
        request = submit_request(
            kind=RequestKind.ACCESS,
            email=email,
            name=None,
            channel=Channel.WEB,
            now=now,
            actor="test",
        )
        change_status(request, Status.VERIFIED, actor="test", now=now)
        return request.reference


def _shop_rows(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(sql), params).all()
    engine.dispose()
    return rows


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
    expected_orders = _shop_rows(shop, "SELECT id FROM orders WHERE user_id = :u", u=user_id)
    assert sorted(o["id"] for o in orders) == sorted(r.id for r in expected_orders)
    assert orders and all(o["user_id"] == user_id for o in orders)
    payments = json.loads(archive.read("shop/payments.json"))
    assert {p["order_id"] for p in payments} <= {o["id"] for o in orders}
    assert len(payments) == len(
        _shop_rows(
            shop,
            "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.user_id = :u",
            u=user_id,
        )
    )
    assert archive.read("shop/users.csv").decode("utf-8-sig").startswith("id,")
    summary = archive.read("summary.html").decode()
    assert reference in summary and "KG이니시스" in summary and "전자상거래법" in summary
    # The audit trail records what was read, never the data itself.
    assert {json.loads(e.data)["table"] for e in events} >= {"users", "orders", "payments"}
    assert all(SUBJECT not in e.data for e in events)


def test_staff_collect_from_the_console(mapped_app, shop):
    from .test_admin import _act, sign_in

    reference = _access_request(mapped_app)
    client = sign_in(mapped_app, StaffRole.HANDLER)
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert 'id="do-collect"' in page
    _act(client, reference, "collect")
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
