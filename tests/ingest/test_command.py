"""`carereach ingest`: refuses to start without credentials; serves /hooks/ as its own process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from django.core.management import call_command

from tests.channels.twilio_fake import SID, TOKEN, FakeTwilio
from tests.ingest import server

ROOT = Path(__file__).resolve().parents[2]


def test_missing_credentials_stop_it_with_one_line(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "sms": "twilio"}
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(SystemExit) as stopped:
        call_command("ingest")
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: CARE_TWILIO_AUTH_TOKEN is not set")
    assert "\n" not in err


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARE_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "carereach.settings",
            "CARE_SECRET_KEY": "ingest-command-test-" + "x" * 32,
            "CARE_FIELD_KEYS": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
            "CARE_HOME": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'ingest.sqlite3'}",
            "CARE_SMS_PROVIDER": "twilio",
            "CARE_TWILIO_ACCOUNT_SID": SID,
            "CARE_TWILIO_AUTH_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    return env


@contextmanager
def serving(tmp_path: Path) -> Iterator[str]:
    with server.serving(_environment(tmp_path), tmp_path) as (url, _process):
        yield url


def test_it_serves_the_hooks_and_refuses_forgeries(tmp_path: Path) -> None:
    with serving(tmp_path) as url:
        response = httpx2.post(
            f"{url}/hooks/twilio/inbound",
            data={"MessageSid": "SM1", "From": "+14155550101", "To": "+18005550100", "Body": "x"},
            headers={"X-Twilio-Signature": "Zm9yZ2Vk"},
        )
        assert response.status_code == 403
        assert httpx2.get(f"{url}/admin/").status_code == 404  # nothing but the hooks


@pytest.mark.slow
def test_an_acknowledged_callback_is_in_the_database(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "carereach.cli", "migrate", "--verbosity", "0"],
        env=_environment(tmp_path),
        cwd=tmp_path,
        check=True,
    )
    with serving(tmp_path) as url:
        form = {
            "MessageSid": "SM" + "7" * 32,
            "From": "+14155550101",
            "To": "+18005550100",
            "Body": "HELP",
        }
        assert FakeTwilio().callback(f"{url}/hooks/twilio/inbound", form).status_code == 200
    with sqlite3.connect(tmp_path / "ingest.sqlite3") as db:
        rows = db.execute(
            "SELECT provider, kind, provider_message_id FROM messaging_ingestevent"
        ).fetchall()
    assert rows == [("twilio", "inbound", "SM" + "7" * 32)]
