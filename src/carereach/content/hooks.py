"""What happens elsewhere when a version is retired: a small registry content calls into.

Content sits below messaging and must not import it. Messaging registers a callback (in its
AppConfig.ready) that cancels queued and scheduled messages of a retired version:

    from carereach.content.hooks import RetiredVersion, content_retired_register

    @content_retired_register
    def cancel_queued(event: RetiredVersion) -> int:
        return Message.objects.filter(content_version_id=event.version_id, ...).update(...)

Callbacks run inside the transaction that withdraws or expires the version, so the retirement and
the cancellations commit together; one that raises rolls the retirement back. A callback may
return how many messages it cancelled; the total is shown to the reviewer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RetiredVersion:
    version_id: int
    item_id: int
    status: str  # "withdrawn" or "expired"
    at: datetime
    reason: str


RetiredHook = Callable[[RetiredVersion], int | None]

_hooks: list[RetiredHook] = []


def content_retired_register(hook: RetiredHook) -> RetiredHook:
    """Call `hook` for every version withdrawn or expired from now on (once, however often)."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def content_retired_unregister(hook: RetiredHook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def content_retired_notify(event: RetiredVersion) -> int:
    """Run every registered hook; the number of messages they say they cancelled."""
    cancelled = 0
    for hook in list(_hooks):
        cancelled += hook(event) or 0
    return cancelled
