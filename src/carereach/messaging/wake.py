"""A nudge from a commit to this process's worker loop, so a new message need not wait a tick.

Only a hint: workers also poll, and workers on other machines find the row on their next tick.
"""

from __future__ import annotations

import threading

_event = threading.Event()


def nudge() -> None:
    _event.set()


def wait(timeout: float) -> bool:
    """Sleep until nudged or the timeout passes; True when nudged."""
    nudged = _event.wait(timeout)
    _event.clear()
    return nudged
