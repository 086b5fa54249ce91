"""Group commit: many requests' rows stored by one transaction, each request answered after it.

A request hands its verified row to a `GroupWriter` and (for callbacks) awaits it. The writer's
threads take whatever is waiting, up to `max_batch` rows, write them in one transaction (one
multi-row INSERT, so one commit and one WAL flush for the lot), and only then settle every
waiting request: 200 once its row is committed, an error when the batch failed (the endpoint
answers 503 and the carrier retries). While one batch commits, the next one gathers, so batches
grow with the load by themselves; `linger` may hold a small batch a few milliseconds for more.

Each thread keeps one Django database connection, so a process holds `threads` connections for
writing whatever the request rate (anyio's thread pool, which the endpoints used before, holds
up to 40). The queue is bounded: past `max_pending` rows `submit` raises `WriterFull` at once
(back-pressure: the endpoint answers 503 with Retry-After) instead of letting memory and latency
grow. The writer serves any event loop: a waiting request's future is settled on its own loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

T = TypeVar("T")


class WriterFull(Exception):
    """More rows wait than the writer accepts; try again shortly."""


@dataclass
class _Entry(Generic[T]):
    item: T
    loop: asyncio.AbstractEventLoop | None  # the awaiting request's loop; None: nobody waits
    future: asyncio.Future[None] | None


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request went away (client disconnected)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class GroupWriter(Generic[T]):
    """A bounded queue of rows and `threads` threads committing them in batches with `write`."""

    def __init__(
        self,
        *,
        name: str,
        write: Callable[[Sequence[T]], object],
        threads: int = 1,
        max_batch: int = 500,
        max_pending: int = 5_000,
        linger: float = 0.0,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.linger = linger
        self._write = write
        self._pending: deque[_Entry[T]] = deque()
        self._in_flight = 0
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Rows waiting for a batch (not counting those being written)."""
        return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Rows being written right now."""
        return self._in_flight

    def submit(self, item: T) -> None:
        """Queue a row nobody waits for (a click); raises WriterFull when the queue is full."""
        self._put(_Entry(item, None, None))

    async def write(self, item: T) -> None:
        """Queue a row and return once it is committed; raises WriterFull when the queue is
        full, or the batch's database error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._put(_Entry(item, loop, future))
        await future

    def _put(self, entry: _Entry[T]) -> None:
        with self._ready:
            if self._closed:
                raise WriterFull(f"{self.name} is closed")
            if len(self._pending) >= self.max_pending:
                raise WriterFull(f"{self.name} has {len(self._pending)} rows waiting")
            self._pending.append(entry)
            # Wake a thread for the first row (it may be waiting for any) and for a full batch;
            # a thread lingering for company wakes on its own timer, not once per row.
            if len(self._pending) == 1 or len(self._pending) >= self.max_batch:
                self._ready.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (or failed); False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the threads and close their database connections."""
        self.flush(timeout)
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _take(self) -> list[_Entry[T]] | None:
        """The next batch, waiting for one; None once closed and drained."""
        with self._ready:
            while not self._pending:
                if self._closed:
                    return None
                self._ready.wait()
            if self.linger and len(self._pending) < self.max_batch:
                deadline = time.monotonic() + self.linger
                while len(self._pending) < self.max_batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closed:
                        break
                    self._ready.wait(remaining)
            size = min(len(self._pending), self.max_batch)
            batch = [self._pending.popleft() for _ in range(size)]
            self._in_flight += size
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                error: BaseException | None = None
                close_old_connections()
                try:
                    self._write([entry.item for entry in batch])
                except Exception as failure:  # every waiting request gets it: 503, retried
                    # The class name only: a database error may quote the rows' values.
                    name = type(failure).__name__
                    logger.error("%s: a batch of %d failed: %s", self.name, len(batch), name)
                    error = failure
                finally:
                    close_old_connections()
                self._answer(batch, error)
                with self._ready:
                    self._in_flight -= len(batch)
                    self._ready.notify_all()
        finally:
            connections.close_all()

    def _answer(self, batch: list[_Entry[T]], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for entry in batch:
            if entry.loop is not None and entry.future is not None:
                by_loop.setdefault(entry.loop, []).append(entry.future)
        if error is not None and not by_loop:
            logger.warning("%s: %d rows nobody waited for were lost", self.name, len(batch))
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, futures, error)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                continue


class LazyWriter(Generic[T]):
    """A process's one writer of a kind, started on first use (never at import: management
    commands and tests import the endpoints without serving them)."""

    def __init__(self, factory: Callable[[], GroupWriter[T]]) -> None:
        self._factory = factory
        self._writer: GroupWriter[T] | None = None
        self._lock = threading.Lock()

    def get(self) -> GroupWriter[T]:
        writer = self._writer
        if writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = self._factory()
                writer = self._writer
        return writer

    def close(self) -> None:
        """Write what is queued and stop; the next `get` starts a fresh writer."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
