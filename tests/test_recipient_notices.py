"""Correction notices a recipient can act on (whose record, old and new value, reply-by), and a
correction that finds no row is not called corrected."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from werkzeug.serving import make_server

from rightsdesk.core.actors import Actor
from rightsdesk.delivery import recipient_notices
from rightsdesk.delivery.outbox import deliver_due
from rightsdesk.domain.kinds import RequestKind
from rightsdesk.extensions import db
from rightsdesk.fulfilment import erasure
from rightsdesk.fulfilment.correction import decide_correction
from rightsdesk.models import OutboxMessage, Request, StaffRole
from rightsdesk.requests.tokens import status_token
from tests.helpers import (
    DEMO_MAP,
    SEOUL,
    act,
    free_port,
    make_app,
    new_request,
    shop_rows,
    sign_in,
)
from tests.helpers import DEMO_SUBJECT as SUBJECT


def _correction(app, item: str = "전화번호", value: str = "010-9999-0000") -> str:
    return new_request(
        app,
        kind=RequestKind.CORRECTION,
        email=SUBJECT,
        name=None,
        days_ago=0,
        corrections=[(item, value)],
    )


def _item_id(app, reference: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        return found.corrections[0].id


def test_the_recipients_notice_names_the_record_the_old_and_the_new_value(
    mapped_app, shop, smtp
):
    user = shop_rows(shop, "SELECT id, phone FROM users WHERE email = :e", e=SUBJECT)[0]
    orders = shop_rows(shop, "SELECT id FROM orders WHERE user_id = :u ORDER BY id", u=user.id)
    assert orders and user.phone
    reference = _correction(mapped_app)
    client = sign_in(mapped_app, StaffRole.HANDLER)
    act(
        client,
        reference,
        "correction",
        item=str(_item_id(mapped_app, reference)),
        decision="approve",
        target="shop.users.phone",
    )
    with mapped_app.app_context():
        deliver_due(now=datetime.now(UTC), worker="t")
    told = [m for m in smtp.messages if m["To"] == "privacy@cj-logistics.example"]
    assert len(told) == 1
    body = told[0].get_body(preferencelist=("plain",)).get_content()
    order_ids = ", ".join(str(o.id) for o in orders)
    reply_by = (datetime.now(UTC).astimezone(SEOUL).date() + timedelta(days=10)).isoformat()
    for expected in (
        f"주문번호: {order_ids}",
        "users.phone",
        user.phone,
        "010-9999-0000",
        reference,
        reply_by,
    ):
        assert expected in body, expected
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "privacy@cj-logistics.example" in page and "sent" in page  # delivery per recipient


def test_a_correction_after_the_subject_was_erased_is_not_called_corrected(
    mapped_app, shop, smtp
):
    deletion = new_request(
        mapped_app, kind=RequestKind.DELETION, email=SUBJECT, name=None, days_ago=0
    )
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == deletion))
        erasure.run(found, actor=Actor("staff:test"), now=datetime.now(UTC))
    reference = _correction(mapped_app)
    item_id = _item_id(mapped_app, reference)
    with mapped_app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        item = decide_correction(
            found,
            item_id,
            approve=True,
            target="shop.users.phone",
            note=None,
            actor=Actor("staff:test"),
            now=datetime.now(UTC),
        )
        assert (item.decision, item.rows_changed) == ("not_found", 0)
        assert deletion in item.decision_note and "삭제" in item.decision_note
        mails = db.session.scalars(select(OutboxMessage.recipient)).all()
        assert "privacy@cj-logistics.example" not in mails
        token = status_token(found)
    status = mapped_app.test_client().get(f"/requests/status/{token}").get_data(as_text=True)
    assert "정정하지 않음" in status or "Not corrected" in status
    assert "정정 완료" not in status
    page = sign_in(mapped_app, StaffRole.AUDITOR).get(f"/admin/requests/{reference}")
    assert f'id="not-found-{item_id}"' in page.get_data(as_text=True)


def test_datamap_check_reports_a_recipient_without_identifiers_by_its_line(runner, tmp_path):
    text = DEMO_MAP.read_text(encoding="utf-8")
    text = text.replace('identifiers = { "주문번호" = "shop.orders.id" }\n', "", 1)
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index('name = "CJ대한통운"')  # the [[recipients]] line above it
    result = runner.invoke(args=["datamap", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:{line}: warning: recipient 'CJ대한통운' names no identifiers" in result.stderr
    wrong = text.replace('"결제번호" = "shop.payments.id"', '"결제번호" = "shop.nope.id"')
    path.write_text(wrong, encoding="utf-8")
    bad_line = wrong.splitlines().index(
        'identifiers = { "주문번호" = "shop.orders.id", "결제번호" = "shop.nope.id" }'
    )
    result = runner.invoke(args=["datamap", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{bad_line + 1}: recipient 'KG이니시스': identifier '결제번호'" in result.output


class Receiver:
    """A recipient's endpoint on loopback: checks the signature, keeps what it was sent."""

    def __init__(self, secret: str, status: int = 200) -> None:
        self.secret, self.status, self.received = secret, status, []

    def __call__(self, environ, start_response):
        from rightsdesk.systems.webhook import verify_signature

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        header = environ.get("HTTP_X_RIGHTSDESK_SIGNATURE", "")
        signed = verify_signature(self.secret, header, body, now=datetime.now(UTC).timestamp())
        self.received.append((signed, json.loads(body)))
        start_response(f"{self.status} X", [("Content-Type", "text/plain")])
        return [b"ok"]


def test_a_webhook_recipient_gets_a_signed_notice_and_staff_see_its_delivery(
    database_url, smtp_port, tmp_path, shop, monkeypatch
):
    receiver = Receiver("recipient-secret", status=503)
    port = free_port()
    server = make_server("127.0.0.1", port, receiver, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    text = DEMO_MAP.read_text(encoding="utf-8").replace(
        'contact = "privacy@cj-logistics.example"\n',
        'contact = "privacy@cj-logistics.example"\nchannel = "webhook"\n'
        f'url = "http://127.0.0.1:{port}/corrections"\nsecret_env = "CJ_SECRET"\n',
    )
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("CJ_SECRET", "recipient-secret")
    app = make_app(
        database_url,
        DATAMAP_FILE=str(path),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    try:
        user = shop_rows(shop, "SELECT id, phone FROM users WHERE email = :e", e=SUBJECT)[0]
        orders = shop_rows(shop, "SELECT id FROM orders WHERE user_id = :u ORDER BY id", u=user.id)
        reference = _correction(app)
        client = sign_in(app, StaffRole.HANDLER)
        act(
            client,
            reference,
            "correction",
            item=str(_item_id(app, reference)),
            decision="approve",
            target="shop.users.phone",
        )
        with app.app_context():
            first = recipient_notices.deliver_due(now=datetime.now(UTC), worker="t")
            assert (first.sent, first.retrying) == (0, 1)  # the endpoint answered 503
            receiver.status = 200
            later = datetime.now(UTC) + timedelta(minutes=2)
            assert recipient_notices.deliver_due(now=later, worker="t").sent == 1
            mails = db.session.scalars(select(OutboxMessage.recipient)).all()
        assert "privacy@cj-logistics.example" not in mails  # its channel is the webhook
        signed, body = receiver.received[-1]
        assert signed and body["type"] == "correction" and body["reference"] == reference
        assert body["identifiers"] == {"주문번호": ", ".join(str(o.id) for o in orders)}
        assert (body["field"], body["old_value"], body["new_value"]) == (
            "users.phone",
            user.phone,
            "010-9999-0000",
        )
        page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
        assert 'id="recipient-notices"' in page and "done" in page
    finally:
        server.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_webhook_recipient_without_url_or_secret_is_a_problem_on_its_line(runner, tmp_path):
    text = DEMO_MAP.read_text(encoding="utf-8").replace(
        'contact = "privacy@inicis.example"\n',
        'contact = "privacy@inicis.example"\nchannel = "webhook"\n',
    )
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index('channel = "webhook"') + 1
    result = runner.invoke(args=["datamap", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line}: recipient 'KG이니시스': a webhook channel needs url or url_env" in (
        result.output
    )
    assert f"{path}:{line}: recipient 'KG이니시스': a webhook channel needs secret_env" in (
        result.output
    )
    path.write_text(text.replace('channel = "webhook"', 'channel = "fax"'), encoding="utf-8")
    result = runner.invoke(args=["datamap", "check", str(path)])
    assert result.exit_code == 1 and "unknown channel 'fax'; accepted: email, webhook" in (
        result.output
    )
