"""The bench command runs end to end on a small load. It checks the figures are printed, never
how fast they are: speed is judged from `rightsdesk bench queue` on a million rows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from rightsdesk.bench import bench_group

from .conftest import PG_URL, make_app

CASES = ("first page", "filtered page", "deep page", "e-mail search")
NUMBER = r"\d+(?:\.\d+)?"


def bench_databases() -> set[str]:
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'rightsdesk_bench_%'")
        )
        found = {row[0] for row in names}
    engine.dispose()
    return found


@pytest.mark.skipif(
    not PG_URL,
    reason="the bench needs PostgreSQL: set RIGHTSDESK_TEST_DATABASE_URL (CI does)",
)
def test_bench_queue_prints_each_case_with_figures_and_drops_its_database():
    # No `app` fixture: it would truncate the test database, which the bench never touches.
    # The test database's URL only serves as the admin connection for CREATE/DROP DATABASE.
    app = make_app(PG_URL)
    before = bench_databases()

    result = app.test_cli_runner().invoke(
        bench_group, ["queue", "--rows", "2000", "--runs", "3", "--database-url", PG_URL]
    )

    assert result.exit_code == 0, result.output
    for case in CASES:
        figures = rf"^{re.escape(case)}\s+\d+\s+[\d,]+(?:\s+{NUMBER}){{4}}\s+{NUMBER}x$"
        assert re.search(figures, result.output, re.MULTILINE), (case, result.output)
    assert "2,000 requests" in result.output
    assert bench_databases() == before


def test_bench_queue_refuses_an_unreachable_server_in_one_line(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'unused.db'}")
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"

    result = app.test_cli_runner().invoke(bench_group, ["queue", "--database-url", unreachable])

    assert result.exit_code == 2
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in result.output
    assert len(result.output.strip().splitlines()) == 1
