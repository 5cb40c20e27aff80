"""The data map: loading, structure checks, checks against a database, the demo shop, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from rightsdesk.cli.datamap import datamap_group
from rightsdesk.demo import shop as demo_shop
from rightsdesk.demo.shop import DemoShopExists, create_demo_shop, demo_datamap_text, demo_subjects
from rightsdesk.domain.datamap import DataMapError, PurposeAction, check_structure, load_datamap
from rightsdesk.domain.toml_lines import index_lines
from rightsdesk.systems.schema_check import check_against_database
from tests.helpers import PG_URL

DEMO = demo_datamap_text()
URL_ENV = "RIGHTSDESK_SHOP_DATABASE_URL"


def line_number(text_value: str, fragment: str) -> int:
    """The 1-based line of the only line containing ``fragment``."""
    found = [n for n, line in enumerate(text_value.splitlines(), 1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def replaced(old: str, new: str) -> str:
    assert DEMO.count(old) == 1, old
    return DEMO.replace(old, new)


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create_demo_shop(url, users=20)
    return url


# --- the demo map ----------------------------------------------------------------------------


def test_the_demo_map_loads_and_is_well_formed():
    datamap = load_datamap(DEMO, "demo.toml")
    assert check_structure(datamap) == []
    assert [(s.name, s.kind) for s in datamap.systems] == [
        ("shop", "sql"),
        ("app", "webhook"),
        ("paper", "manual"),
    ]
    shop = datamap.system("shop")
    assert shop.url_env == URL_ENV
    assert {t.name for t in shop.tables} == {
        "users",
        "orders",
        "payments",
        "access_logs",
        "support_tickets",
        "marketing_consents",
    }
    users = shop.table("users")
    assert users is not None and users.identity == {"email": "email", "phone": "phone"}
    payments = shop.table("payments")
    assert payments is not None and payments.via is not None
    assert (payments.via.table, payments.via.column, payments.via.parent_column) == (
        "orders",
        "order_id",
        "id",
    )
    consents = shop.table("marketing_consents")
    assert consents is not None
    assert consents.purposes == {"marketing": PurposeAction(delete_rows=True)}
    assert {t.name: t.retention for t in shop.tables} == {
        "users": "none",
        "orders": "contract",
        "payments": "payment",
        "access_logs": "access_log",
        "support_tickets": "complaint",
        "marketing_consents": "none",
    }
    assert [(r.name, r.categories, r.role) for r in datamap.recipients] == [
        ("CJ대한통운", ("order", "contact"), "processor"),
        ("KG이니시스", ("payment",), "processor"),
    ]
    assert datamap.system("paper").instructions["ko"].strip()
    assert datamap.line_of(users.path) == line_number(DEMO, "[systems.shop.tables.users]")


def test_the_demo_map_matches_the_demo_shop_database(shop_url):
    datamap = load_datamap(DEMO, "demo.toml")
    assert check_against_database(datamap, "shop", shop_url) == []


def test_importing_the_data_map_loads_neither_flask_nor_sqlalchemy():
    code = (
        "import sys\n"
        "import rightsdesk.domain.datamap\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# --- maps that are refused -------------------------------------------------------------------

STRUCTURE_CASES = [
    pytest.param(
        (
            'erasure = "delete"\n\n[systems.shop.tables.marketing_consents]',
            'erasure = "shred"\n\n[systems.shop.tables.marketing_consents]',
        ),
        'erasure = "shred"',
        "table shop.support_tickets: unknown erasure strategy 'shred'; "
        "accepted: delete, anonymise, null",
        id="unknown strategy",
    ),
    pytest.param(
        ('retention = "complaint"', 'retention = "forever"'),
        'retention = "forever"',
        "table shop.support_tickets: unknown retention category 'forever'",
        id="unknown retention category",
    ),
    pytest.param(
        (
            'via = { table = "users", column = "user_id", parent_column = "id" }\n'
            'fields = { total = "order"',
            'via = { table = "payments", column = "user_id", parent_column = "id" }\n'
            'fields = { total = "order"',
        ),
        'via = { table = "payments"',
        "table shop.orders: via relations form a cycle (orders → payments → orders)",
        id="cycle",
    ),
    pytest.param(
        ('url = "https://shop.example/rightsdesk"', 'url = "http://shop.example/rightsdesk"'),
        'url = "http://shop.example/rightsdesk"',
        "system 'app': url 'http://shop.example/rightsdesk' must be https://",
        id="webhook without https",
    ),
    pytest.param(
        ('kind = "webhook"', 'kind = "ftp"'),
        'kind = "ftp"',
        "system 'app': unknown kind 'ftp'; accepted: sql, webhook, manual",
        id="unknown system kind",
    ),
    pytest.param(
        (
            'via = { table = "users", column = "user_id", parent_column = "id" }\n'
            'fields = { ip = "log"',
            'via = { table = "user", column = "user_id", parent_column = "id" }\n'
            'fields = { ip = "log"',
        ),
        'via = { table = "user",',
        "table shop.access_logs: via names table 'user', which is not a table of system 'shop'",
        id="via to a table outside the system",
    ),
    pytest.param(
        (
            'identity = { email = "email", phone = "phone" }\n',
            "",
        ),
        "[systems.shop.tables.users]",
        "table shop.users: no identity columns and no via relation",
        id="no identity and no via",
    ),
    pytest.param(
        ('categories = ["payment"]', 'categories = ["payments"]'),
        'categories = ["payments"]',
        "recipient 'KG이니시스': category 'payments' is held by no system",
        id="recipient category nobody holds",
    ),
    pytest.param(
        ('name = "KG이니시스"\nrole = "processor"', 'name = "KG이니시스"\nrole = "수탁자"'),
        'role = "수탁자"',
        "recipient 'KG이니시스': unknown role '수탁자'; accepted: processor, third_party",
        id="unknown recipient role",
    ),
    pytest.param(
        ('anonymise = ["address"]', 'anonymise = ["adress"]'),
        'anonymise = ["adress"]',
        "table shop.orders: anonymise names 'adress', which is neither in its fields",
        id="erased column not declared",
    ),
    pytest.param(
        (
            'url_env = "RIGHTSDESK_SHOP_DATABASE_URL"',
            'url_env = "postgresql://shop:secret@db/shop"',
        ),
        'url_env = "postgresql://',
        "system 'shop': url_env must name an environment variable",
        id="a URL where the variable's name belongs",
    ),
]


@pytest.mark.parametrize(("edit", "fragment", "message"), STRUCTURE_CASES)
def test_structure_problems_name_the_line(edit, fragment, message):
    text_value = replaced(*edit)
    problems = check_structure(load_datamap(text_value, "map.toml"))
    assert len(problems) == 1, problems
    assert problems[0].line == line_number(text_value, fragment)
    assert problems[0].message.startswith(message), problems[0].message


def test_a_recipient_without_a_role_is_a_third_party_as_maps_before_roles_published():
    datamap = load_datamap(
        replaced('name = "KG이니시스"\nrole = "processor"\n', 'name = "KG이니시스"\n'), "m"
    )
    assert check_structure(datamap) == []
    assert [(r.name, r.is_processor) for r in datamap.recipients] == [
        ("CJ대한통운", True),
        ("KG이니시스", False),
    ]


LOAD_CASES = [
    pytest.param(
        ('retention = "contract"', 'retention = "contract'),
        'retention = "contract',
        "not valid TOML: ",
        id="bad TOML syntax",
    ),
    pytest.param(
        ("[systems.shop.tables.payments]\nvia", "[systems.shop.tables.orders]\nvia"),
        '[systems.shop.tables.orders]\nvia = { table = "orders"',
        "not valid TOML: Cannot declare ('systems', 'shop', 'tables', 'orders') twice",
        id="a table described twice",
    ),
    pytest.param(
        ('anonymise = ["address"]', 'anonymize = ["address"]'),
        'anonymize = ["address"]',
        "systems.shop.tables.orders: unknown key 'anonymize'; accepted: identity, via",
        id="unknown key",
    ),
    pytest.param(
        ('retention = "payment"', "retention = 5"),
        "retention = 5",
        "systems.shop.tables.payments.retention must be a non-empty string",
        id="wrong type",
    ),
    pytest.param(
        ('url_env = "RIGHTSDESK_SHOP_DATABASE_URL"\n', ""),
        "[systems.shop]",
        "systems.shop: missing 'url_env'",
        id="missing key",
    ),
    pytest.param(
        ("marketing = { delete_rows = true }", "marketing = { delete_rows = false }"),
        "marketing = { delete_rows = false }",
        "systems.shop.tables.marketing_consents.purposes.marketing: give either delete_rows",
        id="a purpose that does nothing",
    ),
    pytest.param(
        ("[systems.paper.instructions]\nko", "[systems.paper.guide]\nko"),
        "[systems.paper.guide]",
        "systems.paper: unknown key 'guide'; accepted: kind, description, categories, instructions",
        id="unknown key of a manual system",
    ),
    pytest.param(
        ("timeout = 10", "timeout = 0"),
        "timeout = 0",
        "systems.app.timeout must be a positive number",
        id="webhook time-out of zero",
    ),
]


@pytest.mark.parametrize(("edit", "fragment", "message"), LOAD_CASES)
def test_files_that_are_no_map_are_refused_with_the_line(edit, fragment, message):
    text_value = replaced(*edit)
    with pytest.raises(DataMapError) as raised:
        load_datamap(text_value, "map.toml")
    first_line = fragment.splitlines()[0]
    if "\n" in fragment:  # the second of two equal headers
        offset = text_value.index(fragment)
        expected = text_value[:offset].count("\n") + 1
    else:
        expected = line_number(text_value, first_line)
    assert raised.value.line == expected
    assert raised.value.problem.startswith(message), raised.value.problem
    assert str(raised.value).startswith(f"map.toml:{expected}: ")


def test_a_missing_table_or_column_names_the_line(shop_url):
    text_value = DEMO
    for old, new in (
        ("[systems.shop.tables.support_tickets]", "[systems.shop.tables.tickets]"),
        ('fields = { ip = "log"', 'fields = { ipaddr = "log"'),
        ('column = "order_id", parent_column = "id"', 'column = "order_id", parent_column = "no"'),
    ):
        assert text_value.count(old) == 1, old
        text_value = text_value.replace(old, new)
    datamap = load_datamap(text_value, "map.toml")
    assert check_structure(datamap) == []
    problems = check_against_database(datamap, "shop", shop_url)
    assert [(p.line, p.message.split(" (it has")[0]) for p in problems] == [
        (
            line_number(text_value, 'parent_column = "no"'),
            "table shop.payments: via names column 'no' of table 'orders', "
            "which has no such column",
        ),
        (
            line_number(text_value, 'ipaddr = "log"'),
            "table shop.access_logs: no column 'ipaddr' in the database",
        ),
        (
            line_number(text_value, "[systems.shop.tables.tickets]"),
            "table shop.tickets: no table 'tickets' in the database of system 'shop'",
        ),
    ]
    assert "(it has: address, created_at, id, total, user_id)" in problems[0].message
    assert "(it has: at, id, ip, user_id)" in problems[1].message


def test_an_unreachable_database_is_a_problem_on_the_url_env_line(tmp_path):
    datamap = load_datamap(DEMO, "demo.toml")
    missing_dir = tmp_path / "no" / "such" / "dir" / "shop.db"
    problems = check_against_database(datamap, "shop", f"sqlite:///{missing_dir}")
    assert len(problems) == 1
    assert problems[0].line == line_number(DEMO, 'url_env = "RIGHTSDESK_SHOP_DATABASE_URL"')
    assert "cannot inspect the database in RIGHTSDESK_SHOP_DATABASE_URL" in problems[0].message


def test_set_actions_and_a_self_relation():
    text_value = """
[systems.crm]
kind = "sql"
url_env = "CRM_URL"

[systems.crm.tables.people]
identity = { user_id = "id" }
retention = "none"
erasure = "null"
fields = { newsletter = "marketing", note = "contact" }
null = ["note"]
purposes.marketing.set = { newsletter = false, note = "stopped" }

[systems.crm.tables.notes]
via = { table = "notes", column = "parent_id", parent_column = "id" }
retention = "none"
erasure = "delete"
"""
    datamap = load_datamap(text_value, "crm.toml")
    people = datamap.system("crm").table("people")
    assert people is not None
    assert people.purposes["marketing"].set_values == {"newsletter": False, "note": "stopped"}
    assert datamap.line_of((*people.path, "purposes", "marketing", "set", "newsletter")) == 12
    problems = check_structure(datamap)
    assert [(p.line, p.message.split(",")[0]) for p in problems] == [
        (15, "table crm.notes: via relations form a cycle (notes → notes)")
    ]


def test_lines_are_found_past_multiline_strings_arrays_and_quoted_keys():
    text_value = '''[a]
text = """
[not.a.header]
fake = 1
"""
list = [
  "x = 1",
  { y = 2 },
]
"quoted.key" = 3
b.c = 4

[[r]]
n = 1
[[r]]
n = 2
[r.sub]
m = 3
'''
    lines = index_lines(text_value)
    assert lines[("a", "text")] == 2
    assert ("not", "a", "header") not in lines and ("a", "fake") not in lines
    assert lines[("a", "list")] == 6
    assert ("a", "y") not in lines
    assert lines[("a", "quoted.key")] == 10
    assert lines[("a", "b", "c")] == 11
    assert lines[("r", 0, "n")] == 14
    assert lines[("r", 1, "n")] == 16
    assert lines[("r", 1, "sub", "m")] == 18


# --- the demo shop ---------------------------------------------------------------------------


def dump(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {
            table.name: [
                tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))
            ]
            for table in demo_shop.TABLES
        }
    engine.dispose()
    return rows


def test_the_demo_shop_is_the_same_for_the_same_seed(tmp_path):
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("one", "two", "other")]
    create_demo_shop(urls[0], users=30, seed=7)
    create_demo_shop(urls[1], users=30, seed=7)
    create_demo_shop(urls[2], users=30, seed=8)
    first, second, other = (dump(url) for url in urls)
    assert first == second
    assert first["users"] != other["users"]
    assert len(first["users"]) == 30
    assert all(first[table.name] for table in demo_shop.TABLES)


def test_the_demo_subjects_are_shop_users_with_rows_everywhere(shop_url):
    rows = dump(shop_url)
    by_email = {row[1]: row for row in rows["users"]}
    subjects = demo_subjects()
    assert {s.email for s in subjects} >= {"jihoon.park@example.com", "minji.kim@example.com"}
    for subject in subjects:
        user = by_email[subject.email]
        if subject.name:
            assert user[2] == subject.name
        user_id = user[0]
        order_ids = {o[0] for o in rows["orders"] if o[1] == user_id}
        assert order_ids, subject.email
        assert any(p[1] in order_ids for p in rows["payments"]), subject.email
        for table in ("access_logs", "support_tickets"):
            assert any(r[1] == user_id for r in rows[table]), (table, subject.email)
        assert any(r[0] == user_id for r in rows["marketing_consents"]), subject.email


def test_the_demo_shop_data_looks_like_the_issue_says(shop_url):
    rows = dump(shop_url)
    phones = [u[3] for u in rows["users"]]
    assert len(set(phones)) == len(phones)
    assert all(p.startswith("010-") and len(p) == 13 for p in phones)
    assert all(a[3].startswith(("서울특별시", "부산광역시")) for a in rows["orders"])
    assert all(len(p[2]) == 4 and p[2].isdigit() for p in rows["payments"])
    assert all(a[2].startswith(demo_shop.IP_PREFIXES) for a in rows["access_logs"])
    assert {c[1] for c in rows["marketing_consents"]} <= {"email", "sms", "push"}


def test_the_demo_shop_refuses_a_database_that_has_its_tables(shop_url):
    with pytest.raises(DemoShopExists, match="tables already"):
        create_demo_shop(shop_url)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards (only with RIGHTSDESK_TEST_DATABASE_URL)."""
    if not PG_URL:
        pytest.skip("set RIGHTSDESK_TEST_DATABASE_URL to create the demo shop on PostgreSQL")
    schema = f"demo_shop_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_the_demo_shop_on_postgresql(pg_schema_url, tmp_path):
    create_demo_shop(pg_schema_url, users=25, seed=3)
    datamap = load_datamap(DEMO, "demo.toml")
    assert check_against_database(datamap, "shop", pg_schema_url) == []
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    create_demo_shop(sqlite_url, users=25, seed=3)
    on_pg, on_sqlite = dump(pg_schema_url), dump(sqlite_url)
    for table in demo_shop.TABLES:
        assert len(on_pg[table.name]) == len(on_sqlite[table.name])
    assert [u[1] for u in on_pg["users"]] == [u[1] for u in on_sqlite["users"]]
    engine = create_engine(pg_schema_url)
    with engine.begin() as connection:  # the sequences were moved past the demo's ids
        new_id = connection.execute(
            text(
                "INSERT INTO users (email, name, created_at) VALUES ('n@example.org', 'n', now()) "
                "RETURNING id"
            )
        ).scalar_one()
    engine.dispose()
    assert new_id == 26


# --- the command ----------------------------------------------------------------------------


@pytest.fixture
def demo_map_file(tmp_path: Path) -> Path:
    path = tmp_path / "datamap.toml"
    path.write_text(DEMO, encoding="utf-8")
    return path


def test_check_says_ok_with_the_counts(runner, demo_map_file, shop_url, monkeypatch):
    monkeypatch.setenv(URL_ENV, shop_url)
    result = runner.invoke(datamap_group, ["check", str(demo_map_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 3 systems, 6 tables, 2 recipients\n"


def test_check_notes_a_system_it_could_not_reach_by_its_variable(
    runner, demo_map_file, monkeypatch
):
    monkeypatch.delenv(URL_ENV, raising=False)
    result = runner.invoke(datamap_group, ["check", str(demo_map_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 3 systems, 6 tables, 2 recipients\n"
    assert f"{URL_ENV} is not set" in result.stderr


def test_check_prints_one_line_per_problem_and_exits_1(runner, tmp_path, shop_url, monkeypatch):
    text_value = replaced(
        'erasure = "delete"\n\n[systems.shop.tables.access_logs]',
        'erasure = "shred"\n\n[systems.shop.tables.access_logs]',
    )
    text_value = text_value.replace('anonymise = ["address"]', 'anonymise = ["address", "zip"]')
    path = tmp_path / "bad.toml"
    path.write_text(text_value, encoding="utf-8")
    monkeypatch.setenv(URL_ENV, shop_url)
    result = runner.invoke(datamap_group, ["check", str(path)])
    assert result.exit_code == 1
    anonymise_line = line_number(text_value, 'anonymise = ["address", "zip"]')
    shred_line = line_number(text_value, 'erasure = "shred"')
    assert result.stdout.splitlines() == [
        f"{path}:{anonymise_line}: table shop.orders: anonymise names 'zip', which is neither "
        "in its fields nor an identity column",
        f"{path}:{anonymise_line}: table shop.orders: no column 'zip' in the database "
        "(it has: address, created_at, id, total, user_id)",
        f"{path}:{shred_line}: table shop.payments: unknown erasure strategy 'shred'; "
        "accepted: delete, anonymise, null",
    ]


def test_check_reads_the_configured_file(app, runner, demo_map_file, monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    app.config["DATAMAP_FILE"] = str(demo_map_file)
    result = runner.invoke(datamap_group, ["check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 3 systems")


def test_check_without_a_file_is_an_input_error(app, runner):
    app.config.pop("DATAMAP_FILE", None)
    result = runner.invoke(datamap_group, ["check"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: no data map: give PATH or set RIGHTSDESK_DATAMAP_FILE")


def test_check_of_an_unreadable_or_invalid_file_exits_2(runner, tmp_path):
    missing = tmp_path / "missing.toml"
    result = runner.invoke(datamap_group, ["check", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {missing}: cannot read the data map: " + os.strerror(2)

    broken = tmp_path / "broken.toml"
    broken.write_text(replaced("timeout = 10", "timeout = "), encoding="utf-8")
    result = runner.invoke(datamap_group, ["check", str(broken)])
    assert result.exit_code == 2
    line = line_number(broken.read_text(encoding="utf-8"), "timeout = ")
    assert result.stderr.startswith(f"Error: {broken}:{line}: not valid TOML: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_shop_command_creates_the_database_once(runner, tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    result = runner.invoke(datamap_group, ["demo-shop", "--url", url, "--users", "12"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created the demo shop (12 users) in {url}\n"
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {t.name for t in demo_shop.TABLES}
    engine.dispose()

    again = runner.invoke(datamap_group, ["demo-shop", "--url", url])
    assert again.exit_code == 2
    assert again.stderr.startswith("Error: the database has the demo shop's tables already")


def test_demo_shop_command_refuses_bad_input(runner, tmp_path):
    result = runner.invoke(datamap_group, ["demo-shop", "--url", "not a url"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: malformed --url 'not a url'; e.g. sqlite:///instance/shop.db"
    )
    url = f"sqlite:///{tmp_path / 'small.db'}"
    result = runner.invoke(datamap_group, ["demo-shop", "--url", url, "--users", "3"])
    assert result.exit_code == 2
    assert "at least 8 users" in result.stderr


def test_a_category_of_the_operators_retention_file_is_accepted(app, runner, tmp_path, monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    custom = replaced(
        'retention = "none"\nerasure = "delete"', 'retention = "membership"\nerasure = "delete"'
    )
    path = tmp_path / "custom.toml"
    path.write_text(custom, encoding="utf-8")
    refused = runner.invoke(datamap_group, ["check", str(path)])
    assert refused.exit_code == 1 and "unknown retention category 'membership'" in refused.stdout
    rules = tmp_path / "retention.toml"
    rules.write_text(
        '[rules.membership]\nperiod = "1 year"\nstart = "account_closed"\n'
        'kind = "policy"\nbasis = "회원 약관 §12"\n',
        encoding="utf-8",
    )
    app.config["RETENTION_FILE"] = str(rules)
    accepted = runner.invoke(datamap_group, ["check", str(path)])
    assert accepted.exit_code == 0, accepted.output
