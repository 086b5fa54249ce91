"""What consent's own messages say: double opt-in requests, opt-in confirmations, receipts.

Pure functions of a program and a few values: no database, no sending. `signup` and `services`
put the result in a `notices.Notice`; the wording follows CTIA's opt-in rules (program name,
what and how often, "Msg & data rates may apply", HELP and STOP) and DOMAIN.md section 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from carereach.consent.models import Program
from carereach.vocabulary import Channel

RATES = "Msg & data rates may apply."
STOP_BY_TEXT = "Reply STOP to opt out, HELP for help. Msg & data rates may apply."
STOP_BY_EMAIL = "To opt out, use the unsubscribe link in any of our e-mails."
NOT_A_CONDITION = "Consent is not a condition of purchase."
_CHANNEL_WORDS = {
    Channel.SMS.value: "text messages",
    Channel.VOICE.value: "calls",
    Channel.EMAIL.value: "e-mails",
    Channel.LETTER.value: "letters",
}


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


def program_reply(program: Program, kind: str, language: str) -> str:
    """The program's own reply of this kind (confirmation, help, stop), or ""."""
    texts = program.replies.get(language) or program.replies.get("en") or {}
    return str(texts.get(kind) or "")


def channel_words(channels: Sequence[str]) -> str:
    return " and ".join(_CHANNEL_WORDS.get(c, c) for c in channels)


def double_opt_in_sms(program: Program) -> str:
    """The text that asks for YES (the inbound handler completes the sign-up on YES)."""
    return (
        f"{program.name}: reply YES to get {program.frequency}. "
        f"Reply STOP to opt out, HELP for help. {RATES}"
    )


def double_opt_in_email(program: Program, *, confirm_url: str) -> Email:
    body = "\n".join(
        [
            f"You asked to receive e-mails from {program.name}"
            + (f" ({program.brand})" if program.brand else "")
            + f", {program.frequency}.",
            "",
            "To confirm, open this link and press the button on the page:",
            confirm_url,
            "",
            "The link works for 7 days. If you did not ask for this, ignore this e-mail: "
            "nothing more will be sent.",
            f"Questions: {program.help_contact}.",
        ]
    )
    return Email(subject=f"Confirm your subscription to {program.name}", body=body)


def opt_in_confirmation_sms(program: Program, *, language: str = "en") -> str:
    custom = program_reply(program, "confirmation", language)
    if custom:
        return custom
    terms = f" Terms: {program.terms_url}" if program.terms_url else ""
    return (
        f"{program.name}: you're subscribed, {program.frequency}. Reply HELP for help, STOP to "
        f"opt out. {RATES}{terms}"
    )


def opt_in_confirmation_email(
    program: Program, *, unsubscribe_url: str, preferences_url: str, language: str = "en"
) -> Email:
    lines = [
        f"You're subscribed to e-mails from {program.name}"
        + (f" ({program.brand})" if program.brand else "")
        + f", {program.frequency}.",
    ]
    custom = program_reply(program, "confirmation", language)
    if custom:
        lines += ["", custom]
    lines += [
        "",
        f"Unsubscribe at any time: {unsubscribe_url}",
        f"All your message preferences: {preferences_url}",
    ]
    if program.terms_url:
        lines.append(f"Terms: {program.terms_url}")
    if program.privacy_url:
        lines.append(f"Privacy: {program.privacy_url}")
    lines.append(f"Questions: {program.help_contact}.")
    return Email(subject=f"You're subscribed to {program.name}", body="\n".join(lines))


def capture_receipt(
    *, groups: Sequence[tuple[Program, Sequence[str]]], address: str, when: str
) -> str:
    """What the person agreed to in person, at which address, and how to stop."""
    lines = [f"Thank you. On {when} you agreed to receive, at {address}:"]
    for program, channels in groups:
        brand = f" from {program.brand}" if program.brand else ""
        lines.append(f"- {program.name}{brand}: {channel_words(channels)}, {program.frequency}.")
    lines.append(NOT_A_CONDITION)
    helps = sorted({p.help_contact for p, _ in groups})
    every = {c for _, chosen in groups for c in chosen}
    if "@" in address:
        lines.append(STOP_BY_EMAIL)
    elif Channel.SMS in every:
        lines.append(STOP_BY_TEXT)
    else:
        lines.append(f"To stop calls, say so on any call or contact {', '.join(helps)}.")
    lines.append(f"Questions: {', '.join(helps)}.")
    return "\n".join(lines)
