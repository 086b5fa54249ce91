"""Settings read from environment variables, each checked with a one-line reason on failure.

Django's settings module calls these; nothing else reads os.environ for configuration, so the
README's settings table and this file are the whole story.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url

from carereach.errors import ConfigError

FIELD_KEY_BYTES = 32


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def require(environ: Mapping[str, str], name: str, expects: str) -> str:
    value = _env(environ, name)
    if value is None:
        raise ConfigError(f"{name} is not set: expected {expects}")
    return value


def secret_key(environ: Mapping[str, str] = os.environ) -> str:
    value = require(environ, "CARE_SECRET_KEY", "a random string of at least 32 characters")
    if len(value) < 32:
        raise ConfigError("CARE_SECRET_KEY is too short: expected at least 32 characters")
    return value


def field_keys(environ: Mapping[str, str] = os.environ) -> list[bytes]:
    """Keys for PHI field encryption, newest first; older keys stay to read old rows."""
    expects = "comma-separated base64 keys of 32 bytes each, newest first"
    raw = require(environ, "CARE_FIELD_KEYS", expects)
    keys: list[bytes] = []
    for position, part in enumerate(raw.split(","), start=1):
        try:
            key = base64.b64decode(part.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"CARE_FIELD_KEYS key {position} is not base64: expected {expects}"
            ) from None
        if len(key) != FIELD_KEY_BYTES:
            raise ConfigError(
                f"CARE_FIELD_KEYS key {position} is {len(key)} bytes: expected {expects}"
            )
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise ConfigError(f"CARE_FIELD_KEYS repeats a key: expected {expects}")
    return keys


def database(environ: Mapping[str, str], default_sqlite: Path) -> dict[str, Any]:
    url = _env(environ, "DATABASE_URL") or f"sqlite:///{default_sqlite}"
    expects = "postgres://user@host:port/name or sqlite:///path"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"DATABASE_URL is malformed ({exc}): expected {expects}") from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine.endswith("postgresql"):
        config.setdefault("OPTIONS", {})
    else:
        raise ConfigError(f"DATABASE_URL uses an unsupported engine {engine!r}: expected {expects}")
    return config


def integer(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = _env(environ, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} is {value!r}: expected a whole number") from None
    if number < minimum:
        raise ConfigError(f"{name} is {number}: expected a whole number of at least {minimum}")
    return number


def boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = _env(environ, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} is {value!r}: expected true or false")


def host_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    value = _env(environ, name)
    if value is None:
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def url(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _env(environ, name) or default
    if not value.startswith(("http://", "https://")) or " " in value:
        raise ConfigError(f"{name} is {value!r}: expected an http:// or https:// URL")
    return value.rstrip("/")


def rates(environ: Mapping[str, str], name: str) -> dict[str, float]:
    """`sender=rate` pairs, comma-separated, each rate a positive number of segments/s."""
    found: dict[str, float] = {}
    for position, pair in enumerate((_env(environ, name) or "").split(","), start=1):
        if not pair.strip():
            continue
        sender, equals, rate = pair.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = 0.0
        if not equals or not sender.strip() or value <= 0:
            raise ConfigError(
                f"{name} entry {position} ({pair.strip()!r}) is not sender=rate with a positive "
                "rate in segments per second"
            )
        found[sender.strip()] = value
    return found
