"""Post-send channel fallback: a message that could not reach the person goes on by the next
channel of its trigger's cascade.

Plan time already picks, per person, the first channel of `Trigger(channel=..., fallback=...)`
that may be used (`fanout`). This is the second chance, after sending: a carrier or mail server
says the *address* is unusable (Twilio 30003, 30005, 30006, 21211, 21614; a hard bounce; an
address suppressed between queueing and claiming), and the message's `cascade` (the trigger's
channels still untried, stored on it by the fan-out) names where to go next. The next channel
is decided again with today's facts (consent, address, suppression, quiet hours, caps: the one
that failed is not counted), rendered, and queued in the same lane.

- One fallback per message: its key is `fallback:<message id>`, so a receipt arriving twice, a
  worker re-running, or a journey asking again never queues a second one.
- Both messages say why: the original gets a `fell_back` reason naming the new message, the
  new one a `fallback` reason naming the original (and any channel passed over on the way).
- When no later channel may be used, the fallback is written as a skip with its reasons (like
  the fan-out's skips), so "why did nothing else go?" has an answer.

The text for the next channel comes from, in order: the `render` the caller passes; a renderer
registered for the message's origin (`fallback_renderer_register`, for apps above messaging
whose texts are not content versions); the message's approved content version.

`message_fallback` is also the service journeys call when a person did not answer in time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.eligibility import language_code
from carereach.content.models import ContentVersion
from carereach.content.rendering import content_render
from carereach.errors import CarereachError
from carereach.messaging import wake
from carereach.messaging.models import EventKind, Message, MessageStatus
from carereach.messaging.policy.decide import Action
from carereach.messaging.services.fanout import (
    Rendered,
    Renderer,
    Trigger,
    cascade_after,
    fanout_decide_one,
    sender_for,
)
from carereach.messaging.services.outbox import Reason, event_new, segments_of

logger = logging.getLogger(__name__)

# Answers that say the address itself cannot be reached: only these move a message on.
# (A filtered text, a refused sender or a full queue is not the person's address: no hop.)
FALLBACK_CODES: dict[str, str] = {
    "30003": "the handset was unreachable",
    "30005": "the number is unknown or no longer in service",
    "30006": "the number is a landline or an unreachable carrier",
    "21211": "the number is not a valid phone number",
    "21614": "the number is not a mobile number",
    "bounce": "the mailbox bounced it",  # the sandbox's hard bounce
    "hard_bounce": "the mail service reported a hard bounce",  # e-mail webhooks
    "smtp_550": "the mail server has no such mailbox",
    "smtp_551": "the mail server does not take mail for this user",
    "smtp_553": "the mail server refused the mailbox name",
    "suppressed": "the address was found unusable before it went",
}
FINAL = (MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.SKIPPED)

# (the original message, the next channel) -> a renderer for it, or None when the app has none.
FallbackRenderer = Callable[[Message, str], Renderer | None]
_RENDERERS: dict[str, FallbackRenderer] = {}


def fallback_renderer_register(origin: str, renderer: FallbackRenderer) -> None:
    """An app above messaging (journeys, ...) says how its messages of `origin` are written on
    another channel; registered at start-up, replaced by a second registration."""
    _RENDERERS[origin] = renderer


def fallback_key(message: Message) -> str:
    return f"fallback:{message.pk}"


@dataclass(frozen=True)
class _Text:
    body: str
    subject: str
    problem: str  # "" when the text is ready


def _render(
    original: Message,
    channel: str,
    contact: Contact,
    key: str,
    language: str,
    address: str,
    render: Renderer | None,
) -> _Text:
    chosen = render
    if chosen is None and original.origin in _RENDERERS:
        chosen = _RENDERERS[original.origin](original, channel)
    try:
        if chosen is not None:
            text = chosen(contact, key, language)
        elif original.content_version_id is not None:
            rendered = content_render(
                version=ContentVersion.objects.get(pk=original.content_version_id),
                contact=contact,
                channel=channel,
                language=language_code(language),
                message_key=key,
                address=address,
            )
            text = Rendered(body=rendered.text, subject=rendered.subject)
        else:
            return _Text("", "", f"No text for {channel}: the message has no content to render.")
    except CarereachError as error:
        return _Text("", "", error.message)
    if not text.body:
        return _Text("", "", f"No text for {channel} in this contact's language.")
    return _Text(text.body, text.subject, "")


def _trigger(original: Message, program: Program, channels: Sequence[str]) -> Trigger:
    return Trigger(
        key=original.origin_ref,
        origin=original.origin,
        program=program,
        channel=channels[0],
        fallback=tuple(channels[1:]),
        lane=original.lane,
        expires_at=original.expires_at,
        content_version_id=original.content_version_id,
    )


def message_fallback(
    *,
    message: Message,
    reason: Reason,
    channels: Sequence[str] | None = None,
    render: Renderer | None = None,
    now: datetime | None = None,
) -> Message | None:
    """Send `message` on by the next usable channel; returns the new message (queued, held, or a
    skip saying why nothing else could go), the one an earlier call wrote, or None when there is
    nowhere to go (no channel left, no contact, no program).

    `channels`: where to try, in order (default: the message's own cascade). `reason`: why it
    moves on, for both messages ("no answer within 2 days", "undeliverable (30005)").
    """
    at = now or timezone.now()
    with transaction.atomic():
        rows = Message.objects.select_related("program").filter(pk=message.pk)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(of=("self",))
        original = rows.get()
        key = fallback_key(original)
        earlier = Message.objects.filter(key=key).first()
        if earlier is not None:
            return earlier
        tries = [c for c in (channels if channels is not None else original.cascade) if c]
        tries = [c for i, c in enumerate(tries) if c != original.channel and c not in tries[:i]]
        if not tries or original.contact_id is None or original.program is None:
            return None
        trigger = _trigger(original, original.program, tries)
        choice = fanout_decide_one(
            trigger=trigger,
            contact_id=original.contact_id,
            now=at,
            discount=[original.pk],
        )
        if choice is None:
            return None
        facts, decision, channel = choice.facts, choice.decision, choice.channel
        code, why = decision.code, decision.text
        body = subject = ""
        action = decision.action
        if action != Action.SKIP:
            contact = Contact.objects.get(pk=original.contact_id)
            text = _render(original, channel, contact, key, facts.language, facts.address, render)
            if text.problem:
                action, code, why = Action.SKIP, "content_unavailable", text.problem
            body, subject = text.body, text.subject
        status = {
            Action.SEND: MessageStatus.QUEUED,
            Action.HOLD: MessageStatus.HELD,
            Action.SKIP: MessageStatus.SKIPPED,
        }[action]
        hop = Reason(
            "fallback",
            f"Instead of {original.channel} message {original.pk}: {reason.text}",
        )
        try:
            with transaction.atomic():
                created = Message.objects.create(
                    key=key,
                    origin=original.origin,
                    origin_ref=original.origin_ref,
                    lane=original.lane,
                    contact_id=original.contact_id,
                    program_id=original.program_id,
                    content_version_id=original.content_version_id,
                    channel=channel,
                    address=facts.address,
                    sender=sender_for(trigger, channel),
                    subject=subject,
                    body=body,
                    status=status,
                    reasons=[
                        {"code": code, "text": why},
                        hop.as_dict(),
                        *(
                            {"code": "fallback", "text": f"Not by {other}: {no}"}
                            for other, no in choice.passed_over
                        ),
                    ],
                    due_at=decision.due_at or at,
                    expires_at=original.expires_at,
                    segments=segments_of(channel, body) if body else 0,
                    cascade=cascade_after(trigger, channel) if action != Action.SKIP else [],
                    created_at=at,
                    done_at=at if action == Action.SKIP else None,
                )
                kind = {
                    MessageStatus.QUEUED: EventKind.QUEUED,
                    MessageStatus.HELD: EventKind.HELD,
                    MessageStatus.SKIPPED: EventKind.SKIPPED,
                }[status]
                event_new(created, kind, at, reason=code, fallback_of=str(original.pk)).save()
        except IntegrityError:  # a parallel call wrote it a moment ago
            return Message.objects.filter(key=key).first()
        went = (
            f"next by {channel}: message {created.pk}"
            if status != MessageStatus.SKIPPED
            else f"no other channel could be used (message {created.pk} says why)"
        )
        note = Reason("fell_back", f"{reason.text} Moved on: {went}.")
        Message.objects.filter(pk=original.pk).update(reasons=[*original.reasons, note.as_dict()])
        if status == MessageStatus.QUEUED:
            transaction.on_commit(wake.nudge)
    return created


def fallback_after_outcome(*, message_id: int, status: str, error_code: str) -> Message | None:
    """Called where an outcome is recorded (a send refused, a receipt, a claim-time skip): an
    address-level failure of a message whose trigger named more channels moves it on."""
    meaning = FALLBACK_CODES.get(error_code)
    if meaning is None or status not in FINAL:
        return None
    message = Message.objects.filter(pk=message_id).only("pk", "cascade", "channel").first()
    if message is None or not message.cascade:
        return None
    reason = Reason(
        "undeliverable",
        f"The {message.channel} message could not be delivered ({error_code}: {meaning}).",
    )
    try:
        with transaction.atomic():  # a savepoint: the outcome being recorded never rolls back
            return message_fallback(message=message, reason=reason)
    except Exception:  # a fallback that fails must not lose the outcome that caused it
        logger.exception("fallback for message %s failed", message_id)
        return None
