"""The README's run path, end to end: migrate, load the demo, serve, answer over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_migrate_demo_and_serve(tmp_path: Path):
    script = str(Path(sys.executable).with_name("rightsdesk"))
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "RIGHTSDESK_SECRET_KEY": "serve-test",
    }
    for step in (["db", "upgrade"], ["demo", "load"]):
        done = subprocess.run([script, *step], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [script, "requests", "list", "--status", "open"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(listed.stdout.splitlines()) >= 5

    port = _free_port()
    server = subprocess.Popen(
        [script, "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    body = response.read().decode("utf-8")
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        assert "개인정보 열람" in body and "데모 쇼핑" in body
    finally:
        server.terminate()
        server.communicate(timeout=10)
