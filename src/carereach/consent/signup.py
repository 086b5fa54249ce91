"""The public web sign-up: a person asks for a program's messages, then confirms.

`consent_signup` takes a validated contact draft (name, phone and/or e-mail) and the channels the
person ticked. It finds the contact those addresses belong to, or creates one, and writes the
ledger in one transaction with the messages that are due:

- A program with double opt-in gets a PENDING entry per channel, and a request to confirm: a
  text asking for YES (the inbound handler completes it) or an e-mail with a signed link
  (`consent_signup_confirm`, from the page at /c/<token>/).
- A program without it gets a GRANT per channel and the opt-in confirmation.

Matching follows the audience import's rules for addresses: a contact of the same kind, not
merged or deceased, whose last name does not differ from the one given. The contact must hold
every address given; otherwise a new contact is created with them (audience has no public
service yet to add an address to a known contact; staff merge duplicates). The page answers the
same whatever matched, so it cannot be used to learn who is on file.

No message goes twice: a request is due only when the address is not already subscribed, at
most once a day per address, channel and program (the notice key says so: messaging queues one
message per key), and a confirmation only when this act changed the consent to granted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from carereach.audience.drafts import ContactDraft
from carereach.audience.models import Contact, ContactStatus, Email, Phone
from carereach.audience.services import contact_create
from carereach.consent import links, texts
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
)
from carereach.consent.notices import Notice, NoticeKind, notice_send
from carereach.consent.services import consent_record
from carereach.errors import ValidationError
from carereach.security.fields import normalize_for_index
from carereach.vocabulary import Channel

SIGNUP_CHANNELS = (Channel.SMS.value, Channel.EMAIL.value)
TERMS_CHANGED = (
    "The program's terms changed while the page was open: read them again below, then sign up."
)


def signup_channels(program: Program) -> list[str]:
    """The channels a program's sign-up page offers: texts need a number to send from (and to
    reply YES to), e-mail needs nothing more."""
    return [
        channel
        for channel in SIGNUP_CHANNELS
        if channel in program.channels and (channel != Channel.SMS or bool(program.sender_numbers))
    ]


def signup_open(program: Program | None) -> bool:
    """Whether the program's public page is open (an API sign-up needs only an active one)."""
    return (
        program is not None
        and program.active
        and program.web_signup
        and bool(signup_channels(program))
    )


@dataclass(frozen=True)
class SignupOutcome:
    contact: Contact
    entries: list[ConsentEntry]
    pending: bool  # double opt-in: the person still has to confirm
    channels: list[str]


def _last_name(contact: Contact) -> str:
    profile = getattr(contact, contact.kind, None)
    return str(getattr(profile, "last_name", "") or "")


def _known_contact(draft: ContactDraft) -> Contact | None:
    """The oldest contact of the draft's kind holding every address given, with no other
    last name; None when there is none."""
    phones = {phone.e164 for phone in draft.phones}
    emails = set(draft.emails)
    ids = set(Phone.objects.filter(e164__in=phones).values_list("contact_id", flat=True))
    ids |= set(Email.objects.filter(address__in=emails).values_list("contact_id", flat=True))
    if not ids:
        return None
    candidates = (
        Contact.objects.filter(pk__in=ids, kind=draft.kind)
        .exclude(status__in=[ContactStatus.MERGED, ContactStatus.DECEASED])
        .select_related("hcp", "patient", "caregiver")
        .prefetch_related("phones", "emails")
        .order_by("pk")
    )
    given = normalize_for_index(draft.last_name)
    for contact in candidates:
        held = {p.e164 for p in contact.phones.all()} | {e.address for e in contact.emails.all()}
        if not (phones | emails) <= held:
            continue
        known = normalize_for_index(_last_name(contact))
        if known and given and known != given:
            continue  # a practice line or a family phone: someone else
        return contact
    return None


def _address_for(draft: ContactDraft, channel: str) -> str:
    if channel == Channel.SMS:
        if not draft.phones:
            raise ValidationError("Give a mobile number for text messages.", field="phone")
        if draft.phones[0].line_type == "landline":
            raise ValidationError(
                "That number is a landline: it cannot receive text messages.", field="phone"
            )
        return draft.phones[0].e164
    if not draft.emails:
        raise ValidationError("Give an e-mail address for e-mails.", field="email")
    return draft.emails[0]


def _status(address: str, channel: str, program: Program) -> str:
    status = (
        ConsentState.objects.filter(address=address, channel=channel, program=program)
        .values_list("status", flat=True)
        .first()
    )
    return status or ""


def consent_signup(
    *,
    program: Program,
    draft: ContactDraft,
    channels: Sequence[str],
    disclosure_version: str,
    evidence: dict[str, Any],
) -> SignupOutcome:
    """Record a web sign-up and queue what it owes the person; all or nothing."""
    if not program.active:
        raise ValidationError(f"Program {program.code} is closed.", field="program")
    offered = signup_channels(program)
    if not offered:
        raise ValidationError(
            f"Program {program.code} sends neither texts (from a number of its own) nor e-mail.",
            field="program",
        )
    chosen = [c for c in offered if c in channels]
    if not chosen or len(chosen) != len(set(channels)):
        raise ValidationError(
            "Tick how you want to hear from us: "
            + " or ".join(texts.channel_words([c]) for c in offered)
            + ".",
            field="channels",
        )
    if disclosure_version != program.disclosure_version:
        raise ValidationError(
            TERMS_CHANGED,
            field="disclosure_version",
        )
    addresses = {channel: _address_for(draft, channel) for channel in chosen}
    pending = program.double_opt_in
    action = ConsentAction.PENDING if pending else ConsentAction.GRANT
    today = timezone.localdate().isoformat()
    entries: list[ConsentEntry] = []
    with transaction.atomic():
        contact = _known_contact(draft) or contact_create(draft=draft, actor=None)
        language = contact.language.split("-")[0] or "en"
        for channel in chosen:
            address = addresses[channel]
            before = _status(address, channel, program)
            recorded = consent_record(
                contact=contact,
                address=address,
                channels=[channel],
                programs=[program],
                action=action,
                method=ConsentMethod.WEB_FORM,
                actor=None,
                evidence=evidence,
                disclosure_version=disclosure_version,
            )
            entry = recorded.entries[0]
            entries.append(entry)
            if before == ConsentStatus.GRANTED:
                continue  # already subscribed: nothing to ask or confirm
            if pending:
                _send_request(program, entry, today=today)
            else:
                _send_confirmation(program, entry, language=language)
    return SignupOutcome(contact=contact, entries=entries, pending=pending, channels=chosen)


def _send_request(program: Program, entry: ConsentEntry, *, today: str) -> None:
    # The state row names (address, channel, program) in a few digits: keys stay short
    # whatever the address's length.
    state_id = (
        ConsentState.objects.filter(address=entry.address, channel=entry.channel, program=program)
        .values_list("pk", flat=True)
        .get()
    )
    key = f"double-opt-in:{state_id}:{today}"
    if entry.channel == Channel.SMS:
        notice = Notice(
            kind=NoticeKind.DOUBLE_OPT_IN_REQUEST,
            key=key,
            contact_id=entry.contact_id,
            channel=Channel.SMS,
            address=entry.address,
            body=texts.double_opt_in_sms(program),
            program_id=program.pk,
            sender=program.sender_numbers[0],  # YES must come back to a number of the program
        )
    else:
        url = links.confirm_url(entry)
        email = texts.double_opt_in_email(program, confirm_url=url)
        notice = Notice(
            kind=NoticeKind.DOUBLE_OPT_IN_REQUEST,
            key=key,
            contact_id=entry.contact_id,
            channel=Channel.EMAIL,
            address=entry.address,
            body=email.body,
            program_id=program.pk,
            subject=email.subject,
            extra={"confirm_url": url},
        )
    notice_send(notice)


def _send_confirmation(program: Program, entry: ConsentEntry, *, language: str) -> None:
    key = f"opt-in:{entry.pk}"
    if entry.channel == Channel.SMS:
        notice_send(
            Notice(
                kind=NoticeKind.OPT_IN_CONFIRMATION,
                key=key,
                contact_id=entry.contact_id,
                channel=Channel.SMS,
                address=entry.address,
                body=texts.opt_in_confirmation_sms(program, language=language),
                program_id=program.pk,
            )
        )
        return
    state = ConsentState.objects.get(address=entry.address, channel=Channel.EMAIL, program=program)
    unsubscribe = links.unsubscribe_url(state)
    email = texts.opt_in_confirmation_email(
        program,
        unsubscribe_url=unsubscribe,
        preferences_url=links.preferences_url(state),
        language=language,
    )
    notice_send(
        Notice(
            kind=NoticeKind.OPT_IN_CONFIRMATION,
            key=key,
            contact_id=entry.contact_id,
            channel=Channel.EMAIL,
            address=entry.address,
            body=email.body,
            program_id=program.pk,
            subject=email.subject,
            extra={"unsubscribe_url": unsubscribe},
        )
    )


class ConfirmResult:
    CONFIRMED = "confirmed"  # this click granted the consent
    ALREADY = "already"  # it was granted before (a second click, or another way)
    VOID = "void"  # revoked since the sign-up: the link no longer applies


def consent_signup_confirm(*, pending: ConsentEntry, evidence: dict[str, Any]) -> str:
    """Complete an e-mail double opt-in from its signed link (a POST, never a GET).

    Grants only while the sign-up is still waiting: after a revocation the link is void (the
    person signs up again), and a second click changes nothing. Returns a ConfirmResult value.
    """
    program = pending.program
    if program is None:
        return ConfirmResult.VOID
    with transaction.atomic():
        state = (
            ConsentState.objects.select_for_update()
            .filter(address=pending.address, channel=Channel.EMAIL, program=program)
            .first()
        )
        if state is None or state.status == ConsentStatus.REVOKED:
            return ConfirmResult.VOID
        if state.status == ConsentStatus.GRANTED:
            return ConfirmResult.ALREADY
        recorded = consent_record(
            contact=pending.contact,
            address=pending.address,
            channels=[Channel.EMAIL],
            programs=[program],
            action=ConsentAction.GRANT,
            method=ConsentMethod.WEB_FORM,
            actor=None,
            evidence={**evidence, "confirms_entry": pending.pk},
            disclosure_version=pending.disclosure_version,
            reason="confirmed by the e-mail link",
        )
        language = pending.contact.language.split("-")[0] or "en"
        _send_confirmation(program, recorded.entries[0], language=language)
    return ConfirmResult.CONFIRMED
