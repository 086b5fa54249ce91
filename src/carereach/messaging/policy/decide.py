"""The policy engine: send now, hold until T, or skip with a reason. One pure function.

`decide` sees only facts (a `Candidate`, gathered for a whole batch by set-based SQL in
`messaging.services.fanout`) and the clock, so every rule is tested without a database and every
outcome carries reasons a person can read back ("why did she get this / why not?").

Order matters only for which reason is reported first; every skip is final and every rule holds:
consent is never bypassed by a lane, and quiet hours are never bypassed by anything but a reply
the person just asked for (consent notices do not come through here at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from carereach.messaging.policy.quiet_hours import next_allowed


class Action(StrEnum):
    SEND = "send"  # due now
    HOLD = "hold"  # due later (quiet hours); expires if still waiting at expiry
    SKIP = "skip"  # not sent; the reason says why


class SkipReason(StrEnum):
    CONTACT_INACTIVE = "contact_inactive"  # unreachable, deceased or merged
    NO_ADDRESS = "no_address"  # no address on this channel
    LANDLINE = "landline"  # texts cannot reach a landline
    CONFIDENTIAL = "confidential"  # the patient asked for another channel or address only
    SUPPRESSED = "suppressed"  # bounced, invalid or otherwise suppressed address
    NO_CONSENT = "no_consent"  # never consented on this address, channel and program
    CONSENT_PENDING = "consent_pending"  # double opt-in not confirmed
    CONSENT_REVOKED = "consent_revoked"  # opted out
    CONSENT_EXPIRED = "consent_expired"  # consent ran out
    CONTENT_UNAVAILABLE = "content_unavailable"  # not approved, expired or withdrawn
    INELIGIBLE = "ineligible"  # the content's audience rules exclude this contact
    SENDER_TYPE = "sender_type"  # drug promotion over a long code or toll-free number
    FREQUENCY_CAP = "frequency_cap"  # the operator's cap for this kind of program is reached
    EXEMPT_LIMIT = "exempt_limit"  # healthcare exemption: 1 a day, 3 a week per provider
    EXEMPT_TOO_LONG = "exempt_too_long"  # healthcare exemption: 160 characters at most
    EXPIRED = "expired"  # the next allowed moment is after the message goes stale


# Program types whose messages need no prior consent (an opt-out still stops them).
NO_PRIOR_CONSENT = frozenset({"healthcare_exempt", "transactional"})


@dataclass(frozen=True)
class Candidate:
    contact_id: int
    channel: str
    address: str  # "" when the contact has none on this channel
    program_type: str  # ProgramType value
    contact_status: str = "active"
    time_zone: str = ""
    state: str = ""
    line_type: str = "unknown"
    consent: str = "none"  # granted | pending | revoked | expired | none
    confidential_channel: str = ""  # "" or the only channel allowed
    confidential_address: str = ""  # "" or the only address allowed
    suppressed: bool = False
    content_problem: str = ""  # "" or why the content may not go (from the content app)
    eligible: bool = True
    promotional: bool = False  # prescription-drug promotion
    sender_kind: str = "short_code"  # short_code | long_code | toll_free
    sent_week: int = 0  # capped messages to this contact in the last 7 days (all programs)
    exempt_day: int = 0  # healthcare-exempt messages from this program in the last day
    exempt_week: int = 0  # ... in the last 7 days
    length: int = 0  # characters of the rendered text
    bypass_caps: bool = False  # clinical and transactional lane


@dataclass(frozen=True)
class Limits:
    caps_per_week: dict[str, int] = field(default_factory=lambda: {"marketing": 3})
    exempt_per_day: int = 1
    exempt_per_week: int = 3
    exempt_max_chars: int = 160


@dataclass(frozen=True)
class Decision:
    action: Action
    due_at: datetime | None = None
    code: str = ""  # the deciding reason's code
    text: str = ""  # the same for a person


def _skip(reason: SkipReason, text: str) -> Decision:
    return Decision(Action.SKIP, code=reason, text=text)


CONSENT_TEXT = {
    "none": (SkipReason.NO_CONSENT, "No consent for this address, channel and program."),
    "pending": (SkipReason.CONSENT_PENDING, "Sign-up not confirmed yet (double opt-in)."),
    "revoked": (SkipReason.CONSENT_REVOKED, "The person opted out."),
    "expired": (SkipReason.CONSENT_EXPIRED, "The consent has expired."),
}


def _gate(c: Candidate, limits: Limits) -> Decision | None:
    """Every rule that can stop the message outright, in the order they are reported."""
    if c.contact_status != "active":
        return _skip(SkipReason.CONTACT_INACTIVE, f"The contact is {c.contact_status}.")
    if not c.address:
        return _skip(SkipReason.NO_ADDRESS, f"No {c.channel} address on file.")
    if c.channel == "sms" and c.line_type == "landline":
        return _skip(SkipReason.LANDLINE, "The number is a landline; texts cannot reach it.")
    if c.confidential_channel and c.confidential_channel != c.channel:
        return _skip(
            SkipReason.CONFIDENTIAL, f"Asked to be contacted by {c.confidential_channel} only."
        )
    if c.confidential_address and c.confidential_address != c.address:
        return _skip(SkipReason.CONFIDENTIAL, "Asked to be contacted at another address only.")
    if c.suppressed:
        return _skip(SkipReason.SUPPRESSED, "The address is suppressed (bounced or invalid).")
    exempt = c.program_type in NO_PRIOR_CONSENT
    if c.consent != "granted" and not (exempt and c.consent == "none"):
        reason, text = CONSENT_TEXT.get(c.consent, CONSENT_TEXT["none"])
        return _skip(reason, text)
    if c.content_problem:
        return _skip(SkipReason.CONTENT_UNAVAILABLE, c.content_problem)
    if not c.eligible:
        return _skip(SkipReason.INELIGIBLE, "Outside the content's audience.")
    if c.promotional and c.channel == "sms" and c.sender_kind != "short_code":
        return _skip(
            SkipReason.SENDER_TYPE,
            "Drug promotion needs a short code; carriers refuse it on long codes and toll-free.",
        )
    if c.program_type == "healthcare_exempt":
        if c.exempt_day >= limits.exempt_per_day or c.exempt_week >= limits.exempt_per_week:
            return _skip(
                SkipReason.EXEMPT_LIMIT,
                f"Healthcare exemption allows {limits.exempt_per_day} a day and "
                f"{limits.exempt_per_week} a week from one provider.",
            )
        if c.channel == "sms" and c.length > limits.exempt_max_chars:
            return _skip(
                SkipReason.EXEMPT_TOO_LONG,
                f"Healthcare-exempt texts fit in {limits.exempt_max_chars} characters.",
            )
    cap = limits.caps_per_week.get(c.program_type)
    if cap is not None and not c.bypass_caps and c.sent_week >= cap:
        return _skip(SkipReason.FREQUENCY_CAP, f"Already {c.sent_week} this week (cap {cap}).")
    return None


def decide(
    c: Candidate, *, now: datetime, limits: Limits, expires_at: datetime | None = None
) -> Decision:
    stopped = _gate(c, limits)
    if stopped is not None:
        return stopped
    if c.channel in ("sms", "voice"):  # e-mail and letters wait in an inbox, not a pocket
        due = next_allowed(now, time_zone=c.time_zone, state=c.state)
        if due > now:
            if expires_at is not None and due >= expires_at:
                return _skip(SkipReason.EXPIRED, "Quiet hours last past the message's expiry.")
            where = c.time_zone or "every US time zone (zone unknown)"
            return Decision(
                Action.HOLD,
                due_at=due,
                code="quiet_hours",
                text=f"Held for quiet hours in {where}.",
            )
    return Decision(
        Action.SEND, due_at=now, code="allowed", text="Consent and every rule allow it."
    )
