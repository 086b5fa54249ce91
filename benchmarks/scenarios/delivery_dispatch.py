"""delivery_dispatch: claim + ack speed, dispatch through a loopback carrier, and pacing.

PostgreSQL only (workers share the outbox through `FOR UPDATE SKIP LOCKED`). Every figure runs
two worker processes (`multiprocessing`, spawn), started and set up before the clock starts,
that loop `dispatch_due` until no row is left waiting or sending. The carrier is
`carereach.channels.testing.carrier` in a third process: a real HTTP/1.1 server with the shape of
Twilio's Messages API.

- `ceiling` (baseline): the same HTTP client (`TwilioTransport.send_batch`, aiohttp, same batch
  size and concurrency) posting the same number of messages from two processes, with no
  Carereach work at all: what the client and the carrier can do on this machine.
- `claim_ack`: claim + record with no network: a transport that accepts every message at once.
- `dispatch`: claim, POST to the carrier, record; retries and reconciliation on.
- `dispatch_faults`: the same with 10% of requests answered 5xx, 5% 429 with Retry-After: 1,
  1% held past the client's 1 s timeout (half of them created anyway, half not).
- `pacing`: 1 short code (100 segments/s), 1 toll-free number (3/s) and 50 long codes (1/s each),
  each with about ten seconds of backlog, against a carrier that refuses and counts any message
  that would put more than the limit in any sliding second.

After each figure, untimed checks: every row sent, exactly one carrier message per row (its
body carries the row's number) and it is the one whose sid the row recorded, one `sent` event
per row (no double claim). A failed check stops the run.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.harness import Context, HarnessError, scenario

# Scenarios are imported before Django is set up: project modules are imported where used.

WORKERS = 2
BATCH = 500
BODY = "Your refill is ready at Main St Pharmacy. Reply STOP to opt out. #{n}"
FAST_SENDERS = [f"2{n:04d}" for n in range(20)]  # short codes the benchmark lets run fast
SHORT_CODE = "55555"
TOLL_FREE = "+18885550100"
LONG_CODES = [f"+1415555{n:04d}" for n in range(1000, 1050)]
LIMITS = {SHORT_CODE: 100.0, TOLL_FREE: 3.0} | dict.fromkeys(LONG_CODES, 1.0)
PACING_SECONDS = 10  # backlog per sender, in seconds at its limit


class NullCarrier:
    """Accepts every message at once, with no network: what claim + ack costs alone."""

    code = "null"
    idempotent = False
    paced = False

    def __init__(self) -> None:
        self.sent = 0

    def send(self, message: Any) -> Any:
        return self.send_batch([message], [None])[0]

    def send_batch(self, messages: Sequence[Any], slots: Sequence[Any]) -> list[Any]:
        from carereach.channels.base import SendResult

        start = self.sent
        self.sent += len(messages)
        return [
            SendResult(accepted=True, provider_message_id=f"NULL{start + n}")
            for n in range(len(messages))
        ]

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return True

    def parse_status(self, params: Mapping[str, str]) -> Any:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, str]) -> Any:
        raise NotImplementedError


def _worker(mode: str, env: dict[str, str], name: str, ready: Any, start: Any, done: Any) -> None:
    """A worker process: set Django up, wait for the start, then work until nothing is left."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from carereach.messaging.models import Message, MessageStatus
    from carereach.messaging.services.dispatch import Transports, dispatch_due

    if mode == "ceiling":
        _ceiling(name, ready, start, done)
        return
    transports = Transports({"sms": NullCarrier()} if mode == "null" else None)
    transports.get("sms")  # built (and its settings checked) before the clock starts
    left = [MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.SENDING]
    passes = 0
    Message.objects.exists()  # connected before the clock starts
    ready.put(name)
    start.wait()
    while True:
        report = dispatch_due(worker=name, transports=transports)
        passes += 1
        if report.claimed == 0:
            if not Message.objects.filter(status__in=left).exists():
                break
            time.sleep(0.01)
    connection.close()
    done.put((name, passes))


def _ceiling(name: str, ready: Any, start: Any, done: Any) -> None:
    """Half the messages through the transport alone: no database at all."""
    from carereach.channels.base import Outbound
    from carereach.channels.types.twilio.transport import TwilioTransport

    count = int(os.environ["BENCH_CEILING_COUNT"])
    offset = int(name[-1]) * count
    transport = TwilioTransport.from_settings()
    outbounds = [
        Outbound(
            key=f"ceiling:{n}",
            channel="sms",
            to=f"+1415{5550000 + n % 10000:07d}",
            sender=FAST_SENDERS[n % len(FAST_SENDERS)],
            body=BODY.format(n=n),
        )
        for n in range(offset, offset + count)
    ]
    transport.send_batch(outbounds[:1], [None])  # connect before the clock starts
    ready.put(name)
    start.wait()
    for first in range(1, count, BATCH):
        batch = outbounds[first : first + BATCH]
        results = transport.send_batch(batch, [None] * len(batch))
        if not all(r.accepted for r in results):
            raise HarnessError("the carrier refused a message of the ceiling run")
    done.put((name, count))


def _run_workers(mode: str, env: dict[str, str]) -> tuple[Callable[[], None], Callable[[], None]]:
    """Start the worker processes (set up, waiting); returns (go and wait, clean up)."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    ready = context.Queue()
    done = context.Queue()
    processes = [
        context.Process(target=_worker, args=(mode, env, f"bench-w{n}", ready, start, done))
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)  # both set up and connected

    def go() -> None:
        start.set()
        for _ in processes:
            done.get(timeout=600)
        for process in processes:
            process.join(timeout=60)
            if process.exitcode != 0:
                raise HarnessError(f"a worker process ended with {process.exitcode}")

    def clean() -> None:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join(timeout=10)

    return go, clean


def _measure(
    ctx: Context, label: str, rows: int, mode: str, env: dict[str, str], **kw: Any
) -> None:
    go, clean = _run_workers(mode, env)
    try:
        ctx.measure(label, rows, go, **kw)
    finally:
        clean()


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_messageevent, messaging_message, messaging_senderbudget CASCADE"
        )


def _program() -> int:
    from django.utils import timezone

    from carereach.consent.models import Program

    program, _ = Program.objects.get_or_create(
        code="bench-refills",
        defaults={
            "name": "Bench refills",
            "type": "transactional",
            "channels": ["sms"],
            "frequency": "as needed",
            "help_contact": "+18005550100",
            "disclosure_text": "Refill reminders.",
            "disclosure_version": "1",
            "created_at": timezone.now(),
        },
    )
    return int(program.pk)


def _queue(count: int, senders: Sequence[str], program: int) -> None:
    """`count` queued texts, due now, round-robin over the senders (untimed)."""
    from django.utils import timezone

    from benchmarks.harness import batched
    from carereach.messaging.models import Lane, Message, MessageStatus

    now = timezone.now()
    for chunk in batched(range(count), 5000):
        Message.objects.bulk_create(
            [
                Message(
                    key=f"bench:{n}",
                    origin="campaign",
                    lane=Lane.BULK,
                    program_id=program,
                    channel="sms",
                    address=f"+1415{5550000 + n % 10000:07d}",
                    sender=senders[n % len(senders)],
                    body=BODY.format(n=n),
                    status=MessageStatus.QUEUED,
                    reasons=[],
                    due_at=now,
                    created_at=now,
                    segments=1,
                )
                for n in chunk
            ]
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE messaging_message")


def _check_outbox(count: int, carrier: str | None) -> dict[str, int]:
    """Every row sent once, and (with a carrier) exactly one carrier message per row: the one
    whose sid the row recorded."""
    from django.db import connection

    from carereach.channels.testing.carrier import control
    from carereach.messaging.models import Message, MessageEvent

    statuses: dict[str, int] = {}
    for status in Message.objects.values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    if statuses != {"sent": count}:
        raise HarnessError(f"expected {count} sent, found {statuses}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM messaging_messageevent "
            "WHERE kind = 'sent'"
        )
        events, distinct = cursor.fetchone()
    if events != count or distinct != count:
        raise HarnessError(f"{events} sent events for {distinct} of {count} rows: double claims")
    if carrier is None:
        return {"events": MessageEvent.objects.count()}
    accepted = control(carrier, "accepted")
    by_body: dict[str, list[str]] = {}
    for message in accepted:
        by_body.setdefault(message["body"], []).append(message["sid"])
    recorded = dict(Message.objects.values_list("key", "provider_message_id"))
    wrong = 0
    for n in range(count):
        sids = by_body.get(BODY.format(n=n), [])
        if sids != [recorded.get(f"bench:{n}")]:
            wrong += 1
    if wrong or len(accepted) != count:
        raise HarnessError(
            f"{len(accepted)} carrier messages for {count} rows; {wrong} rows without exactly "
            "one carrier message matching their recorded sid"
        )
    return control(carrier, "stats")["counts"]  # type: ignore[no-any-return]


def _twilio_env(url: str, **extra: str) -> dict[str, str]:
    from carereach.channels.testing.carrier import SID, TOKEN

    return {
        "CARE_SMS_PROVIDER": "twilio",
        "CARE_TWILIO_ACCOUNT_SID": SID,
        "CARE_TWILIO_AUTH_TOKEN": TOKEN,
        "CARE_TWILIO_API_BASE": url,
        "CARE_TWILIO_TIMEOUT_SECONDS": "1",
        "CARE_SEND_RECONCILE_SECONDS": "2",
        "CARE_SEND_MAX_ATTEMPTS": "12",
        "CARE_DISPATCH_BATCH": str(BATCH),
        "CARE_SENDER_RATES": ",".join(f"{sender}=100000" for sender in FAST_SENDERS),
    } | extra


def _pacing_report(stats: Mapping[str, Any]) -> list[str]:
    """Per sender kind: the slowest sender's rate as a share of its limit, windows over it, and
    how long after the first send anywhere its own first send went."""
    problems: list[str] = []
    started = min(seen["first"] for seen in stats["senders"].values())
    kinds = {"short code": [SHORT_CODE], "toll-free": [TOLL_FREE], "long codes": LONG_CODES}
    for kind, senders in kinds.items():
        shares, peaks, over, lags = [], [], 0, []
        for sender in senders:
            seen = stats["senders"][sender]
            span = seen["last"] - seen["first"]
            shares.append((seen["segments"] - 1) / span / seen["limit"] if span else 0.0)
            peaks.append(seen["peak"] / seen["limit"])
            over += seen["violations"]
            lags.append(seen["first"] - started)
        print(
            f"    {kind:<10} {len(senders):>2} sender(s): rate while backlogged "
            f"{min(shares):.3f}-{max(shares):.3f} of the limit, busiest second "
            f"{max(peaks):.2f} of it, {over} over the limit, first send "
            f"{max(lags):.2f} s after the start"
        )
        if min(shares) < 0.95 or over:
            problems.append(f"{kind}: rate {min(shares):.3f} of the limit, {over} over it")
    return problems


@scenario("delivery_dispatch", databases=("postgresql",))
def delivery_dispatch(ctx: Context) -> None:
    """Claim + ack, dispatch through a loopback Twilio-shaped carrier (clean and faulty), pacing."""
    from django.db import connection

    from carereach.channels.testing.carrier import CarrierConfig, carrier_process, control
    from carereach.messaging.models import Message

    if Message.objects.exists():
        raise HarnessError("delivery_dispatch needs an empty outbox; this database has messages")
    program = _program()
    carrier, url = carrier_process(CarrierConfig())
    try:
        count = ctx.sized(small=6_000, full=30_000)
        control(url, "configure", CarrierConfig())
        _measure(
            ctx,
            "ceiling",
            count,
            "ceiling",
            _twilio_env(url, BENCH_CEILING_COUNT=str(count // WORKERS)),
            baseline=True,
        )

        claims = ctx.sized(small=20_000, full=100_000)
        _queue(claims, ["12345"], program)
        _measure(ctx, "claim_ack", claims, "null", {"CARE_DISPATCH_BATCH": "1000"})
        _check_outbox(claims, None)
        _reset()

        _queue(count, FAST_SENDERS, program)
        control(url, "configure", CarrierConfig())
        _measure(ctx, "dispatch", count, "twilio", _twilio_env(url))
        print(f"    carrier: {_check_outbox(count, url)}")
        _reset()

        _queue(count, FAST_SENDERS, program)
        faults = CarrierConfig(
            fault_5xx=0.10, fault_429=0.05, fault_timeout=0.01, retry_after=1, hold_seconds=3.0
        )
        control(url, "configure", faults)
        _measure(ctx, "dispatch_faults", count, "twilio", _twilio_env(url))
        print(f"    carrier: {_check_outbox(count, url)}")
        _reset()

        # About ten seconds of backlog per sender at its limit, round-robin, so the slow senders'
        # rows sit at the head of the queue among the short code's.
        quota = {sender: int(limit * PACING_SECONDS * 0.96) for sender, limit in LIMITS.items()}
        backlog = [s for n in range(max(quota.values())) for s in LIMITS if n < quota[s]]
        _queue(len(backlog), backlog, program)
        control(url, "configure", CarrierConfig(limits=LIMITS))
        _measure(ctx, "pacing", len(backlog), "twilio", _twilio_env(url, CARE_SENDER_RATES=""))
        print(f"    carrier: {_check_outbox(len(backlog), url)}")
        problems = _pacing_report(control(url, "stats"))
        if problems:
            print(f"    PACING TARGET MISSED: {'; '.join(problems)}")
        _reset()
    finally:
        carrier.terminate()
        carrier.join(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE messaging_messageevent, messaging_message, messaging_senderbudget CASCADE"
            )
