"""Background processes: the worker and scheduler loops and their heartbeats.

In production each runs as its own command (`carereach worker`, `carereach scheduler`) on any
number of machines; `carereach demo` runs them as threads beside the web server. A loop does its
work in `tick`, writes a heartbeat so /api/v1/health can tell it is alive, and stops promptly
when its stop event is set (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from carereach.content.tasks import content_expire_tick
from carereach.messaging import wake
from carereach.messaging.models import WAITING, Heartbeat, Lane, Message, ProcessKind
from carereach.messaging.services.dispatch import Transports, dispatch_due
from carereach.messaging.services.ingest import ingest_process
from carereach.security.context import request_id_scope

logger = logging.getLogger(__name__)

# Names the PostgreSQL advisory lock held by the one leading scheduler.
SCHEDULER_LOCK = 0x63617265736368


def process_name(kind: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{kind}:{threading.get_ident()}"


def heartbeat_write(*, name: str, kind: ProcessKind, started_at: object) -> None:
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=name, defaults={"kind": kind, "beat_at": now, "started_at": started_at}
    )


def heartbeat_clear(*, name: str) -> None:
    Heartbeat.objects.filter(name=name).delete()


class SchedulerLeadership:
    """One scheduler leads at a time: a session advisory lock on PostgreSQL.

    SQLite has one process by design (the embedded default), so that process always leads.
    """

    def __init__(self) -> None:
        self.held = False

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if connection.vendor != "postgresql":
            self.held = True
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [SCHEDULER_LOCK])
            self.held = bool(cursor.fetchone()[0])
        return self.held

    def release(self) -> None:
        if self.held and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SCHEDULER_LOCK])
        self.held = False


@dataclass
class Loop:
    kind: ProcessKind
    # One pass of work; it may return how many seconds until it has more (a worker: the next
    # due message), which shortens the wait.
    tick: Callable[[], float | None] = lambda: None
    interval: float = field(default_factory=lambda: float(settings.WORKER_HEARTBEAT_SECONDS))
    stop: threading.Event = field(default_factory=threading.Event)

    def halt(self) -> None:
        """Ask the loop to stop after its current tick (also wakes a sleeping worker)."""
        self.stop.set()
        wake.nudge()

    def run(self) -> None:
        name = process_name(self.kind)
        started = timezone.now()
        leadership = SchedulerLeadership() if self.kind == ProcessKind.SCHEDULER else None
        logger.info("%s started as %s", self.kind, name)
        try:
            while not self.stop.is_set():
                close_old_connections()
                with request_id_scope(f"{self.kind}-loop"):
                    leading = leadership is None or leadership.try_acquire()
                    wait = self.interval
                    if leading:
                        heartbeat_write(name=name, kind=self.kind, started_at=started)
                        try:
                            more = self.tick()
                            if more is not None:
                                wait = min(wait, max(more, 0.0))
                        except Exception:  # one bad pass must not end the loop; log and go on
                            logger.exception("%s tick failed", self.kind)
                            connection.close()  # a broken transaction must not poison the next
                if self.kind == ProcessKind.WORKER:
                    if wait > 0:
                        wake.wait(wait)  # a commit that queued a message cuts this short
                else:
                    self.stop.wait(wait)
        finally:
            if leadership is not None:
                leadership.release()
            heartbeat_clear(name=name)
            connection.close()
            logger.info("%s %s stopped", self.kind, name)


def worker_tick(name: str = "") -> float:
    """A worker's work: callbacks first (an opt-out must land before the next send), then a
    batch of due outbox rows; again while batches come back full (a backlog), for up to a
    heartbeat's time. Returns the seconds until the next waiting message is due."""
    name = name or process_name(ProcessKind.WORKER)
    transports = Transports()  # built once for the whole drain
    until = time.monotonic() + settings.WORKER_HEARTBEAT_SECONDS
    while True:
        ingest_process()
        report = dispatch_due(worker=name, transports=transports)
        seen = report.claimed + report.paced + report.skipped + report.expired
        if seen < settings.DISPATCH_BATCH or time.monotonic() >= until:
            break
    return next_due_in()


def next_due_in() -> float:
    """Seconds until the earliest waiting message is due (0 if one is due now); one index probe
    per lane."""
    now = timezone.now()
    dues = [
        Message.objects.filter(status__in=WAITING, lane=lane)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
        for lane in Lane.values
    ]
    soonest = min((due for due in dues if due is not None), default=None)
    if soonest is None:
        return float(settings.WORKER_HEARTBEAT_SECONDS)
    return max((soonest - now).total_seconds(), 0.0)


SchedulerTask = Callable[[], object]
_scheduler_tasks: list[SchedulerTask] = []


def scheduler_task_register(task: SchedulerTask) -> SchedulerTask:
    """Apps above messaging (campaigns, journeys) add their due-work pass to the scheduler at
    start-up, so messaging never imports them."""
    if task not in _scheduler_tasks:
        _scheduler_tasks.append(task)
    return task


def scheduler_tick() -> None:
    """Retires content whose approval window ended (its waiting messages are cancelled with it),
    then runs every registered task (due campaigns, journey waits) once, as the leader. A task
    that fails is logged; the others still run."""
    content_expire_tick()
    for task in list(_scheduler_tasks):
        try:
            task()
        except Exception:
            logger.exception("scheduler task %s failed", getattr(task, "__name__", task))


def worker_loop() -> Loop:
    return Loop(kind=ProcessKind.WORKER, tick=worker_tick)


def scheduler_loop() -> Loop:
    return Loop(kind=ProcessKind.SCHEDULER, tick=scheduler_tick)
