"""Writing to the outbox: one row per message ever meant, keyed so nothing is created twice."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from carereach.consent.notices import Notice
from carereach.consent.selectors import program_by_id
from carereach.content.encoding import analyze
from carereach.content.hooks import RetiredVersion
from carereach.messaging import wake
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Lane,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.security.crypto import keyring
from carereach.security.fields import EncryptedTextField
from carereach.vocabulary import Channel


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for grouping and reports: "consent_notice", "no_consent", ...
    text: str  # for a person reading "why did she get this / why not?"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


def segments_of(channel: str, body: str) -> int:
    """What a carrier bills and throttles: SMS segments by the text's encoding; 1 otherwise."""
    return analyze(body).segments if channel == Channel.SMS else 1


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One outbox row a trigger writes; what the whole batch shares comes separately."""

    key: str
    contact_id: int | None
    channel: str
    address: str
    sender: str
    body: str
    status: str  # queued, held or skipped: also the kind of its first event
    reasons: tuple[tuple[str, str], ...]  # (code, text): the first names the decision
    due_at: datetime
    subject: str = ""
    segments: int = 0
    done_at: datetime | None = None
    cascade: tuple[str, ...] = ()  # channels still to try if this one proves unreachable


# Columns a batch writer fills per row (the rest come from `common` or the field's default).
_PER_ROW = (
    "key",
    "contact_id",
    "channel",
    "address",
    "sender",
    "subject",
    "body",
    "status",
    "reasons",
    "due_at",
    "segments",
    "done_at",
    "cascade",
)


def _context(name: str) -> str:
    """What `EncryptedTextField` binds a column's ciphertext to (its table and column)."""
    field = Message._meta.get_field(name)
    if not isinstance(field, EncryptedTextField):
        raise TypeError(f"Message.{name} is not encrypted")
    return field.crypto_context


class _Columns:
    """The outbox's columns in table order, with what each row of a batch puts in them.

    Built from the model's fields, so a column added later is filled with its default (and
    the raw write never drifts from what the ORM would write). Bodies and subjects are
    encrypted as `EncryptedTextField` does, bound to their table and column."""

    def __init__(self, common: Mapping[str, Any]) -> None:
        fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
        self.names = [connection.ops.quote_name(f.column) for f in fields]
        self.constants: dict[str, Any] = {}
        for f in fields:
            if f.attname in _PER_ROW:
                continue
            value = common[f.attname] if f.attname in common else f.get_default()
            self.constants[f.attname] = f.get_db_prep_save(value, connection)
        self.attnames = [f.attname for f in fields]
        ring = keyring()
        self.seal_body = functools.partial(ring.encrypt, context=_context("body"))
        self.seal_subject = functools.partial(ring.encrypt, context=_context("subject"))
        self.sqlite = connection.vendor == "sqlite"
        self._times: dict[datetime, Any] = {}
        self._reasons: dict[tuple[tuple[str, str], ...], str] = {}
        self._cascades: dict[tuple[str, ...], Any] = {}
        self._cascade_field = Message._meta.get_field("cascade")

    def time(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        found = self._times.get(value)
        if found is None:
            found = self._times[value] = connection.ops.adapt_datetimefield_value(value)
        return found

    def reasons(self, reasons: tuple[tuple[str, str], ...]) -> str:
        found = self._reasons.get(reasons)
        if found is None:
            found = json.dumps([{"code": code, "text": text} for code, text in reasons])
            self._reasons[reasons] = found
        return found

    def cascade(self, channels: tuple[str, ...]) -> Any:
        found = self._cascades.get(channels)
        if found is None:
            found = self._cascades[channels] = self._cascade_field.get_db_prep_save(
                list(channels), connection
            )
        return found

    def row(self, m: NewMessage) -> list[Any]:
        values = {
            **self.constants,
            "key": m.key,
            "contact_id": m.contact_id,
            "channel": m.channel,
            "address": m.address,
            "sender": m.sender,
            "subject": self.seal_subject(m.subject),
            "body": self.seal_body(m.body),
            "status": m.status,
            "reasons": self.reasons(m.reasons),
            "due_at": self.time(m.due_at),
            "segments": m.segments,
            "done_at": self.time(m.done_at),
            "cascade": self.cascade(m.cascade),
        }
        return [values[name] for name in self.attnames]


def _event_detail(code: str) -> str:
    return json.dumps({"reason": code})


def messages_write(*, rows: Sequence[NewMessage], common: Mapping[str, Any], at: datetime) -> int:
    """Write new outbox rows and their first events (queued, held or skipped) in bulk.

    `common` holds what every row of the batch shares (origin, origin_ref, lane, program_id,
    content_version_id, expires_at, created_at). PostgreSQL gets two `COPY` statements (the
    messages' ids are reserved from their sequence first, so the events can name them);
    SQLite gets two `executemany` calls on the driver's connection. Every key must be new: a
    key written meanwhile by another run makes the whole call fail with Django's
    IntegrityError, and the caller's savepoint undoes it; see `fanout`.
    """
    if not rows:
        return 0
    columns = _Columns(common)
    # The driver's own errors (a duplicate key in a COPY) come out as Django's IntegrityError.
    with connection.wrap_database_errors:
        _write(rows, columns, at)
    return len(rows)


def _write(rows: Sequence[NewMessage], columns: _Columns, at: datetime) -> None:
    table = Message._meta.db_table
    events = MessageEvent._meta.db_table
    event_cols = "message_id, kind, at, detail"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"  # noqa: S608
                " FROM generate_series(1, %s)",
                [len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
            names = ", ".join(["id", *columns.names])
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for pk, message in zip(ids, rows, strict=True):
                    copy.write_row([pk, *columns.row(message)])
            with cursor.copy(f"COPY {events} ({event_cols}) FROM STDIN") as copy:
                for pk, message in zip(ids, rows, strict=True):
                    copy.write_row((pk, message.status, at, _event_detail(message.reasons[0][0])))
        return
    connection.ensure_connection()
    raw = connection.connection
    marks = ", ".join("?" * len(columns.names))
    raw.executemany(
        f"INSERT INTO {table} ({', '.join(columns.names)}) VALUES ({marks})",  # noqa: S608
        (columns.row(message) for message in rows),
    )
    quote = connection.ops.quote_name
    ids_by_key: dict[str, int] = {}
    keys = [message.key for message in rows]
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        key = quote("key")
        found = raw.execute(
            f"SELECT {key}, id FROM {table} WHERE {key} IN ({marks})",  # noqa: S608
            chunk,
        )
        ids_by_key.update(found.fetchall())
    when = columns.time(at)
    raw.executemany(
        f"INSERT INTO {events} ({event_cols}) VALUES (?, ?, ?, ?)",  # noqa: S608
        ((ids_by_key[m.key], m.status, when, _event_detail(m.reasons[0][0])) for m in rows),
    )


def event_new(message: Message, kind: str, at: datetime, **detail: str) -> MessageEvent:
    return MessageEvent(message=message, kind=kind, at=at, detail=detail)


def message_event_record(*, message: Message, kind: EventKind, at: datetime, **detail: str) -> None:
    """Append one fact about a message (apps above messaging: a conversion credited to it)."""
    MessageEvent.objects.create(message=message, kind=kind, at=at, detail=detail)


def message_enqueue(
    *,
    key: str,
    origin: str,
    channel: str,
    address: str,
    body: str,
    reasons: list[Reason],
    contact_id: int | None,
    program_id: int | None = None,
    content_version_id: int | None = None,
    origin_ref: str = "",
    lane: int = Lane.BULK,
    sender: str = "",
    subject: str = "",
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    held: bool = False,
    reply_to: str = "",
) -> Message | None:
    """Queue one message; returns None when a message with this key already exists.

    Runs inside the caller's transaction (a savepoint isolates the duplicate-key case), and asks
    the local worker to look at the outbox once that transaction commits.
    """
    now = timezone.now()
    if Message.objects.filter(key=key).exists():
        return None
    status = MessageStatus.HELD if held else MessageStatus.QUEUED
    try:
        with transaction.atomic():
            message = Message.objects.create(
                key=key,
                origin=origin,
                origin_ref=origin_ref,
                lane=lane,
                contact_id=contact_id,
                program_id=program_id,
                content_version_id=content_version_id,
                channel=channel,
                address=address,
                sender=sender,
                subject=subject,
                body=body,
                status=status,
                reasons=[reason.as_dict() for reason in reasons],
                due_at=due_at or now,
                expires_at=expires_at,
                segments=segments_of(channel, body),
                created_at=now,
            )
            kind = EventKind.HELD if held else EventKind.QUEUED
            event_new(message, kind, now).save()
    except IntegrityError:  # the same key, written by another process a moment ago
        return None
    transaction.on_commit(wake.nudge)
    return message


NOTICE_REASONS = {
    "opt_out_confirmation": "the one confirmation owed after an opt-out",
    "opt_in_confirmation": "confirms a subscription the person just gave",
    "double_opt_in_request": "asks the person to confirm a sign-up they just made",
    "capture_receipt": "receipt of the consent the person just gave in person",
    "help": "answers the person's HELP request",
}


def _notice_sender(notice: Notice) -> str:
    if notice.sender:
        return notice.sender
    program = program_by_id(notice.program_id) if notice.program_id else None
    if notice.channel == Channel.EMAIL:
        choices = list(program.sender_emails) if program else []
        return choices[0] if choices else settings.DEFAULT_EMAIL_SENDER
    choices = list(program.sender_numbers) if program else []
    return choices[0] if choices else settings.DEFAULT_SMS_SENDER


def notice_enqueue(notice: Notice) -> None:
    """Consent's notices go out at once, ahead of everything, without a consent check: each
    answers something the person just did (a STOP, a sign-up, HELP), which is what the rules
    allow; they never carry marketing."""
    why = NOTICE_REASONS.get(notice.kind, notice.kind.replace("_", " "))
    message_enqueue(
        key=f"notice:{notice.key}",
        origin="notice",
        origin_ref=notice.kind,
        lane=Lane.CONSENT,
        contact_id=notice.contact_id or None,
        program_id=notice.program_id,
        channel=notice.channel,
        address=notice.address,
        sender=_notice_sender(notice),
        subject=notice.subject,
        body=notice.body,
        reasons=[Reason("consent_notice", f"Sent without a consent check: {why}.")],
        reply_to=notice.reply_to_id,
    )


def messages_cancel_for_version(event: RetiredVersion) -> int:
    """Content withdrawn or expired: every message of that version still waiting is cancelled,
    in the same transaction as the retirement (content calls this through its hook)."""
    waiting = list(Message.objects.filter(content_version_id=event.version_id, status__in=WAITING))
    if not waiting:
        return 0
    why = Reason(
        "content_retired",
        f"The content version was {event.status} before it was sent"
        + (f": {event.reason}" if event.reason else "."),
    )
    for message in waiting:
        message.status = MessageStatus.CANCELLED
        message.done_at = event.at
        message.reasons = [*message.reasons, why.as_dict()]
    Message.objects.bulk_update(waiting, ["status", "done_at", "reasons"], batch_size=1000)
    MessageEvent.objects.bulk_create(
        [event_new(m, EventKind.CANCELLED, event.at, reason=why.code) for m in waiting],
        batch_size=1000,
    )
    return len(waiting)
