"""`rightsdesk deadline`: the due date alone on the first line, then why; bad input exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rightsdesk.extensions import db
from rightsdesk.models import AuditEvent


def test_first_line_is_the_due_date_and_the_rest_explains_it(runner):
    result = runner.invoke(
        args=[
            "deadline",
            "--received",
            "2025-09-24T10:00+09:00",
            "--kind",
            "access",
            "--lang",
            "ko",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2025-10-10"
    body = "\n".join(lines[1:])
    assert "2025-09-24" in body and "Asia/Seoul" in body
    assert "기간 말일: 2025-10-04" in body
    for skipped, reason in [
        ("2025-10-04", "토요일"),
        ("2025-10-06", "추석"),
        ("2025-10-08", "추석 대체 휴일"),
        ("2025-10-09", "한글날"),
    ]:
        assert any(skipped in line and reason in line for line in lines), (skipped, lines)
    assert "민법" in body


def test_english_explanation(runner):
    result = runner.invoke(
        args=[
            "deadline",
            "--received",
            "2025-09-24T10:00+09:00",
            "--kind",
            "access",
            "--lang",
            "en",
        ]
    )
    assert result.exit_code == 0
    assert "Skipped 2025-10-06: Chuseok" in result.output
    assert "Raw last day: 2025-10-04 (Saturday)" in result.output


def test_json_has_the_contract_keys(runner):
    result = runner.invoke(
        args=["deadline", "--received", "2025-12-21T16:30Z", "--kind", "deletion", "--json"]
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["due"] == "2026-01-02"
    assert data["received_local_date"] == "2025-12-22"
    assert data["jurisdiction"] == "KR"
    assert data["kind"] == "deletion"
    assert data["skipped"][0]["reason_ko"] == "신정연휴"


def test_extended_and_other_jurisdictions(runner):
    extended = runner.invoke(
        args=["deadline", "--received", "2025-09-24T10:00+09:00", "--kind", "access", "--extended"]
    )
    # 법 §35③ 후문: a deferral until its ground ends moves no date; the notice is due by then.
    assert extended.output.splitlines()[0] == "2025-10-10"
    assert "§35③" in extended.output
    eu = runner.invoke(
        args=[
            "deadline",
            "--received",
            "2025-01-31T10:00+09:00",
            "--kind",
            "access",
            "--jurisdiction",
            "EU",
        ]
    )
    assert eu.output.splitlines()[0] == "2025-02-28"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--received", "2025-09-24T10:00+09:00", "--kind", "erasure"],
            "unknown kind 'erasure'; accepted: access, correction, deletion",
        ),
        (
            ["--received", "2025-09-24T10:00+09:00", "--kind", "access", "--jurisdiction", "JP"],
            "unknown jurisdiction 'JP'; accepted: BR, EU, KR, UK, US-CA",
        ),
        (["--received", "2025-09-24T10:00", "--kind", "access"], "naive timestamp"),
        (["--received", "2025-13-45T10:00+09:00", "--kind", "access"], "malformed timestamp"),
        (["--received", "yesterday", "--kind", "access"], "malformed timestamp"),
        (
            ["--received", "2025-09-24T10:00+09:00", "--kind", "deletion", "--extended"],
            "KR allows no extension of deletion requests",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(app, runner, args, message):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    result = runner.invoke(args=["deadline", *args])
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(error_lines) == 1, result.output
    assert message in error_lines[0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_installed_script_works_without_app_and_without_a_database(tmp_path: Path):
    script = Path(sys.executable).with_name("rightsdesk")
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "RIGHTSDESK_SECRET_KEY": "x",
    }
    env.pop("FLASK_APP", None)
    result = subprocess.run(
        [str(script), "deadline", "--received", "2025-09-24T10:00+09:00", "--kind", "access"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2025-10-10"
    assert "not migrated" in result.stderr
    bad = subprocess.run(
        [str(script), "deadline", "--received", "2025-09-24", "--kind", "access"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("Error: naive timestamp")


def test_a_command_on_an_unmigrated_database_says_to_migrate(tmp_path: Path):
    script = Path(sys.executable).with_name("rightsdesk")
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "RIGHTSDESK_SECRET_KEY": "x",
    }
    result = subprocess.run(
        [str(script), "requests", "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: the database has no rightsdesk tables yet: run 'rightsdesk db upgrade'"
    )


def test_the_instance_settings_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    """``make run`` writes instance/rightsdesk.env so later commands see the demo's settings."""
    import os

    import flask
    import pytest

    from rightsdesk.config import ConfigError, load_settings_file

    monkeypatch.setenv("RIGHTSDESK_TIMEZONE", "restored-after-the-test")
    monkeypatch.delenv("RIGHTSDESK_TIMEZONE")
    monkeypatch.setenv("RIGHTSDESK_DEFAULT_LOCALE", "en")
    (tmp_path / "rightsdesk.env").write_text(
        "# written by make run\nRIGHTSDESK_TIMEZONE=Europe/Paris\nRIGHTSDESK_DEFAULT_LOCALE=ko\n",
        encoding="utf-8",
    )
    holder = flask.Flask("probe", instance_path=str(tmp_path))
    load_settings_file(holder)
    assert os.environ["RIGHTSDESK_TIMEZONE"] == "Europe/Paris"
    assert os.environ["RIGHTSDESK_DEFAULT_LOCALE"] == "en"  # the environment wins
    (tmp_path / "rightsdesk.env").write_text("TIMEZONE=UTC\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rightsdesk\.env:1: expected RIGHTSDESK_NAME=value"):
        load_settings_file(holder)
