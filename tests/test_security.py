"""Security probes, as tests: what an attacker would try against the public pages and the console.

Probes already elsewhere (not repeated here): a tampered, expired and used verification link
(test_intake), forged and revoked status links (test_intake), the same answer for known and
unknown addresses on resend and on sign-in (test_intake, test_admin), a missing CSRF token on the
form (test_intake), subject text escaped on staff pages (test_admin), a name with line breaks in
the mail headers (test_intake), a proof path outside the upload folder (test_admin), sign-in
never redirecting off-site (test_admin), submit and resend limits (test_intake), the API's
limits and forged assertions (test_api, test_api_schema), and the role-by-route table over every
admin route (test_admin). This file adds the rest of the issue's list.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select, update

from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import (
    AuditEvent,
    IntakeSubmission,
    OutboxMessage,
    Question,
    Representative,
    RepresentativeRole,
    Request,
    StaffRole,
)
from rightsdesk.requests.tokens import STATUS_SALT, VERIFY_SALT, status_token
from tests.helpers import (
    PASSWORD,
    PDF,
    act,
    csrf,
    file_access_request,
    link_in,
    make_app,
    make_staff,
    new_request,
    organisation,
    send_mail,
    sign_in,
    take_in,
)


def _request(app, reference: str | None = None) -> Request:
    with app.app_context():
        query = select(Request)
        if reference:
            query = query.where(Request.reference == reference)
        found = db.session.scalars(query.order_by(Request.id)).first()
        db.session.expunge_all()
        return found


def _counts(app) -> tuple[int, ...]:
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (IntakeSubmission, Request, AuditEvent, OutboxMessage)
        )
        db.session.remove()
        return counts


# --- tokens: tampering, replay, expiry ---------------------------------------------------------


def test_verification_tokens_are_bound_to_their_key_salt_and_request(app, client, smtp):
    file_access_request(client, email="first@example.com")
    file_access_request(client, email="second@example.com")
    send_mail(app)
    first, second = (link_in(m, "/requests/verify/") for m in smtp.messages)
    token = first.rsplit("/", 1)[1]
    ours = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=VERIFY_SALT)
    payload = ours.loads(token)
    other_id = _request(app).id + 1
    assert payload["r"] != other_id
    forged = {
        "another key": URLSafeTimedSerializer("not-the-secret", salt=VERIFY_SALT).dumps(payload),
        "another salt": URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=STATUS_SALT).dumps(
            payload
        ),
        # Even with the key: a nonce works only for the request it was issued for.
        "another request": ours.dumps({"r": other_id, "n": payload["n"]}),
        "no nonce": ours.dumps({"r": payload["r"]}),
        "not a dict": ours.dumps([payload["r"], payload["n"]]),
        "unsigned": token.split(".")[0],
        "empty": "",
    }
    before = _counts(app)
    for name, bad in forged.items():
        page = client.get(f"/requests/verify/{bad}")
        confirm = client.post(f"/requests/verify/{bad}", data={"csrf_token": csrf(client, first)})
        assert page.status_code in (400, 404), name
        assert confirm.status_code in (400, 404), name
    with app.app_context():
        statuses = set(db.session.scalars(select(Request.status)))
    assert statuses == {Status.RECEIVED_UNVERIFIED}
    assert _counts(app) == before
    # A status link is no verification link, and the other way round.
    with app.app_context():
        status_link = status_token(db.session.scalars(select(Request)).first())
    assert client.post(
        f"/requests/verify/{status_link}", data={"csrf_token": csrf(client, first)}
    ).status_code in (400, 404)
    assert client.get(f"/requests/status/{token}").status_code == 404
    # And the real links still work, once each.
    for path in (first, second):
        assert client.post(path, data={"csrf_token": csrf(client, path)}).status_code == 302


def test_two_clicks_racing_on_one_link_confirm_once(app, smtp):
    client = app.test_client()
    file_access_request(client)
    send_mail(app)
    path = link_in(smtp.messages[0], "/requests/verify/")
    clients = [app.test_client() for _ in range(4)]
    tokens = [csrf(c, path) for c in clients]
    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def click(c, token: str) -> None:
        start.wait()
        codes.append(c.post(path, data={"csrf_token": token}).status_code)

    threads = [
        threading.Thread(target=click, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [302, 400, 400, 400]
    with app.app_context():
        verified = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.data.contains('"verified"'))
        )
        acks = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert verified == 1
    assert acks == 2  # the verification mail and one acknowledgement


def test_a_status_link_reaches_only_its_own_requests_files(app, client):
    organisation(app)
    ours, theirs = new_request(app, email="a@example.com"), new_request(app, email="b@example.com")
    staff = sign_in(app, StaffRole.HANDLER)
    zip_bytes = bytes.fromhex("504b0506") + b"\0" * 18
    path = f"/admin/requests/{theirs}"
    staff.post(
        f"{path}/actions/offer",
        content_type="multipart/form-data",
        data={"csrf_token": csrf(staff, path), "file": (BytesIO(zip_bytes), "b.zip")},
    )
    with app.app_context():
        their_request = db.session.scalar(select(Request).where(Request.reference == theirs))
        [download] = their_request.downloads
        their_token = status_token(their_request)
        our_token = status_token(
            db.session.scalar(select(Request).where(Request.reference == ours))
        )
    own = client.get(f"/requests/status/{their_token}/downloads/{download.id}")
    assert own.status_code == 200 and own.data == zip_bytes
    own.close()
    assert client.get(f"/requests/status/{our_token}/downloads/{download.id}").status_code == 404
    assert client.get(f"/requests/status/{our_token}/downloads/99999").status_code == 404


# --- the same answer whoever asks --------------------------------------------------------------


def test_the_form_answers_the_same_for_a_known_and_an_unknown_address(app):
    known_client, unknown_client = app.test_client(), app.test_client()
    file_access_request(known_client, email="known@example.com")
    known = file_access_request(known_client, email="known@example.com")
    unknown = file_access_request(unknown_client, email="never-seen@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.get_data() == unknown.get_data()
    sent_known = known_client.get(known.headers["Location"])
    sent_unknown = unknown_client.get(unknown.headers["Location"])
    assert sent_known.get_data() == sent_unknown.get_data()


# --- CSRF --------------------------------------------------------------------------------------

# POST routes that take no cookie and so need no CSRF token, with what guards them instead.
CSRF_EXEMPT = {
    "api.create_request": "a bearer API key",
    "inbound.email": "an HMAC signature over the body",
    "public.demo_app_webhook": "the demo's own receiver (demo mode only)",
}


def _post_paths(app, reference: str, status: str, verify: str) -> dict[str, str]:
    values = {
        "reference": reference,
        "token": status,
        "action": "note",
        "staff_id": "1",
        "question_id": "1",
        "item_id": "1",
        "job_id": "1",
        "download_id": "1",
    }
    paths = {}
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in CSRF_EXEMPT:
            continue
        arguments = {name: values.get(name, "1") for name in rule.arguments}
        if rule.endpoint == "public.confirm":
            arguments["token"] = verify
        if rule.endpoint == "admin.staff_action":
            arguments["action"] = "deactivate"
        path = rule.build(arguments, append_unknown=False)[1]
        paths[rule.endpoint] = path
    return paths


@pytest.mark.parametrize("variant", ["missing", "garbage", "another session's"])
def test_every_cookie_authenticated_post_refuses_a_missing_or_wrong_csrf_token(app, smtp, variant):
    organisation(app)
    subject = app.test_client()
    file_access_request(subject)
    send_mail(app)
    verify = link_in(smtp.messages[0], "/requests/verify/").rsplit("/", 1)[1]
    found = _request(app)
    with app.app_context():
        status = status_token(db.session.get(Request, found.id))
    admin = sign_in(app, StaffRole.ADMIN)
    other = app.test_client()
    tokens = {
        "missing": None,
        "garbage": "IjAwMDAi.aaaa.bbbb",
        "another session's": csrf(other, "/requests/new"),
    }
    token = tokens[variant]
    before = _counts(app)
    failures = []
    for endpoint, path in sorted(_post_paths(app, found.reference, status, verify).items()):
        client = admin if endpoint.startswith("admin.") else subject
        data = {"text": "memo", "email": "x@example.com", "kind": "access", "name": "n"}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(path, data=data)
        if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
            failures.append((endpoint, response.status_code))
    assert failures == []
    assert _counts(app) == before
    assert _request(app).status is Status.RECEIVED_UNVERIFIED
    assert admin.get("/admin/").status_code == 200  # still signed in: logout was refused too


def test_only_the_cookie_less_routes_are_exempt_from_csrf(app):
    """Every POST route not listed in CSRF_EXEMPT is checked above; the listed ones really take
    no session (they answer without a token, and not with a CSRF error)."""
    client = app.test_client()
    for endpoint in CSRF_EXEMPT:
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        response = client.post(rule.rule, data=b"{}", content_type="application/json")
        assert response.status_code != 400 or "CSRF" not in response.get_data(as_text=True)


# --- XSS ---------------------------------------------------------------------------------------

XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)><svg onload=alert(3)>'
ATTRIBUTE = 'Kim" onmouseover="alert(4)'  # a display name: no angle brackets in a sender
RAW = ("<script>alert(1)", "<img src=x", "<svg onload", 'onmouseover="alert(4)')


def _assert_escaped(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"{raw!r} unescaped on {where}"


def test_markup_in_every_free_text_field_is_escaped_for_staff_and_subject(app, smtp):
    from rightsdesk.requests.by_email import ingest

    organisation(app)
    subject = app.test_client()
    token = csrf(subject, "/requests/new")
    filed = subject.post(
        "/requests/new",
        content_type="multipart/form-data",
        data={
            "csrf_token": token,
            "kind": "correction",
            "name": XSS,
            "email": "xss@example.com",
            "details": XSS,
            "corrections-0-item": XSS,
            "corrections-0-current_value": XSS,
            "corrections-0-correct_value": XSS,
            "on_behalf": "y",
            "representative_role": "agent",
            "representative_name": XSS,
            "representative_email": "agent@example.com",
            "proof": (BytesIO(PDF), "proof.pdf"),
        },
    )
    assert filed.status_code == 302
    take_in(app)
    mail = EmailMessage()
    mail["From"] = Address(display_name=ATTRIBUTE, addr_spec="mailer@example.com")
    mail["To"] = "privacy@shop.example"
    mail["Subject"] = f"개인정보 삭제 요청 {XSS}"
    mail["Message-ID"] = "<xss-1@example.com>"
    mail.set_content(f"제 개인정보를 삭제해 주세요. {XSS}")
    with app.app_context():
        taken = ingest(mail.as_bytes(), now=datetime.now(UTC))
        assert taken.outcome == "created", taken
        emailed = taken.reference
        web = db.session.scalar(select(Request).where(Request.kind == K.CORRECTION))
        db.session.execute(update(Request).values(status=Status.VERIFIED))
        db.session.commit()
        from rightsdesk.requests.intake import answer_question, ask_subject

        question = ask_subject(web, XSS, actor="staff", now=datetime.now(UTC))
        answer_question(web, question.id, text=XSS, file=None, now=datetime.now(UTC))
        reference, item_id = web.reference, web.corrections[0].id
        subject_link = status_token(web)
    staff = sign_in(app, StaffRole.ADMIN)
    act(staff, reference, "note", text=XSS)
    act(staff, reference, "correction", item=str(item_id), decision="reject", note=XSS)
    previewed = act(staff, reference, "partial", ground="", done=XSS, explanation=XSS)
    _assert_escaped(previewed.get_data(as_text=True), "the notice preview")
    act(staff, reference, "complete", outcome=XSS, step="send")
    act(staff, emailed, "note", text=XSS)
    with app.app_context():
        notices = db.session.execute(select(OutboxMessage.id, OutboxMessage.request_ref)).all()
    pages = [
        "/admin/",
        f"/admin/?q={XSS}",
        f"/admin/requests/{reference}",
        f"/admin/requests/{emailed}",
        "/admin/audit",
        "/admin/reports",
        f"/admin/login?next={XSS}",
        *(f"/admin/requests/{ref}/notices/{n}" for n, ref in notices if ref),
    ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code in (200, 302), page
        _assert_escaped(response.get_data(as_text=True), page)
    detail = staff.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert detail.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6  # shown, as text
    for page in (
        f"/requests/status/{subject_link}",
        f"/requests/verify/{XSS}",
        f"/requests/new?kind={XSS}&lang={XSS}",
    ):
        _assert_escaped(subject.get(page).get_data(as_text=True), page)
    refused = subject.post(
        "/requests/new",
        data={"csrf_token": token, "kind": XSS, "name": XSS, "email": XSS, "details": XSS},
    )
    assert refused.status_code == 400
    _assert_escaped(refused.get_data(as_text=True), "the refused form")


# --- header injection --------------------------------------------------------------------------


def test_line_breaks_never_become_headers(app, client, smtp):
    from rightsdesk.requests.by_email import ingest

    token = csrf(client, "/requests/new")
    before = _counts(app)
    for address in ("kim@example.com\r\nBcc: evil@example.com", "kim@example.com\nX-A: 1"):
        refused = client.post(
            "/requests/new",
            data={"csrf_token": token, "kind": "access", "name": "김", "email": address},
        )
        assert refused.status_code == 400
    assert _counts(app) == before
    mail = EmailMessage()
    mail["From"] = "Kim <kim@example.com>"
    mail["To"] = "privacy@shop.example"
    mail["Subject"] = (
        "=?utf-8?q?=EC=97=B4=EB=9E=8C_=EC=9A=94=EC=B2=AD=0D=0ABcc=3A_evil=40example.com?="
    )
    mail["Message-ID"] = "<crlf-1@example.com>"
    mail.set_content("제 개인정보를 열람하고 싶습니다.")
    with app.app_context():
        reference = ingest(mail.as_bytes(), now=datetime.now(UTC)).reference
    assert reference
    send_mail(app)
    for envelope in smtp.envelopes:
        assert "evil@example.com" not in envelope.rcpt_tos
    for message in smtp.messages:
        assert message["Bcc"] is None
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])

    organisation(app)
    theirs = new_request(app, email="dl@example.com")
    staff = sign_in(app, StaffRole.HANDLER)
    path = f"/admin/requests/{theirs}"
    zip_bytes = bytes.fromhex("504b0506") + b"\0" * 18
    staff.post(
        f"{path}/actions/offer",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf(staff, path),
            "file": (BytesIO(zip_bytes), 'a"\r\nX-Injected: 1\r\n.zip'),
        },
    )
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == theirs))
        link = f"/requests/status/{status_token(found)}/downloads/{found.downloads[0].id}"
    got = client.get(link)
    assert got.status_code == 200
    assert "X-Injected" not in got.headers
    assert all("\r" not in v and "\n" not in v for _k, v in got.headers.items())
    got.close()
    response = client.get("/?lang=en%0d%0aSet-Cookie:%20pwned=1")
    assert response.status_code == 200 and "pwned" not in response.headers.get("Set-Cookie", "")


# --- path traversal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored_name",
    ["../../../../etc/passwd", "/etc/passwd", "..", ".", "", "sub/../../x.pdf", "outside.pdf"],
)
def test_stored_file_names_never_reach_outside_the_upload_folder(app, tmp_path, stored_name):
    upload_dir = Path(app.config["UPLOAD_DIR"])
    upload_dir.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4 not yours")
    # A link inside the folder to a file outside it is refused as well.
    os.symlink(secret, upload_dir / "outside.pdf")
    reference = new_request(app)
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.reference == reference))
        found.representative = Representative(
            role=RepresentativeRole.AGENT,
            name="대리인",
            email="agent@example.com",
            proof_file=stored_name,
            proof_content_type="application/pdf",
            proof_size=1,
        )
        question = Question(
            request=found,
            text="?",
            asked_at=datetime.now(UTC),
            asked_by="t",
            answered_at=datetime.now(UTC),
            answer_file=stored_name,
            answer_content_type="application/pdf",
        )
        db.session.add(question)
        db.session.commit()
        question_id = question.id
    staff = sign_in(app, StaffRole.HANDLER)
    for path in (
        f"/admin/requests/{reference}/proof",
        f"/admin/requests/{reference}/answers/{question_id}",
    ):
        response = staff.get(path)
        assert response.status_code == 404, (path, stored_name)
        assert b"not yours" not in response.data


# --- open redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "///evil.example/",
        "/\\/evil.example",
        "\\\\evil.example",
        "https:/evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/%5Cevil.example",
        " //evil.example",
        "\t//evil.example",
        "//evil.example@rightsdesk.test",
        "http://rightsdesk.test.evil.example/",
    ],
)
def test_no_redirect_ever_leaves_the_site(app, target):
    from urllib.parse import urlsplit

    email = make_staff(app, StaffRole.HANDLER)
    client = app.test_client()
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf(client, "/admin/login"),
            "email": email,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location.strip())
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


# --- session fixation and session end ----------------------------------------------------------


def test_a_session_planted_before_sign_in_is_not_the_signed_in_one(app):
    email = make_staff(app, StaffRole.HANDLER)
    victim = app.test_client()
    token = csrf(victim, "/admin/login")
    planted = victim.get_cookie("session").value  # what an attacker would have fixed
    signed_in = victim.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert victim.get_cookie("session").value != planted
    assert victim.get("/admin/").status_code == 200
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/admin/").status_code == 302  # still only the anonymous session
    # The pre-sign-in CSRF token does not carry over either.
    assert csrf(victim, "/admin/account/password") != token


def test_a_session_copied_before_sign_out_is_dead_after_it(app):
    client = sign_in(app, StaffRole.HANDLER)
    copied = client.get_cookie("session").value
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/")})
    assert client.get("/admin/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin/").status_code == 302


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def limited(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        SUBMIT_LIMIT="3 per hour",
        VERIFY_LIMIT="2 per hour",
        ATTEMPT_LIMIT="12 per hour",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_one_inbox_cannot_be_flooded_from_many_addresses(limited):
    codes = []
    for n in range(5):
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        codes.append(file_access_request(client, email="victim@example.com").status_code)
    assert codes == [302, 302, 302, 429, 429]
    other = limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.99"
    assert file_access_request(other, email="someone-else@example.com").status_code == 302
    with limited.app_context():
        assert db.session.scalar(select(func.count()).select_from(Request)) == 4


def test_verification_links_cannot_be_guessed_at_speed(limited):
    client = limited.test_client()
    codes = [client.get(f"/requests/verify/guess-{n}").status_code for n in range(4)]
    assert codes == [400, 400, 429, 429]


def test_sign_in_is_limited_per_address_even_across_accounts(app):
    """20 attempts a minute from one address, whichever accounts they name (each failure costs
    a password hash on purpose, so this takes a few seconds)."""
    client = app.test_client()
    token = csrf(client, "/admin/login")
    codes = [
        client.post(
            "/admin/login",
            data={"csrf_token": token, "email": f"u{n}@example.com", "password": "x" * 12},
        ).status_code
        for n in range(22)
    ]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]


# --- the API: scope by route -------------------------------------------------------------------


def test_api_routes_by_scope(app, client):
    from rightsdesk.requests.host_apps import create_key

    routes = {
        "requests:create": ("POST", "/api/v1/requests"),
        "requests:read": ("GET", "/api/v1/requests/RD-2026-000001"),
        "restrictions:read": ("GET", "/api/v1/restrictions?subject=" + "0" * 64),
    }
    failures = []
    for scope in routes:
        with app.app_context():
            key = create_key(
                name=f"only-{scope.replace(':', '-')}",
                scopes=[scope],
                webhook_url=None,
                actor="test",
                now=datetime.now(UTC),
            ).secret_key
        for needed, (method, path) in routes.items():
            response = client.open(
                path,
                method=method,
                headers={"Authorization": f"Bearer {key}"},
                json={"kind": "access", "email": "api@example.com"} if method == "POST" else None,
            )
            allowed = response.status_code != 403
            if allowed != (needed == scope):
                failures.append((scope, path, response.status_code))
    assert failures == []
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        assert client.get("/api/v1/requests/RD-2026-000001", headers=headers).status_code == 401


# --- limits that protect without locking people out ----------------------------------------
# Only accepted submissions count against SUBMIT_LIMIT, every attempt against a higher
# ATTEMPT_LIMIT; the 429 answer is a page in the site's layout and the person's language.


def test_a_person_who_mistypes_five_times_can_still_file(limited):
    client = limited.test_client()
    typos = [
        file_access_request(client, email="kim.minji@example").status_code for _ in range(5)
    ]
    assert typos == [400] * 5
    filed = [file_access_request(client, email=f"p{n}@example.com").status_code for n in range(4)]
    assert filed == [302, 302, 302, 429]  # three accepted, then the limit


def test_every_attempt_counts_against_the_higher_bound(limited):
    client = limited.test_client()
    codes = [file_access_request(client, email="nobody@").status_code for _ in range(13)]
    assert codes == [400] * 12 + [429]


def test_the_429_page_is_in_the_layout_and_the_language_with_retry_after(limited):
    client = limited.test_client()
    for n in range(3):
        assert file_access_request(client, email=f"p{n}@example.com").status_code == 302
    korean = file_access_request(client, email="p9@example.com")
    assert korean.status_code == 429
    wait = int(korean.headers["Retry-After"])
    assert 0 < wait <= 3601  # the window's end, rounded up to the second
    page = korean.get_data(as_text=True)
    assert "시도 횟수가 너무 많습니다" in page and 'class="brand"' in page
    assert f"{-(-wait // 60)}분 뒤에 다시 시도해 주세요" in page
    assert "Too Many Requests" not in page
    english = file_access_request(client, lang="en", email="p9@example.com")
    assert english.status_code == 429 and "Retry-After" in english.headers
    assert "Too many attempts" in english.get_data(as_text=True)


def test_the_api_keeps_answering_json_when_limited(limited):
    # The same handler serves /api/: JSON with the header, not the page.
    with limited.test_request_context("/api/v1/requests"):
        from werkzeug.exceptions import TooManyRequests

        from rightsdesk.app import too_many_requests

        response, status = too_many_requests(TooManyRequests())
    assert status == 429 and response.is_json
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0


def test_a_name_of_only_spaces_is_refused_and_the_rest_kept(limited):
    client = limited.test_client()
    response = file_access_request(client, name="   ", email="kim@example.com")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "이 항목을 입력해 주세요" in page
    assert 'value="kim@example.com"' in page  # what they typed is kept
