"""Rendering: one approved version, for one recipient, on one channel, in one language.

The delivery engine calls `content_render` at send time. It checks the version is still usable
and the contact still eligible, fills the template in the sandbox with the whitelisted fields,
adds the required blocks and checks them, turns every link into a tracked short link stored
against the engine's `message_key`, and measures SMS text against the program's segment limit.
Anything wrong raises a CarereachError naming it; nothing half-rendered comes back.

`content_preview` does the same for a sample recipient without writing anything (links get a
placeholder token of the real length, so segment counts are right), and `version_problems` is
the check the review runs at submission and approval.
"""

from __future__ import annotations

import html
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.consent import links as consent_links
from carereach.consent.models import ConsentState, Program
from carereach.content.blocks import Filled, Rules, add_blocks, missing_blocks
from carereach.content.eligibility import (
    REASON_TEXT,
    Reason,
    content_eligibility,
    version_availability,
)
from carereach.content.encoding import Analysis, analyze
from carereach.content.errors import (
    ContentUnavailableError,
    NotEligibleError,
    PhiFoundError,
    RequiredBlockError,
    SegmentLimitError,
)
from carereach.content.models import ContentBody, ContentVersion, TrackedLink
from carereach.content.phi import phi_findings
from carereach.content.selectors import Policy, phi_terms, policy_for
from carereach.content.templating import TemplateError, template_check, template_render
from carereach.errors import CarereachError, ValidationError
from carereach.vocabulary import Channel

TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 14  # 62**14 ≈ 2**83: unguessable, and short enough for a text message
PREVIEW_TOKEN = "PREVIEW" + "x" * (TOKEN_LENGTH - 7)
_URL = re.compile(r"https?://[^\s<>\"'()]+")
_TRAILING = ".,;:!?"
DOCTOR_CREDENTIALS = frozenset(
    {"MD", "DO", "MBBS", "DDS", "DMD", "DPM", "OD", "PHARMD", "PHD", "DNP", "DRPH", "PSYD", "DC"}
)
PHI_CHANNELS = (Channel.SMS, Channel.VOICE, Channel.EMAIL)
PATIENT_KINDS = (ContactKind.PATIENT, ContactKind.CAREGIVER)
# Values for the approval check: long-ish, so a text that fits here fits nearly everyone.
SAMPLE_VALUES: dict[str, str] = {
    "first_name": "Alexandra",
    "last_name": "Montgomery",
    "last_name_with_title": "Dr. Montgomery",
    "rep_name": "Jordan Castellanos",
    "appointment_time": "Wed, Sep 30 at 10:30 AM PDT",
    "provider_name": "Dr. Montgomery",
    "provider_phone": "(415) 555-0100",
    "location": "Main St Clinic, Suite 200",
    "medication": "your medication",
    "refill_date": "Wed, Sep 30",
}
# Reminder fields a journey passes in `context` as plain strings (see journeys.rendering).
CONTEXT_FIELDS = ("provider_name", "provider_phone", "location", "medication", "refill_date")
_WEEKDAYS_ES = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"]
_MONTHS_ES = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
]  # fmt: skip


@dataclass(frozen=True)
class RenderedLink:
    position: int
    token: str
    url: str  # where it redirects
    short_url: str  # what the message carries


@dataclass(frozen=True)
class Rendered:
    version_id: int
    channel: str
    language: str
    text: str  # SMS text, e-mail plain text, voice script, letter
    subject: str = ""  # e-mail
    html: str = ""  # e-mail
    links: tuple[RenderedLink, ...] = ()
    sms: Analysis | None = None  # encoding and segments of an SMS text
    message_key: str | None = None  # None for a preview


def short_base_url() -> str:
    """Where tracked links point: CARE_SHORT_URL, else the public URL; no trailing slash."""
    base = str(getattr(settings, "CARE_SHORT_URL", "") or consent_links.public_url())
    return base.rstrip("/")


def short_url(token: str) -> str:
    return short_base_url() + reverse("content:link", args=[token])


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def format_appointment(at: datetime, *, time_zone: str, language: str) -> str:
    """ "Tue, Mar 3 at 2:30 PM EST" (Spanish: "mar 3 de mar, 14:30 EST") in the recipient's zone."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    abbreviation = local.tzname() or ""
    if language == "es":
        weekday, month = _WEEKDAYS_ES[local.weekday()], _MONTHS_ES[local.month - 1]
        return f"{weekday} {local.day} de {month}, {local:%H:%M} {abbreviation}".strip()
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%a, %b} {local.day} at {hour}:{local:%M %p} {abbreviation}".strip()


def version_program(version: ContentVersion) -> Program | None:
    item = version.item
    if item.program_id is not None:
        return item.program
    if item.series_id is not None and item.series is not None:
        return item.series.program
    return None


def _is_doctor(credentials: str) -> bool:
    return any(
        part.upper() in DOCTOR_CREDENTIALS for part in re.split(r"[^A-Za-z]+", credentials) if part
    )


@dataclass(frozen=True, slots=True)
class Person:
    """What a template may say about one contact (patients' names decrypted: callers guard PHI)."""

    kind: str
    first_name: str = ""
    last_name: str = ""
    credentials: str = ""  # HCPs: a doctor is addressed "Dr. <last name>"
    has_hcp_profile: bool = False
    rep_name: str = ""  # the HCP's owner rep, full name or user name
    time_zone: str = ""


def person_of(contact: Contact) -> Person:
    if contact.kind == ContactKind.HCP:
        profile = getattr(contact, "hcp", None)
        if profile is None:
            return Person(kind=contact.kind, time_zone=contact.time_zone)
        rep: User | None = profile.owner_rep
        return Person(
            kind=contact.kind,
            first_name=profile.first_name,
            last_name=profile.last_name,
            credentials=profile.credentials,
            has_hcp_profile=True,
            rep_name=(rep.get_full_name() or rep.get_username()) if rep is not None else "",
            time_zone=contact.time_zone,
        )
    profile_phi = getattr(contact, contact.kind, None)
    if profile_phi is None:
        return Person(kind=contact.kind, time_zone=contact.time_zone)
    return Person(
        kind=contact.kind,
        first_name=profile_phi.first_name or "",
        last_name=profile_phi.last_name or "",
        time_zone=contact.time_zone,
    )


def person_values(person: Person, *, context: Mapping[str, Any], language: str) -> dict[str, str]:
    """The personal fields for one person (pure: `recipient_values` without the database)."""
    first, last = person.first_name, person.last_name
    title = (
        f"Dr. {last}" if person.has_hcp_profile and last and _is_doctor(person.credentials) else ""
    )
    values = {
        "first_name": first,
        "last_name": last,
        "last_name_with_title": title or " ".join(part for part in (first, last) if part),
        "rep_name": str(context.get("rep_name") or "") or person.rep_name,
    }
    for name in CONTEXT_FIELDS:
        values[name] = str(context.get(name) or "")
    appointment = context.get("appointment_at")
    if isinstance(appointment, datetime):
        zone = person.time_zone or str(context.get("time_zone") or "")
        values["appointment_time"] = format_appointment(
            appointment, time_zone=zone, language=language
        )
    return values


def recipient_values(
    contact: Contact, *, context: Mapping[str, Any], language: str
) -> dict[str, str]:
    """The personal fields for one contact (decrypted names of patients: callers guard PHI)."""
    return person_values(person_of(contact), context=context, language=language)


def _rules(
    version: ContentVersion, channel: str, language: str, policy: Policy, unsubscribe: str
) -> Rules:
    program = version_program(version)
    return Rules(
        channel=channel,
        language=language,
        program_name=program.name if program is not None else "",
        sms_footer=policy.sms_footer_required,
        postal_address=policy.postal_address,
        unsubscribe_url=unsubscribe if program is not None else "",
        promotional=version.promotional,
        brand_name=version.brand_name,
        generic_name=version.generic_name,
        serious_risks=version.serious_risks,
        safety_info_url=version.safety_info_url,
    )


def _body(version: ContentVersion, channel: str, language: str) -> ContentBody:
    for body in version.bodies.all():
        if body.channel == channel and body.language == language:
            return body
    raise NotEligibleError(
        f"Version {version.label} has no {channel} body in {language}.", reason=Reason.NO_BODY
    )


def _fill(
    version: ContentVersion,
    body: ContentBody,
    values: Mapping[str, str],
    *,
    unsubscribe: str,
    policy: Policy,
) -> Filled:
    program = version_program(version)
    fields = {
        **values,
        "program_name": program.name if program is not None else "",
        "tracked_link": version.media_url,
        "safety_info_link": version.safety_info_url,
        "unsubscribe_link": unsubscribe,
    }
    filled = Filled(
        text=template_render(body.text, fields),
        subject=template_render(body.subject, fields) if body.subject else "",
        html=template_render(body.html, fields, html=True) if body.html else "",
    )
    rules = _rules(version, body.channel, body.language, policy, unsubscribe)
    filled = add_blocks(filled, rules)
    problems = missing_blocks(filled, rules)
    if problems:
        raise RequiredBlockError(" ".join(problems))
    return filled


def _urls(filled: Filled) -> list[str]:
    found: list[str] = []
    for source in (filled.subject, filled.text, filled.html):
        for match in _URL.finditer(source):
            url = html.unescape(match.group(0).rstrip(_TRAILING))
            if url not in found and _trackable(url):
                found.append(url)
    return found


def _trackable(url: str) -> bool:
    """Consent links (preference page, unsubscribe) and links already short stay as they are."""
    public = consent_links.public_url()
    untouched = (f"{public}/p/", f"{public}/u/", f"{short_base_url()}/l/")
    return not url.startswith(untouched)


def _swap_links(filled: Filled, short: Mapping[str, str]) -> Filled:
    def swap(source: str) -> str:
        def one(match: re.Match[str]) -> str:
            raw = match.group(0)
            stripped = raw.rstrip(_TRAILING)
            url = html.unescape(stripped)
            if url not in short:
                return raw
            return short[url] + raw[len(stripped) :]

        return _URL.sub(one, source) if source else source

    return Filled(text=swap(filled.text), subject=swap(filled.subject), html=swap(filled.html))


def _store_links(
    *, version: ContentVersion, contact: Contact, message_key: str, urls: Iterable[str]
) -> list[RenderedLink]:
    """One tracked link per URL of the message; rendering the same message again reuses them."""
    existing = {link.url: link for link in TrackedLink.objects.filter(message_key=message_key)}
    position = max((link.position for link in existing.values()), default=-1) + 1
    now = timezone.now()
    rendered: list[RenderedLink] = []
    for url in urls:
        link = existing.get(url)
        if link is None:
            for _attempt in range(3):
                try:
                    with transaction.atomic():
                        link = TrackedLink.objects.create(
                            token=new_token(),
                            version=version,
                            contact=contact,
                            message_key=message_key,
                            position=position,
                            url=url,
                            created_at=now,
                        )
                    break
                except IntegrityError:  # a token collision (about never) or a concurrent render
                    link = TrackedLink.objects.filter(message_key=message_key, url=url).first()
                    if link is not None:
                        break
            if link is None:
                raise CarereachError("Could not store a tracked link; try again.")
            position += 1
        rendered.append(RenderedLink(link.position, link.token, link.url, short_url(link.token)))
    return rendered


def _measure(filled: Filled, channel: str, policy: Policy, where: str) -> Analysis | None:
    if channel != Channel.SMS:
        return None
    sms = analyze(filled.text)
    if sms.segments > policy.sms_segment_limit:
        raise SegmentLimitError(
            f"The {where} text needs {sms.segments} segments ({sms.encoding}, {sms.units} "
            f"units); the program allows {policy.sms_segment_limit}.",
            field="text",
        )
    return sms


def _unsubscribe_url(version: ContentVersion, address: str, context: Mapping[str, Any]) -> str:
    given = str(context.get("unsubscribe_link") or "")
    if given:
        return given
    program = version_program(version)
    if program is None or not address:
        return ""
    state = ConsentState.objects.filter(
        address=address, channel=Channel.EMAIL, program=program
    ).first()
    return consent_links.unsubscribe_url(state) if state is not None else ""


def _preference_url(contact: Contact, version: ContentVersion, address: str, channel: str) -> str:
    program = version_program(version)
    if program is None or not address:
        return ""
    state = ConsentState.objects.filter(address=address, channel=channel, program=program).first()
    if state is None or state.contact_id != contact.pk:
        return ""
    return consent_links.preferences_url(state)


def content_render(
    *,
    version: ContentVersion,
    contact: Contact,
    channel: str,
    language: str,
    message_key: str,
    context: Mapping[str, Any] | None = None,
    address: str = "",
    now: datetime | None = None,
) -> Rendered:
    """The message `version` makes for `contact`, ready to send; raises when it may not be sent.

    `message_key` is the delivery engine's opaque reference for this one message: the tracked
    links are stored against it (rendering again reuses them) and `tracking.link_delivered`
    finds them by it. `address` is the exact phone or e-mail it goes to (for the preference and
    unsubscribe links). `context` may carry `rep_name`, `appointment_at` (an aware datetime),
    `time_zone` (used when the contact has none), `preference_link` and `unsubscribe_link`.
    """
    if not message_key:
        raise ValidationError(
            "A message key is required to render for sending.", field="message_key"
        )
    context = context or {}
    availability = version_availability(version, now)
    if availability != Reason.ELIGIBLE:
        raise ContentUnavailableError(
            f"Version {version.label} may not be sent: {REASON_TEXT[availability]}.",
            reason=availability,
        )
    eligibility = content_eligibility(
        version=version, contact=contact, channel=channel, language=language, now=now
    )
    if not eligibility:
        raise NotEligibleError(
            f"Version {version.label} may not go to this contact: {eligibility.message}.",
            reason=eligibility.reason,
        )
    body = _body(version, channel, language)
    policy = policy_for(version_program(version))
    values = recipient_values(contact, context=context, language=language)
    values["preference_link"] = str(
        context.get("preference_link") or _preference_url(contact, version, address, channel)
    )
    unsubscribe = _unsubscribe_url(version, address, context) if channel == Channel.EMAIL else ""
    if channel == Channel.EMAIL and not unsubscribe and version_program(version) is not None:
        raise RequiredBlockError(
            "This address has no e-mail consent record for the program: there is no "
            "unsubscribe link to put in the message."
        )
    filled = _fill(version, body, values, unsubscribe=unsubscribe, policy=policy)
    links = _store_links(
        version=version, contact=contact, message_key=message_key, urls=_urls(filled)
    )
    filled = _swap_links(filled, {link.url: link.short_url for link in links})
    sms = _measure(filled, channel, policy, f"{channel}/{language}")
    return Rendered(
        version_id=version.pk,
        channel=channel,
        language=language,
        text=filled.text,
        subject=filled.subject,
        html=filled.html,
        links=tuple(links),
        sms=sms,
        message_key=message_key,
    )


def content_preview(
    *,
    version: ContentVersion,
    channel: str,
    language: str,
    values: Mapping[str, str],
    enforce_limit: bool = False,
) -> Rendered:
    """The message for a sample recipient; writes nothing. Required-block problems still raise."""
    body = _body(version, channel, language)
    program = version_program(version)
    policy = policy_for(program)
    public = consent_links.public_url()
    fields = {
        "preference_link": f"{public}/p/{PREVIEW_TOKEN}/",
        **{key: value for key, value in values.items() if value},
    }
    unsubscribe = f"{public}/u/{PREVIEW_TOKEN}/" if program is not None else ""
    filled = _fill(version, body, fields, unsubscribe=unsubscribe, policy=policy)
    urls = _urls(filled)
    placeholder = short_url(PREVIEW_TOKEN)
    links = [RenderedLink(index, PREVIEW_TOKEN, url, placeholder) for index, url in enumerate(urls)]
    filled = _swap_links(filled, {link.url: link.short_url for link in links})
    where = f"{channel}/{language}"
    sms = (
        _measure(filled, channel, policy, where)
        if enforce_limit
        else (analyze(filled.text) if channel == Channel.SMS else None)
    )
    return Rendered(
        version_id=version.pk,
        channel=channel,
        language=language,
        text=filled.text,
        subject=filled.subject,
        html=filled.html,
        links=tuple(links),
        sms=sms,
        message_key=None,
    )


@dataclass(frozen=True)
class Problem:
    code: str  # template | required_block | segment_limit | phi | invalid
    message: str
    field: str = ""

    def error(self) -> CarereachError:
        classes: dict[str, type[ValidationError]] = {
            "required_block": RequiredBlockError,
            "segment_limit": SegmentLimitError,
            "phi": PhiFoundError,
        }
        return classes.get(self.code, ValidationError)(self.message, field=self.field or None)


def patient_facing(version: ContentVersion) -> bool:
    kinds = version.contact_kinds or list(ContactKind.values)
    return any(kind in PATIENT_KINDS for kind in kinds)


def version_phi(version: ContentVersion) -> dict[str, list[str]]:
    """PHI-looking words per channel/language of a patient-facing version's bodies."""
    if not patient_facing(version):
        return {}
    terms = phi_terms()
    drugs = [name for name in (version.brand_name, version.generic_name) if name]
    found: dict[str, list[str]] = {}
    for body in version.bodies.all():
        if body.channel not in PHI_CHANNELS:
            continue
        source = "\n".join((body.subject, body.text, body.html))
        findings = phi_findings(source, terms=terms, drugs=drugs)
        if findings:
            found[f"{body.channel}/{body.language}"] = [f.describe() for f in findings]
    return found


def version_problems(version: ContentVersion) -> list[Problem]:
    """Everything that stops `version` from being approved, each with a specific message."""
    problems: list[Problem] = []
    bodies = list(version.bodies.all())
    if not bodies:
        return [Problem("invalid", "A version needs at least one body.", "bodies")]
    program = version_program(version)
    policy = policy_for(program)
    for body in bodies:
        where = f"{body.channel}/{body.language}"
        try:
            template_check(body.text)
            template_check(body.subject)
            template_check(body.html, html=True)
        except TemplateError as error:
            problems.append(Problem("template", f"{where}: {error.message}", "text"))
            continue
        values = {**SAMPLE_VALUES, "program_name": program.name if program else ""}
        try:
            content_preview(
                version=version,
                channel=body.channel,
                language=body.language,
                values=values,
                enforce_limit=True,
            )
        except CarereachError as error:
            problems.append(Problem(error.code, error.message, error.field or ""))
    phi = version_phi(version)
    if phi and not policy.phi_to_accepted_channels:
        found = "; ".join(f"{where}: {', '.join(words)}" for where, words in phi.items())
        program_label = f"mark program {program.name}" if program else "give it a program marked"
        problems.append(
            Problem(
                "phi",
                f"Patient-facing bodies hold PHI ({found}). Remove it, or {program_label} to send "
                "PHI only on channels the patient accepted.",
                "text",
            )
        )
    return problems
