"""What an inbound text does to consent, before anything else looks at it.

`inbound_keyword_handle` classifies the text, writes the ledger entries it implies and returns
the reply that is due. The messaging app (the delivery engine) calls it on every inbound text
and sends the reply through the pipeline; nothing here sends anything.

Rules (shared/DOMAIN.md section 1):
- STOP and its kin revoke every program the replied-to sender number carries, for texts and
  calls alike; STOPALL revokes every program on every number. Unclear "leave me alone" text
  counts as an opt-out and is flagged for a person to review.
- Exactly one confirmation follows an opt-out: it is due only when this text changed a consent
  from allowed or pending to revoked, so a burst of STOPs gets one reply.
- START/UNSTOP/YES confirm a pending double opt-in, or restore what the last STOP revoked on
  that sender; a program keyword starts double opt-in (or grants, without double opt-in).
- HELP answers with program name, contact, how to stop, frequency and "Msg & data rates may
  apply".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact, Phone
from carereach.consent.keywords import Category, Scope, explain, normalize
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
)
from carereach.consent.services import consent_record, programs_on_sender
from carereach.vocabulary import Channel

RATES = "Msg & data rates may apply."


@dataclass
class InboundOutcome:
    category: str | None  # opt_out | opt_in | help | unclear | program_keyword | None
    reply: str | None = None  # the text to send back, when one is due
    needs_review: bool = False  # unclear text: a person decides; treated as opt-out meanwhile
    entries: list[ConsentEntry] = field(default_factory=list)
    programs: list[Program] = field(default_factory=list)


def _reply(program: Program, kind: str, language: str) -> str:
    texts = program.replies.get(language) or program.replies.get("en") or {}
    return str(texts.get(kind) or "")


def _help_text(programs: list[Program], language: str) -> str:
    if not programs:
        return f"Reply STOP to opt out. {RATES}"
    parts = []
    for program in programs:
        custom = _reply(program, "help", language)
        parts.append(
            custom
            or f"{program.name}: {program.frequency}. Help: {program.help_contact}. "
            f"Reply STOP to opt out."
        )
    return " ".join(parts) + f" {RATES}"


def _contacts_for(number: str) -> list[Contact]:
    ids = Phone.objects.filter(e164=number).values_list("contact_id", flat=True)
    return list(Contact.objects.filter(pk__in=ids).order_by("pk"))


def _phone_channels(contact: Contact, number: str) -> list[str]:
    line = contact.phones.filter(e164=number).values_list("line_type", flat=True).first()
    return [Channel.VOICE] if line == "landline" else [Channel.SMS, Channel.VOICE]


@transaction.atomic
def inbound_keyword_handle(
    *,
    sender: str,
    from_number: str,
    text: str,
    inbound_message_id: str,
    received_at: datetime | None = None,
) -> InboundOutcome:
    """Apply one inbound text's consent meaning; returns what happened and the reply due."""
    received_at = received_at or timezone.now()
    verdict = explain(text)
    contacts = _contacts_for(from_number)
    language = contacts[0].language.split("-")[0] if contacts else "en"
    evidence = {"inbound_message_id": inbound_message_id, "keyword": verdict.keyword or ""}
    carried = programs_on_sender(sender)

    if verdict.category in (Category.OPT_OUT, Category.UNCLEAR):
        everything = verdict.scope == Scope.ALL_NUMBERS
        targets: list[Program | None] = [None] if everything else list(carried)
        outcome = InboundOutcome(
            category=str(verdict.category),
            needs_review=verdict.category == Category.UNCLEAR,
            programs=list(carried),
        )
        before = _allowed_or_pending(from_number)
        for contact in contacts:
            if not targets:
                break
            recorded = consent_record(
                contact=contact,
                address=from_number,
                channels=_phone_channels(contact, from_number),
                programs=targets,
                action=ConsentAction.REVOKE,
                method=ConsentMethod.REPLY,
                actor=None,
                evidence=evidence,
                reason="unclear reply, treated as opt-out until reviewed"
                if outcome.needs_review
                else f"replied {verdict.keyword or 'opt-out text'}",
                occurred_at=received_at,
            )
            outcome.entries.extend(recorded.entries)
        changed = before - _allowed_or_pending(from_number)
        if changed:  # one confirmation per opt-out: only when this text revoked something
            custom = _reply(carried[0], "stop", language) if len(carried) == 1 else ""
            names = "all programs" if everything else ", ".join(p.name for p in carried)
            reply = custom or (
                f"You are unsubscribed from {names or 'all programs'} and will get no more "
                "messages from this number."
            )
            if "START" not in reply.upper():
                reply += " Reply START to opt back in."
            outcome.reply = reply
        return outcome

    if verdict.category == Category.HELP:
        return InboundOutcome(category="help", reply=_help_text(carried, language))

    if verdict.category == Category.OPT_IN:
        return _opt_in(
            contacts=contacts,
            number=from_number,
            carried=carried,
            evidence=evidence,
            received_at=received_at,
            language=language,
        )

    keyword = normalize(text)
    joined = [p for p in carried if keyword in p.keywords]
    if joined and contacts:
        program = joined[0]
        action = ConsentAction.PENDING if program.double_opt_in else ConsentAction.GRANT
        outcome = InboundOutcome(category="program_keyword", programs=[program])
        for contact in contacts:
            outcome.entries.extend(
                consent_record(
                    contact=contact,
                    address=from_number,
                    channels=[Channel.SMS],
                    programs=[program],
                    action=action,
                    method=ConsentMethod.KEYWORD,
                    actor=None,
                    evidence=evidence,
                    occurred_at=received_at,
                ).entries
            )
        if action == ConsentAction.PENDING:
            outcome.reply = (
                f"{program.name}: reply YES to get {program.frequency}. "
                f"Reply STOP to opt out, HELP for help. {RATES}"
            )
        else:
            outcome.reply = _reply(program, "confirmation", language) or _confirmation(program)
        return outcome
    return InboundOutcome(category=None)


def _confirmation(program: Program) -> str:
    terms = f" Terms: {program.terms_url}" if program.terms_url else ""
    return (
        f"{program.name}: you're subscribed, {program.frequency}. Reply HELP for help, STOP to "
        f"opt out. {RATES}{terms}"
    )


def _allowed_or_pending(number: str) -> set[tuple[str, int]]:
    return set(
        ConsentState.objects.filter(address=number)
        .exclude(status=ConsentStatus.REVOKED)
        .values_list("channel", "program_id")
    )


def _opt_in(
    *,
    contacts: list[Contact],
    number: str,
    carried: list[Program],
    evidence: dict[str, str],
    received_at: datetime,
    language: str,
) -> InboundOutcome:
    """YES confirms pending double opt-ins; START/UNSTOP restore what a STOP revoked here."""
    states = ConsentState.objects.filter(
        address=number, channel=Channel.SMS, program__in=carried
    ).exclude(status=ConsentStatus.GRANTED)
    restorable = list(states.select_related("program", "contact"))
    outcome = InboundOutcome(category="opt_in")
    for state in restorable:
        if (
            state.status == ConsentStatus.REVOKED
            and not ConsentEntry.objects.filter(
                address=number, program=state.program, action=ConsentAction.GRANT
            ).exists()
        ):
            continue  # never consented here before: START alone does not create consent
        outcome.entries.extend(
            consent_record(
                contact=state.contact,
                address=number,
                channels=[Channel.SMS],
                programs=[state.program],
                action=ConsentAction.GRANT,
                method=ConsentMethod.REPLY,
                actor=None,
                evidence=evidence,
                occurred_at=received_at,
            ).entries
        )
        outcome.programs.append(state.program)
    if outcome.programs:
        program = outcome.programs[0]
        outcome.reply = _reply(program, "confirmation", language) or _confirmation(program)
    return outcome


@transaction.atomic
def carrier_opt_out_record(
    *, sender: str, number: str, error_code: str, carrier_message_id: str
) -> list[ConsentEntry]:
    """A carrier's "recipient unsubscribed" (Twilio 21610) written back into the ledger.

    The carrier has already blocked the sender for this number; the ledger must say so, or
    every later send would fail the same way and nobody could explain why.
    """
    carried: list[Program | None] = list(programs_on_sender(sender)) or [None]
    entries: list[ConsentEntry] = []
    for contact in _contacts_for(number):
        entries.extend(
            consent_record(
                contact=contact,
                address=number,
                channels=_phone_channels(contact, number),
                programs=carried,
                action=ConsentAction.REVOKE,
                method=ConsentMethod.CARRIER,
                actor=None,
                evidence={"carrier_error": error_code, "carrier_message_id": carrier_message_id},
                reason=f"carrier reported the recipient unsubscribed ({error_code})",
            ).entries
        )
    return entries
