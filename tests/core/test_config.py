"""Start-up settings: a missing or malformed one stops with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carereach import config
from carereach.errors import ConfigError

GOOD_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "CARE_SECRET_KEY is not set"),
        ({"CARE_SECRET_KEY": "short"}, "CARE_SECRET_KEY is too short"),
    ],
)
def test_secret_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.secret_key(environ)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "CARE_FIELD_KEYS is not set"),
        ("not base64!", "key 1 is not base64"),
        (f"{GOOD_KEY},c2hvcnQ=", "key 2 is 5 bytes"),
        (f"{GOOD_KEY},{GOOD_KEY}", "repeats a key"),
    ],
)
def test_field_keys(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.field_keys({"CARE_FIELD_KEYS": value})


def test_database_urls(tmp_path: Path) -> None:
    default = config.database({}, tmp_path / "x.sqlite3")
    assert default["ENGINE"].endswith("sqlite3")
    assert default["NAME"] == str(tmp_path / "x.sqlite3")
    pg = config.database({"DATABASE_URL": "postgres://u@db:5432/care"}, tmp_path)
    assert (pg["ENGINE"], pg["HOST"], pg["NAME"]) == ("django.db.backends.postgresql", "db", "care")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        config.database({"DATABASE_URL": "mysql://u@db/care"}, tmp_path)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        config.database({"DATABASE_URL": "nonsense"}, tmp_path)


def test_integers_and_booleans() -> None:
    assert config.integer({"N": "20"}, "N", 15, minimum=1) == 20
    assert config.integer({}, "N", 15) == 15
    with pytest.raises(ConfigError, match="N is 'ten': expected a whole number"):
        config.integer({"N": "ten"}, "N", 15)
    with pytest.raises(ConfigError, match="at least 1"):
        config.integer({"N": "0"}, "N", 15, minimum=1)
    assert config.boolean({"B": "Yes"}, "B", False) is True
    with pytest.raises(ConfigError, match="B is 'maybe': expected true or false"):
        config.boolean({"B": "maybe"}, "B", False)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CARE_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-m", "carereach.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "carereach: CARE_SECRET_KEY is not set: expected a random string of at least 32"),
        (
            {"CARE_SECRET_KEY": "k" * 40, "CARE_FIELD_KEYS": "zz"},
            "carereach: CARE_FIELD_KEYS key 1 is not base64",
        ),
        (
            {
                "CARE_SECRET_KEY": "k" * 40,
                "CARE_FIELD_KEYS": GOOD_KEY,
                "CARE_IDLE_LOGOUT_MINUTES": "soon",
            },
            "carereach: CARE_IDLE_LOGOUT_MINUTES is 'soon': expected a whole number",
        ),
    ],
)
def test_cli_stops_with_one_line(env: dict[str, str], line: str) -> None:
    result = _cli(env, "check")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(line)
    assert "Traceback" not in result.stderr


def test_cli_runs_with_good_settings(tmp_path: Path) -> None:
    env = {"CARE_SECRET_KEY": "k" * 40, "CARE_FIELD_KEYS": GOOD_KEY, "CARE_HOME": str(tmp_path)}
    result = _cli(env, "help")
    assert result.returncode == 0
    for command in ("web", "worker", "scheduler", "demo", "apikey", "audit", "keys"):
        assert command in result.stdout


def test_public_url() -> None:
    assert config.url({}, "U", "http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert config.url({"U": "https://care.example.org/"}, "U", "x") == "https://care.example.org"
    with pytest.raises(ConfigError, match="expected an http:// or https:// URL"):
        config.url({"U": "care.example.org"}, "U", "x")


def test_cli_accepts_dashed_command_names(tmp_path: Path) -> None:
    env = {"CARE_SECRET_KEY": "k" * 40, "CARE_FIELD_KEYS": GOOD_KEY, "CARE_HOME": str(tmp_path)}
    result = _cli(env, "demo-data", "--help")
    assert result.returncode == 0, result.stderr
    assert "--hcps" in result.stdout
