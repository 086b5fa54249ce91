"""Rep follow-ups: a visit or call logged, approved content sent under the rep's name, a
virtual-meeting invite with its reminder, and a text saying an e-mail or voicemail waits.

Reps act only on contacts of their territories (`audience.selectors.contact_get_for_user`: any
other contact is "not found"). Whatever the rep sends goes through the pipeline like everything
else (consent, quiet hours, caps); the rep's name fills `{{ rep_name }}` and stands in each
message's reasons ("on behalf of"), so "why did she get this?" names the rep. Keys:
`rep:<interaction>:<step>:<contact>` with the steps followup, waiting, invite and reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.audience.selectors import contact_get_for_user, reach_for_contacts
from carereach.consent.models import Program
from carereach.content.eligibility import REASON_TEXT, content_eligibility
from carereach.content.models import ContentVersion
from carereach.content.rendering import version_program
from carereach.engagement import texts
from carereach.engagement.answers import Verdict, answer_parse
from carereach.engagement.models import Interaction, InteractionKind, MeetingStatus
from carereach.engagement.services.delivery import (
    SENDABLE,
    PersonTrigger,
    fanout_by_preference,
    fixed_text,
)
from carereach.errors import ValidationError
from carereach.messaging.models import WAITING, Lane
from carereach.messaging.replies import InboundReply
from carereach.messaging.services.fanout import FanoutReport, Renderer
from carereach.messaging.services.outbox import Reason, message_enqueue
from carereach.messaging.services.rendering import (
    RenderFailures,
    content_renderer,
    render_failures_skip,
)
from carereach.messaging.services.triggers import trigger_messages
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

REMINDER_BEFORE = timedelta(hours=24)
LATE_REMINDER_BEFORE = timedelta(hours=1)  # a meeting booked for tomorrow morning
FOLLOW_UP_STALE = timedelta(days=3)
SHORT_ANSWER_WORDS = 3  # "1", "1 thanks", "2 sorry!": longer texts go to the rep's inbox


@dataclass(frozen=True)
class InteractionInput:
    contact_id: int
    kind: str
    occurred_at: datetime | None = None
    notes: str = ""
    program: Program | None = None
    follow_up: ContentVersion | None = None
    channel: str = ""
    notify_by_text: bool = False
    meeting_at: datetime | None = None
    meeting_link: str = ""


@dataclass
class Logged:
    interaction: Interaction
    sent: dict[str, str]  # step -> outcome ("queued on sms", "skipped: no consent", ...)


def rep_label(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _check(data: InteractionInput, contact: Contact, now: datetime) -> Program | None:
    if contact.kind != ContactKind.HCP:
        raise ValidationError("Visits and calls are logged for HCPs only.", field="contact")
    if data.kind not in InteractionKind.values:
        raise ValidationError("Choose visit or call.", field="kind")
    if data.occurred_at is not None and data.occurred_at > now + timedelta(minutes=5):
        raise ValidationError("A visit or call cannot be in the future.", field="occurred_at")
    if len(data.notes) > 2000:
        raise ValidationError("Keep notes under 2,000 characters.", field="notes")
    program = data.program
    if data.follow_up is not None:
        content_program = version_program(data.follow_up)
        if program is None:
            program = content_program
        elif content_program is not None and content_program.pk != program.pk:
            raise ValidationError("That content belongs to another program.", field="follow_up")
        check = content_eligibility(version=data.follow_up, contact=contact, now=now)
        if not check.eligible:
            raise ValidationError(
                f"That content may not go to this HCP: {REASON_TEXT[check.reason]}.",
                field="follow_up",
            )
    meeting = data.meeting_at is not None or bool(data.meeting_link.strip())
    if meeting:
        if data.meeting_at is None:
            raise ValidationError("Give the meeting's date and time.", field="meeting_at")
        if data.meeting_at <= now:
            raise ValidationError("The meeting must be in the future.", field="meeting_at")
        link = data.meeting_link.strip()
        if not link.startswith("https://") or " " in link or len(link) > 500:
            raise ValidationError("Give the meeting's link (https://...).", field="meeting_link")
    if (data.follow_up is not None or meeting) and program is None:
        raise ValidationError("Choose the program the HCP consented to.", field="program")
    if program is not None and not program.active:
        raise ValidationError("That program is closed.", field="program")
    if data.channel and (
        data.channel not in SENDABLE or program is None or data.channel not in program.channels
    ):
        raise ValidationError("The program does not send on that channel.", field="channel")
    if data.notify_by_text and data.follow_up is None:
        raise ValidationError(
            "A text can only announce a follow-up sent by e-mail or voicemail.",
            field="notify_by_text",
        )
    return program


def _outcome(trigger_key: str) -> str:
    message = trigger_messages(trigger_key=trigger_key).order_by("-id").first()
    if message is None:
        return "not sent"
    if message.status in WAITING:
        return f"{message.status} on {message.channel}"
    reason = message.reasons[0]["text"] if message.reasons else ""
    return f"{message.status}: {reason}" if reason else str(message.status)


def _follow_up(
    interaction: Interaction,
    program: Program,
    version: ContentVersion,
    at: datetime,
    attribution: str,
) -> FanoutReport:
    failures = RenderFailures()
    trigger = PersonTrigger(
        key=f"{interaction.trigger_key}:followup",
        origin="rep",
        program=program,
        channel=interaction.channel or Channel.SMS,
        step="followup",
        lane=Lane.BULK,
        expires_at=min(at + FOLLOW_UP_STALE, version.valid_until or at + FOLLOW_UP_STALE),
        promotional=version.promotional,
        content_version_id=version.pk,
        attribution=attribution,
    )
    context: dict[str, Any] = {"rep_name": interaction.rep_name}

    def renderer_for(channel: str, group: list[int]) -> Renderer:
        reach = reach_for_contacts(contact_ids=group, channel=channel)
        return content_renderer(
            version=version,
            channel=channel,
            addresses={pk: one.address for pk, one in reach.items()},
            failures=failures,
            at=at,
            context=context,
        )

    report = fanout_by_preference(
        trigger=trigger,
        contact_ids=[interaction.contact_id],
        renderer_for=renderer_for,
        now=at,
        allowed=(interaction.channel,) if interaction.channel else SENDABLE,
    )
    render_failures_skip(failures, at, report)
    return report


def _waiting(interaction: Interaction, at: datetime, attribution: str) -> str:
    """After a follow-up by e-mail or voice: a text saying it waits (nothing of its content)."""
    sent = (
        trigger_messages(trigger_key=f"{interaction.trigger_key}:followup")
        .filter(status__in=WAITING)
        .first()
    )
    if sent is None or sent.channel == Channel.SMS:
        return "not needed: the follow-up went by text" if sent else "not sent: no follow-up"
    program = interaction.program
    if program is None:
        return "not sent: no program"
    channel = sent.channel

    def words(contact: Contact, language: str) -> str:
        return texts.waiting(
            program=program.name, rep=interaction.rep_name, channel=channel, language=language
        )

    trigger = PersonTrigger(
        key=f"{interaction.trigger_key}:waiting",
        origin="rep",
        program=program,
        channel=Channel.SMS,
        step="waiting",
        lane=Lane.BULK,
        expires_at=at + FOLLOW_UP_STALE,
        attribution=attribution,
    )
    fanout_by_preference(
        trigger=trigger,
        contact_ids=[interaction.contact_id],
        renderer_for=lambda channel, group: fixed_text(words),
        now=at,
        allowed=(Channel.SMS,),
    )
    return _outcome(trigger.key)


def meeting_send(interaction: Interaction, *, step: str, at: datetime) -> str:
    """The invite (step "invite") or the reminder ("reminder") of a virtual meeting."""
    program = interaction.program
    meeting_at = interaction.meeting_at
    if program is None or meeting_at is None:
        return "not sent: no meeting"
    words_of = texts.meeting_invite if step == "invite" else texts.meeting_reminder

    def words(contact: Contact, language: str) -> str:
        return words_of(
            program=program.name,
            rep=interaction.rep_name,
            at=meeting_at,
            link=interaction.meeting_link,
            time_zone=contact.time_zone or "America/New_York",
            language=language,
        )

    trigger = PersonTrigger(
        key=f"{interaction.trigger_key}:{step}",
        origin="rep",
        program=program,
        channel=Channel.SMS,
        step=step,
        lane=Lane.CLINICAL,  # a meeting the HCP agreed to: transactional, not a broadcast
        expires_at=meeting_at,
        attribution=f"Virtual meeting {step} from {interaction.rep_name}.",
    )
    fanout_by_preference(
        trigger=trigger,
        contact_ids=[interaction.contact_id],
        renderer_for=lambda channel, group: fixed_text(words, subject="Virtual meeting"),
        now=at,
        allowed=(Channel.SMS, Channel.EMAIL),
    )
    return _outcome(trigger.key)


def _reminder_at(meeting_at: datetime, now: datetime) -> datetime | None:
    for before in (REMINDER_BEFORE, LATE_REMINDER_BEFORE):
        if meeting_at - before > now + timedelta(minutes=30):
            return meeting_at - before
    return None


@transaction.atomic
def interaction_log(*, actor: User, data: InteractionInput) -> Logged:
    """Log a visit or call; send its follow-up, the text announcing it, the meeting invite."""
    now = timezone.now()
    contact = contact_get_for_user(user=actor, contact_id=data.contact_id)
    program = _check(data, contact, now)
    rep = rep_label(actor)
    interaction = Interaction.objects.create(
        contact=contact,
        rep=actor,
        rep_name=rep,
        kind=data.kind,
        occurred_at=data.occurred_at or now,
        notes=data.notes.strip(),
        program=program,
        follow_up=data.follow_up,
        channel=data.channel,
        notify_by_text=data.notify_by_text,
        meeting_at=data.meeting_at,
        meeting_link=data.meeting_link.strip(),
        meeting_status=MeetingStatus.INVITED if data.meeting_at else MeetingStatus.NONE,
        reminder_at=_reminder_at(data.meeting_at, now) if data.meeting_at else None,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="interaction",
        object_id=interaction.pk,
        note=f"{data.kind} with contact {contact.pk}",
    )
    sent: dict[str, str] = {}
    day = f"{interaction.occurred_at:%Y-%m-%d}"
    attribution = f"Follow-up from {rep} after a {data.kind} on {day}."
    if data.follow_up is not None and program is not None:
        _follow_up(interaction, program, data.follow_up, now, attribution)
        sent["followup"] = _outcome(f"{interaction.trigger_key}:followup")
        if data.notify_by_text:
            sent["waiting"] = _waiting(interaction, now, attribution)
    if data.meeting_at is not None:
        sent["invite"] = meeting_send(interaction, step="invite", at=now)
    return Logged(interaction=interaction, sent=sent)


def meetings_remind_due(*, now: datetime | None = None) -> int:
    """Send every meeting reminder that is due (the scheduler calls this each tick)."""
    at = now or timezone.now()
    due = Interaction.objects.filter(
        reminded_at__isnull=True, reminder_at__isnull=False, reminder_at__lte=at
    ).values_list("pk", flat=True)
    sent = 0
    for pk in list(due[:500]):
        with transaction.atomic():
            interaction = (
                Interaction.objects.select_for_update(of=("self",))
                .select_related("program")
                .filter(pk=pk, reminded_at__isnull=True)
                .first()
            )
            if interaction is None:
                continue
            interaction.reminded_at = at
            interaction.save(update_fields=["reminded_at"])
            if interaction.meeting_status == MeetingStatus.CANCELLED:
                continue
            if interaction.meeting_at is not None and interaction.meeting_at > at:
                meeting_send(interaction, step="reminder", at=at)
                sent += 1
    return sent


def _parse_key(key: str | None) -> tuple[int, str] | None:
    parts = (key or "").split(":")
    if len(parts) != 4 or parts[0] != "rep" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def meeting_reply(reply: InboundReply) -> str | None:
    """Messaging's reply hook: "1" confirms and "2" cancels the meeting the text was about.

    Only a short answer that is a number is taken (a "3" gets the question again); anything
    else ("see you then!", "can't make it at 2") goes to the rep's inbox. CANCEL alone never
    arrives here: it is an opt-out word, and consent sees every text first.
    """
    parsed = _parse_key(reply.in_reply_to_key)
    if parsed is None or reply.contact_id is None or parsed[1] not in ("invite", "reminder"):
        return None
    interaction = (
        Interaction.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(pk=parsed[0], contact_id=reply.contact_id)
        .first()
    )
    if interaction is None or interaction.meeting_at is None:
        return None
    if len(reply.body.split()) > SHORT_ANSWER_WORDS:
        return None  # "I'll be 10 minutes late", "not at 2": for the rep to read
    answer = answer_parse(reply.body, low=1, high=2)
    if answer.verdict == Verdict.UNREADABLE:
        return None
    language = interaction.contact.language
    if answer.verdict == Verdict.OUT_OF_RANGE:
        body = texts.meeting_unclear(language)
    else:
        confirmed = answer.value == 1
        interaction.meeting_status = (
            MeetingStatus.CONFIRMED if confirmed else MeetingStatus.CANCELLED
        )
        interaction.save(update_fields=["meeting_status"])
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            object_type="interaction",
            object_id=interaction.pk,
            changes=["meeting_status"],
            note=f"meeting {interaction.meeting_status} by the HCP's reply",
        )
        body = texts.meeting_answer(
            confirmed=confirmed, rep=interaction.rep_name, language=language
        )
    message_enqueue(
        key=f"{interaction.trigger_key}:answer:{reply.provider}:{reply.provider_message_id}",
        origin="rep",
        origin_ref=interaction.trigger_key,
        lane=Lane.CLINICAL,
        contact_id=interaction.contact_id,
        program_id=interaction.program_id,
        channel=Channel.SMS,
        address=reply.from_number,
        sender=reply.to_number,
        body=body,
        reasons=[Reason("meeting_answer", "Answers the HCP's reply about the meeting.")],
        expires_at=interaction.meeting_at,
        reply_to=reply.provider_message_id,
    )
    return "meeting"
