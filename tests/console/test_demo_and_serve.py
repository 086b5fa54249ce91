"""`carereach demo` seeds idempotently; `carereach web` serves and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from carereach.consent.models import Program
from carereach.console.demo import DEMO_USERS, demo_seed
from carereach.security.permissions import roles_of

GOOD_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


@pytest.mark.django_db
def test_demo_seed_makes_one_user_per_role_once() -> None:
    first = demo_seed()
    second = demo_seed()
    assert first.users == second.users
    assert User.objects.filter(username__in=DEMO_USERS).count() == len(DEMO_USERS)
    assert set(Program.objects.values_list("code", flat=True)) == {
        "cardio-podcast",
        "clinic-reminders",
        "refill-reminders",
        "wellness-tips",
    }
    for username, role in DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert roles_of(user) == [role]
        assert user.check_password("carereach-demo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_demo_serves_console_api_worker_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARE_", "DJANGO_"))}
    env.update(
        CARE_SECRET_KEY="k" * 40,
        CARE_FIELD_KEYS=GOOD_KEY,
        CARE_HOME=str(tmp_path),
        CARE_WORKER_HEARTBEAT_SECONDS="1",
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "carereach.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"{base}/api/v1/health")
                health = json.loads(body)
                if status == 200 and health["status"] == "ok":
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert health.get("status") == "ok", health
        status, page = _get(f"{base}/signin/")
        assert status == 200
        assert b"Sign in" in page
        assert _get(f"{base}/static/console/console.css")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "password for all: carereach-demo" in output
    assert "worker" in output
    assert "stopped" in output
    assert "Traceback" not in output
