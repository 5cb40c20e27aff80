"""The whole service as a user meets it: the web server and the mail sender as real processes,
a real SMTP server on loopback, every kind of request in Korean and English, and an SMTP outage
in the middle that must lose nothing."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsdesk.domain.kinds import SUBJECT_KINDS
from tests.helpers import PG_URL, SmtpServer, free_port, truncate_all

SCRIPT = str(Path(sys.executable).with_name("rightsdesk"))
MAIL = Path(__file__).parent / "fixtures" / "mail"


class Browser:
    """Just enough of a browser: cookies, form posts, redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode()

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    @staticmethod
    def csrf(page: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def service(tmp_path: Path, smtp_port: int) -> Iterator[dict]:
    port = free_port()
    database = PG_URL or f"sqlite:///{tmp_path / 'system.db'}"
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database,
        "RIGHTSDESK_SECRET_KEY": "system-test",
        "RIGHTSDESK_BASE_URL": f"http://127.0.0.1:{port}",
        "RIGHTSDESK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "RIGHTSDESK_SUBMIT_LIMIT": "100 per hour",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
    }
    if PG_URL:  # the shared test database: start from empty tables
        truncate_all(PG_URL)
    for step in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([SCRIPT, *step], env=env, check=True, capture_output=True, timeout=120)
    web = subprocess.Popen(
        [SCRIPT, "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sender = subprocess.Popen(
        [SCRIPT, "worker", "--interval", "0.2"],  # files the form's submissions, sends mail
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = Browser(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            browser.get("/healthz")
            break
        except OSError:
            time.sleep(0.2)
    yield {"browser": browser, "env": env}
    for process in (web, sender):
        process.terminate()
        process.wait(timeout=10)


def wait_for_mail(smtp: SmtpServer, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(smtp.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp.messages) >= count, f"{len(smtp.messages)} of {count} messages arrived"


def mail_to(smtp: SmtpServer, address: str, subject_part: str):
    for message in smtp.messages:
        if message["To"] == address and subject_part in message["Subject"]:
            return message
    raise AssertionError(f"no mail to {address} about {subject_part!r}")


def link(message, path: str, base: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(re.escape(base) + "(" + re.escape(path) + r"\S+)", body).group(1)


def requests_json(env: dict) -> list[dict]:
    done = subprocess.run(
        [SCRIPT, "requests", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def file_request(browser: Browser, kind: str, language: str, email: str) -> None:
    page = browser.get(f"/requests/new?kind={kind}&lang={language}")
    fields = [
        ("csrf_token", browser.csrf(page)),
        ("kind", kind),
        ("name", "테스트 사용자"),
        ("email", email),
        ("details", f"{kind} request in {language}"),
        ("scope", "all"),
    ]
    if kind == "correction":
        fields += [("corrections-0-item", "주소"), ("corrections-0-correct_value", "서울시")]
    status, _ = browser.post("/requests/new", fields)
    assert status == 200  # after the redirect to "check your e-mail"


def test_every_kind_in_both_languages_survives_an_smtp_outage(service, smtp):
    browser, env = service["browser"], service["env"]
    addresses = {}
    smtp_down_for = {"suspension", "consent_withdrawal", "automated_decision"}
    for language in ("ko", "en"):
        for kind in SUBJECT_KINDS:
            if kind.value in smtp_down_for and smtp._controller is not None:
                smtp.stop()  # the outage starts while people keep filing requests
            address = f"{kind.value}.{language}@example.com"
            addresses[(kind.value, language)] = address
            file_request(browser, kind.value, language, address)
    time.sleep(1.0)  # the sender meets the outage and backs off
    smtp.start()
    total = len(addresses)

    # The back-off (30 s at first) would make the test slow: an operator who has fixed the
    # outage retries at once instead of waiting.
    retried = subprocess.run(
        [SCRIPT, "mail", "send", "--retry-now"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert retried.returncode == 0, retried.stderr
    wait_for_mail(smtp, total)

    for (_kind, language), address in addresses.items():
        subject_part = "확인해 주세요" if language == "ko" else "Please confirm"
        verify = link(mail_to(smtp, address, subject_part), "/requests/verify/", browser.base)
        page = browser.get(verify)
        status, _ = browser.post(verify, [("csrf_token", browser.csrf(page))])
        assert status == 200

    wait_for_mail(smtp, 2 * total)
    by_email = {r["email"]: r for r in requests_json(env)}
    for (kind, language), address in addresses.items():
        stored = by_email[address]
        assert stored["status"] == "verified" and stored["kind"] == kind
        ack_subject = "접수되었습니다" if language == "ko" else "We have received"
        ack = mail_to(smtp, address, ack_subject)
        text = ack.get_body(preferencelist=("plain",)).get_content()
        assert stored["due"] in text and stored["reference"] in text
        status_page = browser.get(link(ack, "/requests/status/", browser.base))
        assert stored["reference"] in status_page and stored["due"] in status_page
    # Nobody got a message twice.
    sent = [(m["To"], m["Subject"]) for m in smtp.messages]
    assert len(sent) == len(set(sent)) == 2 * total


def test_an_emailed_euc_kr_request_is_verified_and_acknowledged(service, smtp):
    env, browser = service["env"], service["browser"]
    done = subprocess.run(
        [SCRIPT, "mail", "ingest", str(MAIL / "03_consent_euckr_8bit.eml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "\tcreated\t" in done.stdout
    wait_for_mail(smtp, 1)
    verify = link(smtp.messages[0], "/requests/verify/", browser.base)
    status, _ = browser.post(verify, [("csrf_token", browser.csrf(browser.get(verify)))])
    assert status == 200
    wait_for_mail(smtp, 2)
    [stored] = [r for r in requests_json(env) if r["email"] == "jihoon.park@example.net"]
    assert stored["kind"] == "consent_withdrawal" and stored["status"] == "verified"
    assert stored["due"] in smtp.messages[1].get_body(preferencelist=("plain",)).get_content()
