"""Keys of stored data: explicit in production, rotated without losing a record, checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rightsdesk.app import create_app
from rightsdesk.config import ConfigError
from rightsdesk.core import leases
from rightsdesk.core.actors import Actor
from rightsdesk.extensions import db
from rightsdesk.fulfilment import separated
from rightsdesk.models import Request, RetainedRecord
from rightsdesk.requests import downloads
from tests.helpers import app_closed_after_test, new_request

_made = app_closed_after_test


OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SCRIPT = str(Path(sys.executable).with_name("rightsdesk"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _app(database_url: str, tmp_path: Path, retained: str, *, secret: str = "test-secret"):
    return _made(
        database_url,
        RETAINED_KEY=retained,
        PACKAGE_KEY=retained,
        SECRET_KEY=secret,
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )


def _keep_rows(app, count: int) -> dict[str, dict]:
    rows = {
        json.dumps([n]): {"id": n, "amount": 1000 + n, "card": f"****{n:04d}"}
        for n in range(count)
    }
    with app.app_context():
        separated.keep(
            [separated.Kept(key, row, date(2031, 3, 2)) for key, row in rows.items()],
            system="shop",
            table="payments",
            category="payment",
            basis="전자상거래법 시행령 §6",
            request_ref=None,
            now=NOW,
        )
        db.session.commit()
    return rows


def _readable(app) -> dict[str, dict]:
    with app.app_context():
        sealer = separated.cipher()
        return {
            record.row_key: json.loads(sealer.decrypt(record.ciphertext))
            for record in db.session.scalars(db.select(RetainedRecord))
        }


def _keys(app, *args: str):
    return app.test_cli_runner().invoke(args=["keys", *args])


def test_rotating_keeps_every_separated_record_readable_then_the_old_key_retires(
    database_url, tmp_path
):
    rows = _keep_rows(_app(database_url, tmp_path, OLD), 30)
    both = _app(database_url, tmp_path, f"{NEW},{OLD}")
    before = _keys(both, "check", "--kind", "retained")
    assert before.exit_code == 0 and "30 under an older key" in before.output

    rotated = _keys(both, "rotate", "--kind", "retained", "--batch", "7")
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted now: 30" in rotated.output

    only_new = _app(database_url, tmp_path, NEW)
    assert _readable(only_new) == rows
    after = _keys(only_new, "check", "--kind", "retained")
    assert after.exit_code == 0 and "0 open(s)" not in after.output
    again = _keys(both, "rotate", "--kind", "retained")  # a second run: nothing left to do
    assert "re-encrypted now: 0" in again.output
    with only_new.app_context():
        events = db.session.scalars(
            db.select(db.text("action")).select_from(db.text("audit_events"))
        ).all()
    assert events.count("keys.rotated") == 2


def test_a_record_under_a_key_no_longer_configured_is_named_by_check(database_url, tmp_path):
    _keep_rows(_app(database_url, tmp_path, OLD), 3)
    checked = _keys(_app(database_url, tmp_path, NEW), "check")
    assert checked.exit_code == 1
    assert "3 open(s) under no configured key" in checked.output
    assert "retained_records 1" in checked.output
    assert NEW not in checked.output and OLD not in checked.output


def test_changing_the_secret_key_leaves_stored_data_readable(database_url, tmp_path):
    first = _app(database_url, tmp_path, OLD, secret="first-secret")
    rows = _keep_rows(first, 4)
    with first.app_context():
        request = db.session.scalar(db.select(Request).filter_by(reference=new_request(first)))
        offered = downloads.offer(request, PNG, "copy.png", actor=Actor("staff:1"), now=NOW)
        download_id, reference = offered.id, request.reference
    second = _app(database_url, tmp_path, OLD, secret="a-new-secret")
    assert _readable(second) == rows
    with second.app_context():
        request = db.session.scalar(db.select(Request).filter_by(reference=reference))
        assert downloads.fetch(request, download_id, now=NOW)[1] == PNG
    assert _keys(second, "check").exit_code == 0


def test_rotation_reencrypts_offered_files_too(database_url, tmp_path):
    app = _app(database_url, tmp_path, OLD)
    with app.app_context():
        request = db.session.scalar(db.select(Request).filter_by(reference=new_request(app)))
        download_id, reference = downloads.offer(
            request, PNG, "copy.png", actor=Actor("staff:1"), now=NOW
        ).id, request.reference
    both = _app(database_url, tmp_path, f"{NEW},{OLD}")
    assert "re-encrypted now: 1" in _keys(both, "rotate", "--kind", "package").output
    only_new = _app(database_url, tmp_path, NEW)
    with only_new.app_context():
        request = db.session.scalar(db.select(Request).filter_by(reference=reference))
        assert downloads.fetch(request, download_id, now=NOW)[1] == PNG


def test_a_second_rotation_while_one_runs_is_refused_in_one_line(database_url, tmp_path):
    app = _app(database_url, tmp_path, f"{NEW},{OLD}")
    with app.app_context():
        now = datetime.now(UTC)
        assert leases.acquire("keys.rotate", "another-host:4242", now=now, ttl=timedelta(minutes=2))
    refused = _keys(app, "rotate")
    assert refused.exit_code == 2
    assert "a key rotation is running already (another-host:4242" in refused.output


def test_a_key_that_is_not_a_fernet_key_is_one_line_without_the_key(database_url, tmp_path):
    with pytest.raises(ConfigError, match=r"RIGHTSDESK_PACKAGE_KEY: key 2 is not a Fernet key"):
        _app(database_url, tmp_path, f"{NEW},not-a-key-at-all")
    env = {**os.environ, "RIGHTSDESK_DATABASE_URL": database_url}
    env["RIGHTSDESK_PACKAGE_KEY"] = "oops-secret"
    done = subprocess.run(
        [SCRIPT, "keys", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: RIGHTSDESK_PACKAGE_KEY: key 1 is not a Fernet key (32 url-safe base64-encoded "
        "bytes; make one with 'rightsdesk keys generate')"
    ]
    assert "oops-secret" not in done.stderr + done.stdout


def test_production_requires_explicit_keys(database_url):
    base = {"DATABASE_URL": database_url, "ENV": "production", "SECRET_KEY": "s"}
    with pytest.raises(ConfigError, match="RIGHTSDESK_PACKAGE_KEY must be set"):
        create_app(base)
    with pytest.raises(ConfigError, match="RIGHTSDESK_SUBJECT_HASH_KEY must be set"):
        create_app({**base, "PACKAGE_KEY": NEW, "RETAINED_KEY": NEW})
    keys = {"PACKAGE_KEY": NEW, "RETAINED_KEY": NEW, "SUBJECT_HASH_KEY": "k"}
    # the audit chain's key too: derived from the secret key, a new secret would break verify
    with pytest.raises(ConfigError, match="RIGHTSDESK_AUDIT_KEY must be set"):
        create_app({**base, **keys})
    assert create_app({**base, **keys, "AUDIT_KEY": "a" * 64})


def test_generate_prints_valid_keys_and_keeps_the_current_ones_after_them(database_url, tmp_path):
    printed = _keys(_app(database_url, tmp_path, OLD), "generate", "--keep-current").output
    settings = dict(line.split("=", 1) for line in printed.splitlines())
    retained = settings["RIGHTSDESK_RETAINED_KEY"].split(",")
    assert retained[1:] == [OLD] and retained[0] != OLD
    Fernet(retained[0].encode())
    printed = _keys(_app(database_url, tmp_path, OLD), "generate").output
    fresh = dict(line.split("=", 1) for line in printed.splitlines())
    assert "," not in fresh["RIGHTSDESK_PACKAGE_KEY"] and fresh["RIGHTSDESK_PACKAGE_KEY"] != OLD
    assert len(fresh["RIGHTSDESK_AUDIT_KEY"]) == 64  # the audit chain's key, required too


def test_a_rotation_killed_midway_leaves_every_record_readable_and_resumes(database_url, tmp_path):
    rows = _keep_rows(_app(database_url, tmp_path, OLD), 40)
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_SECRET_KEY": "test-secret",
        "RIGHTSDESK_RETAINED_KEY": f"{NEW},{OLD}",
        "RIGHTSDESK_UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    command = [SCRIPT, "keys", "rotate", "--kind", "retained", "--batch", "4", "--pause", "0.5"]
    rotation = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert "re-encrypted" in rotation.stderr.readline()  # a first batch is committed
    rotation.send_signal(signal.SIGKILL)
    rotation.wait(timeout=10)
    rotation.stderr.close()

    both = _app(database_url, tmp_path, f"{NEW},{OLD}")
    assert _readable(both) == rows
    partway = _keys(both, "check", "--kind", "retained").output
    assert "under an older key" in partway and "key 1" in partway

    resumed = subprocess.run(command[:-2], env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr  # the dead holder's lease is taken over
    done = int(resumed.stdout.split("re-encrypted now: ")[1].split()[0])
    assert 0 < done < 40
    assert _readable(_app(database_url, tmp_path, NEW)) == rows


def test_keep_current_writes_derived_audit_and_subject_keys_out_unchanged(database_url, tmp_path):
    """Moving from derived keys to explicit ones, as the deploy check advises: the printed
    audit and subject-hash keys are the ones in force, so the audit chain still verifies and
    host apps' subject hashes do not change."""
    from rightsdesk.core import audit
    from rightsdesk.requests.host_apps import subject_hash

    derived = _app(database_url, tmp_path, OLD)
    with derived.app_context():
        audit.record("test.event", actor=Actor("test"), now=datetime.now(UTC), data={"n": 1})
        db.session.commit()
        before = subject_hash("kim@example.com")
    printed = _keys(derived, "generate", "--keep-current").output
    settings = dict(line.split("=", 1) for line in printed.splitlines())
    assert settings["RIGHTSDESK_AUDIT_KEY"].startswith("hex:")
    explicit = _made(
        database_url,
        RETAINED_KEY=OLD,
        PACKAGE_KEY=OLD,
        SECRET_KEY="a-new-secret",  # the secret rotated at the same time: nothing depends on it
        AUDIT_KEY=settings["RIGHTSDESK_AUDIT_KEY"],
        SUBJECT_HASH_KEY=settings["RIGHTSDESK_SUBJECT_HASH_KEY"],
        UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    verified = explicit.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    with explicit.app_context():
        assert subject_hash("kim@example.com") == before
