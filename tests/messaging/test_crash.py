"""Workers killed mid-batch (SIGKILL), again and again: every message reaches the carrier once.

Real `carereach worker` processes send through the Twilio transport to the loopback test
carrier (a real HTTP server with Twilio's Messages API shape; it answers each send after a short
delay, so kills land while requests are in flight). Each round starts two workers, waits until
the carrier has taken a few more messages, and kills one or both at a random moment. Rows a dead
worker left in `sending` have an unknown outcome: recovery looks each one up at the carrier
before anything is sent again. At the end every row is sent, and the carrier holds exactly one
message per row: the one whose sid the row recorded.

PostgreSQL only: the workers are separate processes sharing the database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from carereach.channels.testing.carrier import SID, TOKEN, CarrierConfig, LoopbackCarrier
from carereach.messaging.models import Message, MessageEvent, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COUNT = 200
ROUNDS = 8
SENDER = "12345"


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/{db['NAME']}"


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "carereach"), "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_killed_workers_never_send_twice_and_never_lose_one(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("workers in separate processes share the database: PostgreSQL")
    rng = random.Random(6)
    program = factories.program("refills", type="transactional", sender_numbers=[SENDER])
    person = messaging.consented("+14155550101", program)
    for n in range(COUNT):
        messaging.queued(person, program, f"crash:{n}", f"Refill reminder #{n}", sender=SENDER)
    # Each answer takes 0.3 s after the message is created, so a kill soon after the carrier
    # has taken new messages lands while their batch waits for its answers (mid-batch).
    with LoopbackCarrier(CarrierConfig(latency=0.3)) as carrier:
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "DATABASE_URL": _database_url(),
            "CARE_SMS_PROVIDER": "twilio",
            "CARE_TWILIO_ACCOUNT_SID": SID,
            "CARE_TWILIO_AUTH_TOKEN": TOKEN,
            "CARE_TWILIO_API_BASE": carrier.url,
            "CARE_SENDER_RATES": f"{SENDER}=1000",
            "CARE_DISPATCH_BATCH": "25",
            "CARE_WORKER_HEARTBEAT_SECONDS": "1",
        }
        kills = 0
        for _ in range(ROUNDS):
            seen = len(carrier.accepted())
            if seen >= COUNT:
                break
            workers = [_worker(env), _worker(env)]
            deadline = time.monotonic() + 60
            while len(carrier.accepted()) < seen + 5 and time.monotonic() < deadline:
                if any(w.poll() is not None for w in workers):
                    pytest.fail(f"a worker stopped: {workers[0].stderr.read()!r}")  # type: ignore[union-attr]
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.15))  # somewhere in a batch
            for worker in rng.sample(workers, rng.choice([1, 2])):
                worker.send_signal(signal.SIGKILL)
                kills += 1
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
                worker.wait(timeout=30)
        stuck = Message.objects.filter(status=MessageStatus.SENDING).count()
        # What the dead workers left: looked up at the carrier, then sent if it never went.
        settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "sms": "twilio"}
        settings.TWILIO_ACCOUNT_SID = SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_API_BASE = carrier.url
        settings.SENDER_RATES = {SENDER: 1000.0}
        settings.SEND_STALE_SECONDS = 0
        for _ in range(100):
            dispatch_due(worker="survivor")
            if not Message.objects.exclude(status=MessageStatus.SENT).exists():
                break
        accepted = carrier.accepted()
    assert kills >= ROUNDS
    assert stuck > 0  # the kills did land mid-batch
    assert Message.objects.filter(status=MessageStatus.SENT).count() == COUNT
    bodies = [m.body for m in accepted]
    assert len(bodies) == COUNT
    assert sorted(bodies) == sorted(f"Refill reminder #{n}" for n in range(COUNT))
    by_body = {m.body: m.sid for m in accepted}
    for key, sid in Message.objects.values_list("key", "provider_message_id"):
        assert by_body[f"Refill reminder #{key.split(':')[1]}"] == sid
    looked_up = MessageEvent.objects.filter(detail__reason__in=["reconciled", "not_sent"])
    assert looked_up.exists()
