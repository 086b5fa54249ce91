"""Settings for the test suite: the product's own settings, with fixed test keys.

The environment still wins (CI sets DATABASE_URL for the PostgreSQL run).
"""

import base64
import os

os.environ.setdefault("CARE_SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault(
    "CARE_FIELD_KEYS",
    ",".join(base64.b64encode(bytes([seed]) * 32).decode() for seed in (1, 2)),
)

from carereach.settings import *  # noqa: F403

# Argon2 still, at minimal cost: sign-in tests exercise the real algorithm quickly.
PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, as in production, not SQLite's shared in-memory database: threads (the live
    # server, ingest writers, background sends) then wait for the write lock (WAL, timeout)
    # instead of failing at once with "database table is locked", which left a worker's
    # connection half inside a transaction and failed the tests after it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
