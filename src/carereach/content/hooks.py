"""What happens elsewhere when a version is retired or published: small registries content calls.

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


# -- published versions ------------------------------------------------------------------------
#
# The mirror image: a version approved (published) is news for apps above content. The
# engagement app registers one that schedules a series episode for the series' subscribers.
# Callbacks run inside the approving transaction, so an approval that rolls back schedules
# nothing; heavy work belongs after commit (`transaction.on_commit`) or to the scheduler.


@dataclass(frozen=True)
class PublishedVersion:
    version_id: int
    item_id: int
    series_id: int | None  # the item's series, if it is an episode
    valid_from: datetime  # when it may first go out
    at: datetime  # when it was approved
    actor_id: int | None  # the reviewer who approved it


PublishedHook = Callable[[PublishedVersion], None]

_published_hooks: list[PublishedHook] = []


def content_published_register(hook: PublishedHook) -> PublishedHook:
    """Call `hook` for every version approved from now on (once, however often registered)."""
    if hook not in _published_hooks:
        _published_hooks.append(hook)
    return hook


def content_published_unregister(hook: PublishedHook) -> None:
    if hook in _published_hooks:
        _published_hooks.remove(hook)


def content_published_notify(event: PublishedVersion) -> None:
    for hook in list(_published_hooks):
        hook(event)
