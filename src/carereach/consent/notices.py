"""Messages consent owes a person, handed up to the delivery engine.

Consent decides *that* a message is due and what it says: an opt-out confirmation, a double
opt-in request, a receipt after an in-person capture, a HELP answer. The messaging app, a floor
above (shared/DESIGN.md), sends it through the pipeline: it registers its sender at start-up
with `notice_sender_register`, and consent calls `notice_send` inside the same transaction as the
ledger write, so the notice is queued exactly when the consent change commits, and not at all
when it rolls back.

Each notice carries an idempotency key: the same key never makes a second message, so a retried
request or a burst of identical replies cannot send twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class NoticeKind:
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"  # the one reply after an opt-out
    OPT_IN_CONFIRMATION = "opt_in_confirmation"  # subscribed: frequency, HELP, STOP
    DOUBLE_OPT_IN_REQUEST = "double_opt_in_request"  # reply YES / click the link to confirm
    CAPTURE_RECEIPT = "capture_receipt"  # what the person agreed to in person, how to stop
    HELP = "help"  # program name, contact, how to stop, frequency, rates


@dataclass(frozen=True)
class Notice:
    kind: str  # a NoticeKind value
    key: str  # idempotency key, unique per message ever meant: "optout:<inbound id>", ...
    contact_id: int
    channel: str  # Channel.SMS or Channel.EMAIL
    address: str  # the exact E.164 number or e-mail address it goes to
    body: str  # plain text (SMS) or the e-mail's text part
    program_id: int | None = None  # None: about every program (STOPALL)
    sender: str = ""  # the number or address to send from; "" lets messaging pick the program's
    subject: str = ""  # e-mail only
    reply_to_id: str = ""  # the inbound message this answers, if any
    extra: dict[str, str] = field(default_factory=dict)  # e.g. a confirmation link for e-mail


NoticeSender = Callable[[Notice], None]
_senders: list[NoticeSender] = []


def notice_sender_register(sender: NoticeSender) -> None:
    """Called once by the messaging app when Django starts."""
    if sender not in _senders:
        _senders.append(sender)


def notice_send(notice: Notice) -> None:
    """Queue a notice for sending; call it inside the transaction that made it due."""
    if not _senders:
        raise RuntimeError("no notice sender registered: is carereach.messaging installed?")
    for sender in _senders:
        sender(notice)
