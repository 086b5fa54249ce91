"""Answers to our messages: apps above messaging (journeys, surveys) claim inbound texts here.

Calls answer too: pressing 1 during a call arrives as a reply with `channel="voice"`, the digits
as its body and `answer="confirmed"` (pressing 9 is an opt-out, handled by consent first).

Consent always sees a text first (STOP must win over everything). A text consent did not act on
is then offered to each registered handler, in registration order; the first that returns a
label has taken it: the label is stored on the text (`InboundMessage.handled_by`) and the
conversation inbox shows it as answered by that app instead of waiting for a person. A handler
runs inside the transaction that stores the text, so what it writes commits with it, and it may
queue its own answer through the outbox (`message_enqueue`) keyed on the text's provider id, so
a carrier retrying the same text never gets two answers.

Messaging cannot import the apps above it, so they register at start-up (`AppConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class InboundReply:
    """One text a person sent, with the message it most likely answers."""

    inbound_id: int
    provider: str
    provider_message_id: str
    contact_id: int | None  # None: no contact has this number
    from_number: str
    to_number: str
    body: str
    received_at: datetime
    in_reply_to_id: int | None  # the last message sent to this number before the text
    in_reply_to_key: str | None  # that message's outbox key: "<trigger>:<step>:..."
    channel: str = "sms"  # "voice": a key pressed during a call (body holds the digits)
    answer: str = ""  # what the key meant, for calls: "confirmed" (1); "" for texts


ReplyHandler = Callable[[InboundReply], str | None]
"""Returns a short label naming who took the text (e.g. "appointment"), or None to pass."""

_HANDLERS: list[tuple[str, ReplyHandler]] = []


def reply_handler_register(name: str, handler: ReplyHandler) -> None:
    """Register (or replace, by name) a handler; idempotent so `ready()` may run twice."""
    for index, (existing, _) in enumerate(_HANDLERS):
        if existing == name:
            _HANDLERS[index] = (name, handler)
            return
    _HANDLERS.append((name, handler))


def reply_offer(reply: InboundReply) -> str | None:
    """The label of the first handler that takes the text, or None (a person reads it)."""
    for _, handler in _HANDLERS:
        label = handler(reply)
        if label:
            return label[:40]
    return None
