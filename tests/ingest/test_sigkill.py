"""An acknowledged receipt is never lost: `carereach ingest` killed with SIGKILL under load.

A real server process (uvicorn, as `carereach ingest` runs it) on a loopback port, on the test
run's own database (PostgreSQL when the suite runs on it, else a SQLite file), takes signed
receipts from many concurrent connections; once a few hundred are acknowledged it is killed
outright, mid-batch. A fresh process then starts on the same database, and every receipt that
got a 200 from either process must be stored.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from django.db import connection

from carereach.ingest.app import WRITE_THREADS
from carereach.messaging.models import IngestEvent
from tests.channels.twilio_fake import SID, TOKEN, FakeTwilio
from tests.ingest import server
from tests.ingest.test_endpoints import status_form

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 32
KILL_AFTER = 300  # acknowledged receipts before the SIGKILL


def _database_url(tmp_path: Path) -> str:
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{tmp_path / 'ingest.sqlite3'}"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARE_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "carereach.settings",
            "CARE_SECRET_KEY": os.environ["CARE_SECRET_KEY"],
            "CARE_FIELD_KEYS": os.environ["CARE_FIELD_KEYS"],
            "CARE_HOME": str(tmp_path),
            "DATABASE_URL": _database_url(tmp_path),
            "CARE_SMS_PROVIDER": "twilio",
            "CARE_TWILIO_ACCOUNT_SID": SID,
            "CARE_TWILIO_AUTH_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    return env


def _server_connections(exclude: int) -> int:
    """From a thread of its own: connections to the test database other than this thread's and
    the test's (`exclude`), that is the server's (PostgreSQL only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid NOT IN (pg_backend_pid(), %s)",
                [exclude],
            )
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


async def _load(
    url: str, process: subprocess.Popen[bytes], first: int, seen: list[int], test_pid: int | None
) -> tuple[set[str], int]:
    """Send receipts until the server is gone; kill it after KILL_AFTER acknowledgements,
    noting in `seen` how many database connections the server held under that load.
    Returns the acknowledged message ids and how many requests got no 200."""
    signer = FakeTwilio()
    endpoint = f"{url}/hooks/twilio/status"
    numbers = itertools.count(first)
    acknowledged: set[str] = set()
    failed = 0
    killed = asyncio.Event()

    async def worker(client: httpx2.AsyncClient) -> None:
        nonlocal failed
        while True:
            sid = f"SM{next(numbers):032d}"
            form = status_form(sid, "delivered")
            try:
                response = await client.post(
                    endpoint, data=form, headers={"X-Twilio-Signature": signer.sign(endpoint, form)}
                )
            except httpx2.TransportError:
                failed += 1
                return  # the server is gone
            if response.status_code == 200:
                acknowledged.add(sid)
                if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    if test_pid is not None:
                        seen.append(await asyncio.to_thread(_server_connections, test_pid))
                    os.kill(process.pid, signal.SIGKILL)
            else:
                failed += 1

    limits = httpx2.Limits(max_connections=CONNECTIONS)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONNECTIONS)))
    return acknowledged, failed


def test_every_acknowledged_receipt_survives_a_sigkill(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    if connection.vendor != "postgresql":
        subprocess.run(
            [sys.executable, "-m", "carereach.cli", "migrate", "--verbosity", "0"],
            env=env,
            cwd=tmp_path,
            check=True,
        )
    with server.serving(env, tmp_path) as (url, process):
        seen: list[int] = []
        test_pid = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                test_pid = int(cursor.fetchone()[0])
        acknowledged, failed = asyncio.run(_load(url, process, 0, seen, test_pid))
        assert process.wait(timeout=30) == -signal.SIGKILL
    if test_pid is not None:  # under load: the writer's connections, not one per request
        assert 1 <= seen[0] <= WRITE_THREADS, seen
    assert len(acknowledged) >= KILL_AFTER
    assert failed >= 1  # some requests were cut off by the kill: it happened under load

    with server.serving(env, tmp_path) as (url, _process):
        signer = FakeTwilio()
        endpoint = f"{url}/hooks/twilio/status"
        after = status_form("SM" + "9" * 32, "delivered")
        assert signer.callback(endpoint, after).status_code == 200
        acknowledged.add(after["MessageSid"])

    if connection.vendor == "postgresql":
        stored = set(IngestEvent.objects.values_list("provider_message_id", flat=True))
    else:
        import sqlite3

        with sqlite3.connect(tmp_path / "ingest.sqlite3") as db:
            stored = {
                row[0]
                for row in db.execute("SELECT provider_message_id FROM messaging_ingestevent")
            }
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged receipts lost"
