"""Fuzzing with hypothesis: the public request form, data-map files and the deadline engine.

The form gets random and hostile values in every field (control characters, NUL, huge strings,
bytes that are not UTF-8, hundreds of correction items, unknown kinds and choices): every answer
is a redirect to "sent" with exactly one request stored, or a 400-class page naming the problem
with nothing stored; never a 500. Data-map files are mutated line by line: loading either gives
a map whose problems name a line inside the file, or a DataMapError naming such a line; never
another exception. Deadlines: never before receipt plus the period, never on a day off, never
earlier for a later receipt.

Examples are kept few (each test well under ten seconds); the API and inbound MIME are fuzzed in
test_api_schema.py and test_inbound_parse.py.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from rightsdesk.demo import shop as demo_shop
from rightsdesk.domain.datamap import DataMapError, check_structure, load_datamap
from rightsdesk.domain.deadlines import compute_deadline
from rightsdesk.domain.holiday_calendar import HolidayCalendar
from rightsdesk.domain.kinds import SUBJECT_KINDS
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import Unit, builtin_profiles
from rightsdesk.extensions import db
from rightsdesk.models import CorrectionItem, IntakeSubmission, OutboxMessage, Request
from rightsdesk.requests.intake import process_submissions
from tests.helpers import make_app

FIXTURES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the public form ---------------------------------------------------------------------------

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\nBcc: evil@example.com",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202eevil\u202c",
    "\ufeff",
    "🙂" * 3,
    "김민지",
    "x" * 5001,
    "%00",
    "../../etc/passwd",
    "{{ 7*7 }}",
]
text_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F, exclude_characters=""), max_size=10),
    st.builds(lambda part, n: part * n, st.text(min_size=1, max_size=4), st.integers(0, 3000)),
)
emails = st.one_of(
    st.sampled_from(["kim@example.com", "lee.minji+tag@example.co.kr", "김@예시.한국"]),
    st.builds(lambda local: f"{local}@example.com", st.text(min_size=1, max_size=70)),
    text_values,
)
kinds = st.one_of(st.sampled_from([k.value for k in SUBJECT_KINDS]), text_values)


def mostly(draw, good: st.SearchStrategy, bad: st.SearchStrategy):
    """A good value three times in four, so that hostile values also meet a form that is
    otherwise valid (and get stored)."""
    return draw(bad) if draw(st.integers(0, 3)) == 0 else draw(good)


GOOD_EMAILS = st.sampled_from(["kim@example.com", "lee.minji+tag@example.co.kr", "a@b.kr"])


@st.composite
def form_fields(draw) -> list[tuple[str, str]]:
    kind = mostly(draw, st.sampled_from([k.value for k in SUBJECT_KINDS]), kinds)
    fields = [
        ("kind", kind),
        ("name", mostly(draw, st.text(max_size=60).filter(str.strip), text_values)),
        ("email", mostly(draw, GOOD_EMAILS, emails)),
    ]
    if draw(st.booleans()):
        fields.append(("details", mostly(draw, st.text(max_size=300), text_values)))
    if kind == "correction" or draw(st.integers(0, 3)) == 0:
        indices = draw(
            st.lists(st.one_of(st.integers(0, 25), st.integers(0, 10**12)), min_size=1, max_size=30)
        )
        for index in indices:
            for part in ("item", "current_value", "correct_value"):
                if draw(st.integers(0, 4)):
                    value = mostly(draw, st.text(min_size=1, max_size=40), text_values)
                    fields.append((f"corrections-{index}-{part}", value))
    if draw(st.booleans()):
        fields.append(("scope", mostly(draw, st.sampled_from(["all", "purposes"]), text_values)))
    for _ in range(draw(st.integers(0, 3))):
        purpose = mostly(draw, st.sampled_from(["marketing", "analytics"]), text_values)
        fields.append(("purposes", purpose))
    if draw(st.integers(0, 4)) == 0:
        fields.append(("on_behalf", draw(st.sampled_from(["y", "1", "", "off"]))))
        fields.append(
            (
                "representative_role",
                mostly(draw, st.sampled_from(["legal_guardian", "agent"]), text_values),
            )
        )
        fields.append(("representative_name", draw(text_values)))
        fields.append(("representative_email", mostly(draw, GOOD_EMAILS, emails)))
    if draw(st.integers(0, 9)) == 0:
        fields.append(("add_item", "1"))
    return draw(st.permutations(fields))


@pytest.fixture
def form_app(database_url, smtp_port, tmp_path):
    app = make_app(
        database_url,
        SUBMIT_LIMIT="100000 per hour",  # the limits have their own tests
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_port,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _csrf(client) -> str:
    page = client.get("/requests/new").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _stored(app) -> tuple[int, int, int]:
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Request, CorrectionItem, OutboxMessage, IntakeSubmission)
        )
        db.session.remove()
        return counts


def _check_answer(app, response, before: tuple[int, ...]) -> None:
    status = response.status_code
    event(f"answered {status}")
    assert status < 500, response.get_data(as_text=True)[:2000]
    if status == 302:
        assert response.headers["Location"].endswith("/requests/sent")
        assert _stored(app)[3] == before[3] + 1  # acknowledged: the submission is stored
        with app.app_context():  # and the worker files whatever the form accepted
            report = process_submissions(now=datetime.now(UTC))
            db.session.remove()
        assert len(report.filed) == 1 and report.failed == [], report.failed
        after = _stored(app)
        assert after[0] == before[0] + 1 and after[2] == before[2] + 1  # the request, its mail
        assert after[3] == before[3]
    else:
        assert status in (200, 400, 413), status
        assert _stored(app) == before, "nothing is stored when the form is refused"
        if status == 400:
            html = response.get_data(as_text=True)
            assert 'class="error"' in html or "CSRF" in html, html[:2000]


@FIXTURES
@given(fields=form_fields(), lang=st.sampled_from(["ko", "en", "xx", ""]))
def test_any_form_input_is_stored_once_or_refused_with_the_reason(form_app, fields, lang):
    client = form_app.test_client()
    before = _stored(form_app)
    response = client.post(
        f"/requests/new?lang={lang}", data=MultiDict([("csrf_token", _csrf(client)), *fields])
    )
    _check_answer(form_app, response, before)


raw_values = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xe3\x81", b"\x00", b"\xc0\xaf"]),
)


@FIXTURES
@given(
    values=st.fixed_dictionaries(
        {"name": raw_values, "details": raw_values},
        optional={
            "email": raw_values,
            "kind": raw_values,
            "corrections-0-item": raw_values,
            "corrections-0-correct_value": raw_values,
        },
    ),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=euc-kr",
            "multipart/form-data",  # without a boundary
            "text/plain",
        ]
    ),
)
def test_bytes_that_are_not_utf8_never_break_the_form(form_app, values, content_type):
    client = form_app.test_client()
    fields = {
        "kind": b"access",
        "email": b"kim@example.com",
        **values,
        "csrf_token": _csrf(client).encode(),
    }
    before = _stored(form_app)
    response = client.post(
        "/requests/new", data=urlencode(fields).encode("ascii"), content_type=content_type
    )
    _check_answer(form_app, response, before)


def test_a_body_over_the_limit_is_refused_and_nothing_is_stored(form_app):
    client = form_app.test_client()
    before = _stored(form_app)
    limit = form_app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/requests/new",
        data={"csrf_token": _csrf(client), "kind": "access", "name": "x" * (limit + 1)},
    )
    assert response.status_code == 413
    assert _stored(form_app) == before


# --- data-map files ----------------------------------------------------------------------------

DEMO_MAP = Path(demo_shop.__file__).with_name("demo_datamap.toml").read_text(encoding="utf-8")
DEMO_LINES = DEMO_MAP.splitlines()

toml_fragments = st.sampled_from(
    [
        "",
        "[",
        "]",
        "[[recipients]]",
        "[systems.shop.tables.users]",
        "[systems.x]",
        'kind = "sql"',
        'kind = "ftp"',
        "kind = 3",
        'url_env = ""',
        "identity = {}",
        "identity = { email = 3 }",
        'via = { table = "users" }',
        'via = { table = "orders", column = "id", parent_column = "id" }',
        'fields = { email = "nope" }',
        'retention = "forever"',
        'erasure = "shred"',
        "anonymise = [1, 2]",
        "null = []",
        "timeout = -1",
        "timeout = 1e400",
        'url = "ftp://x"',
        'url = "http://127.0.0.1/"',
        "marketing = { delete_rows = false }",
        'marketing = { set = { phone = "" } }',
        'categories = ["contact", 1]',
        '"quoted.key" = 1',
        "a.b.c = 1",
        '"""',
        "'''",
        'x = """\n',
        "x = [",
        "x = {",
        "\x00",
        "\ufeff",
        "# 주석",
        "= 1",
        "dup = 1\ndup = 2",
    ]
)


@st.composite
def mutated_maps(draw) -> str:
    lines = list(DEMO_LINES)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "chars"]))
        index = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines.append(draw(toml_fragments))
        elif operation == "delete":
            del lines[index]
        elif operation == "insert":
            lines.insert(index, draw(st.one_of(toml_fragments, st.text(max_size=30))))
        elif operation == "replace":
            line = lines[index]
            key, sep, _value = line.partition("=")
            value = draw(st.one_of(toml_fragments, st.text(max_size=20)))
            lines[index] = f"{key}= {value}" if sep else value
        elif operation == "duplicate":
            lines.insert(index, lines[draw(st.integers(0, len(lines) - 1))])
        else:
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = (
                line[:at] + draw(st.text(max_size=3)) + line[at + draw(st.integers(0, 3)) :]
            )
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=300, deadline=None)
@given(text_value=mutated_maps())
def test_a_mutated_data_map_is_accepted_or_refused_at_a_line_of_the_file(text_value):
    last_line = max(len(text_value.splitlines()), 1)
    try:
        datamap = load_datamap(text_value, "map.toml")
    except DataMapError as error:
        assert 1 <= error.line <= last_line, (error, last_line)
        assert str(error).startswith(f"map.toml:{error.line}: ")
        return
    for problem in check_structure(datamap):
        assert 1 <= problem.line <= last_line, (problem, last_line)
        assert problem.message


def test_the_unmutated_demo_map_has_no_problems():
    assert check_structure(load_datamap(DEMO_MAP, "demo.toml")) == []


# --- deadlines -------------------------------------------------------------------------------

KR = builtin_profiles()["KR"]
SEOUL = ZoneInfo("Asia/Seoul")
CALENDAR = HolidayCalendar("KR")
KOREAN_HOLIDAYS = holidays.country_holidays("KR", years=range(2014, 2042))

offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
receipts = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2040, 12, 31)),
    offsets,
)
midnights = st.builds(
    lambda day: datetime.combine(day, datetime.min.time(), tzinfo=SEOUL),
    st.dates(min_value=date(2015, 1, 1), max_value=date(2040, 12, 31)),
)
kr_kinds = st.sampled_from([kind for kind in K if kind in KR.periods])


def kr_due(received: datetime, kind: K):
    return compute_deadline(
        received_at=received, kind=kind, profile=KR, calendar=CALENDAR, tz=SEOUL
    )


@settings(max_examples=300, deadline=None)
@given(received=st.one_of(receipts, midnights), kind=kr_kinds)
def test_the_due_date_is_never_early_and_never_a_day_off(received, kind):
    deadline = kr_due(received, kind)
    period = KR.period(kind)
    assert period.unit is Unit.DAYS
    # The period ends at 24:00 of the due date: never before receipt plus the period.
    assert deadline.ends_at() >= received + timedelta(days=period.amount)
    assert deadline.due >= received.astimezone(SEOUL).date() + timedelta(days=period.amount - 1)
    assert deadline.due.weekday() < 5, deadline.due  # neither Saturday nor Sunday
    assert deadline.due not in KOREAN_HOLIDAYS, (deadline.due, KOREAN_HOLIDAYS.get(deadline.due))
    # Rolled only as far as the first working day after the period's last day.
    day = deadline.raw_last_day
    while day < deadline.due:
        assert day.weekday() >= 5 or day in KOREAN_HOLIDAYS, day
        day += timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(first=receipts, gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)))
def test_a_later_receipt_is_never_due_earlier(first, gap):
    for kind in (K.ACCESS, K.AUTOMATED_DECISION):
        assert kr_due(first, kind).due <= kr_due(first + gap, kind).due


@settings(max_examples=100, deadline=None)
@given(received=receipts, kind=kr_kinds)
def test_the_same_instant_in_any_offset_has_the_same_due_date(received, kind):
    assert kr_due(received, kind).due == kr_due(received.astimezone(UTC), kind).due
