"""Replaying consent: the pure rules that turn ledger entries into current state.

Services apply these same rules to the live state table, and a property test replays the whole
ledger to prove the two agree. Order is by when the person acted (`occurred_at`); at the same
instant a revocation wins; entry id breaks the remaining ties.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

GRANT, PENDING, REVOKE = "grant", "pending", "revoke"
GRANTED, PENDING_STATUS, REVOKED = "granted", "pending", "revoked"

Key = tuple[str, str, int]  # (address, channel, program id)


@dataclass(frozen=True)
class Event:
    entry_id: int
    contact_id: int
    address: str
    channel: str
    program_id: int | None  # None: every program on this address and channel
    action: str
    occurred_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class State:
    contact_id: int
    status: str
    granted_at: datetime | None
    expires_at: datetime | None
    changed_at: datetime
    entry_id: int


def order_key(event: Event) -> tuple[datetime, int, int]:
    return (event.occurred_at, 1 if event.action == REVOKE else 0, event.entry_id)


def apply(states: dict[Key, State], event: Event) -> list[Key]:
    """Apply one event in place; returns the keys it changed."""
    if event.program_id is None:
        if event.action != REVOKE:
            raise ValueError("only a revocation may name every program")
        keys = [k for k in states if k[0] == event.address and k[1] == event.channel]
    else:
        keys = [(event.address, event.channel, event.program_id)]
    changed = []
    for key in keys:
        before = states.get(key)
        after = _next(before, event)
        if after != before:
            states[key] = after
            changed.append(key)
    return changed


def _next(before: State | None, event: Event) -> State:
    if event.action == GRANT:
        return State(
            contact_id=event.contact_id,
            status=GRANTED,
            granted_at=event.occurred_at,
            expires_at=event.expires_at,
            changed_at=event.occurred_at,
            entry_id=event.entry_id,
        )
    if event.action == PENDING:
        if before is not None and before.status == GRANTED:
            return before  # asking again does not suspend a consent already confirmed
        return State(
            contact_id=event.contact_id,
            status=PENDING_STATUS,
            granted_at=None,
            expires_at=None,
            changed_at=event.occurred_at,
            entry_id=event.entry_id,
        )
    if before is not None and before.status == REVOKED:
        return before
    base = before or State(event.contact_id, REVOKED, None, None, event.occurred_at, 0)
    return replace(
        base,
        status=REVOKED,
        expires_at=None,
        changed_at=event.occurred_at,
        entry_id=event.entry_id,
        contact_id=event.contact_id if before is None else base.contact_id,
    )


def replay(events: Iterable[Event]) -> dict[Key, State]:
    states: dict[Key, State] = {}
    for event in sorted(events, key=order_key):
        apply(states, event)
    return states


def allowed(state: State | None, now: datetime) -> tuple[bool, str]:
    """May we contact on this state now? The reason names the rule when we may not."""
    if state is None:
        return False, "no_consent"
    if state.status == PENDING_STATUS:
        return False, "consent_pending"
    if state.status == REVOKED:
        return False, "consent_revoked"
    if state.expires_at is not None and state.expires_at <= now:
        return False, "consent_expired"
    return True, "consented"
