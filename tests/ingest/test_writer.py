"""The group-commit writer on its own: batches, answers, errors and back-pressure.

`GroupWriter` takes the function that writes one batch; here it is a plain function recording
the batches it gets (and, to hold the writer busy, one that waits on an event), so the tests see
exactly how rows were grouped. The endpoints' use of it against a real database is in
test_group_commit.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from carereach.ingest.writer import GroupWriter, WriterFull


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.fail_on: set[int] = set()

    def __call__(self, rows: Sequence[int]) -> None:
        self.started.set()
        assert self.release.wait(10)
        if self.fail_on & set(rows):
            raise RuntimeError("the database said no")
        self.batches.append(list(rows))


def test_many_waiting_rows_are_written_in_few_batches_each_once() -> None:
    recorder = Recorder()
    recorder.release.clear()  # the first batch waits, so the others pile up behind it
    writer: GroupWriter[int] = GroupWriter(name="t", write=recorder, threads=1, max_batch=50)

    async def main() -> None:
        first = asyncio.ensure_future(writer.write(0))
        while not recorder.started.is_set():
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(writer.write(n)) for n in range(1, 121)]
        await asyncio.sleep(0)
        assert writer.pending == 120
        recorder.release.set()
        await asyncio.gather(first, *rest)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert [len(batch) for batch in recorder.batches] == [1, 50, 50, 20]
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(121))
    assert recorder.batches[1] == list(range(1, 51))  # arrival order within and across batches


def test_a_failed_batch_fails_each_of_its_requests_and_only_those() -> None:
    recorder = Recorder()
    recorder.release.clear()
    recorder.fail_on = {7}
    writer: GroupWriter[int] = GroupWriter(name="t", write=recorder, threads=1, max_batch=5)

    async def main() -> list[BaseException | None]:
        first = asyncio.ensure_future(writer.write(0))
        while not recorder.started.is_set():
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(writer.write(n)) for n in range(1, 11)]
        await asyncio.sleep(0)
        recorder.release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        outcomes = asyncio.run(main())
    finally:
        writer.close()
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, RuntimeError)]
    assert failed == [6, 7, 8, 9, 10]  # the batch holding 7, whole
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]


def test_a_full_queue_refuses_at_once_and_accepts_again_when_drained() -> None:
    recorder = Recorder()
    recorder.release.clear()
    writer: GroupWriter[int] = GroupWriter(
        name="t", write=recorder, threads=1, max_batch=10, max_pending=3
    )
    try:
        writer.submit(0)
        assert recorder.started.wait(10)  # row 0 is being written; the writer is busy
        for n in (1, 2, 3):
            writer.submit(n)
        with pytest.raises(WriterFull):
            writer.submit(4)
        assert (writer.pending, writer.in_flight) == (3, 1)
        recorder.release.set()
        assert writer.flush()
        writer.submit(5)
        assert writer.flush()
    finally:
        writer.close()
    assert [n for batch in recorder.batches for n in batch] == [0, 1, 2, 3, 5]


def test_rows_nobody_waits_for_are_written_by_close() -> None:
    recorder = Recorder()
    writer: GroupWriter[int] = GroupWriter(name="t", write=recorder, linger=0.05)
    for n in range(30):
        writer.submit(n)
    writer.close()
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(30))
    with pytest.raises(WriterFull):  # closed
        writer.submit(99)


def test_two_threads_write_two_batches_at_once() -> None:
    recorder = Recorder()
    recorder.release.clear()
    entered = threading.Semaphore(0)

    def write(rows: Sequence[int]) -> None:
        entered.release()
        recorder(rows)

    writer: GroupWriter[int] = GroupWriter(name="t", write=write, threads=2, max_batch=1)
    try:
        writer.submit(1)
        writer.submit(2)
        assert entered.acquire(timeout=10)
        assert entered.acquire(timeout=10)  # both in flight while neither has finished
        assert writer.in_flight == 2
        recorder.release.set()
        assert writer.flush()
    finally:
        writer.close()
    assert sorted(n for batch in recorder.batches for n in batch) == [1, 2]
