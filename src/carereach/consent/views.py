"""Console and public pages of the consent app.

Console: a contact's consent (a fragment the contact page loads, or a page of its own), the rep's
in-person capture, a staff revocation, and the printable proof. Public, reached by a signed link
in a message: the preference page and RFC 8058 one-click unsubscribe. Every write goes through
`services.consent_record`; these views parse, authorize, call it and render.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_htmx.middleware import HtmxDetails

from carereach.audience.models import Contact
from carereach.audience.presentation import contact_name
from carereach.audience.selectors import contact_get_for_user
from carereach.consent import links
from carereach.consent.api import contact_consent
from carereach.consent.forms import (
    AddressOption,
    CaptureForm,
    RevokeForm,
    address_options,
    is_signature,
    mask_address,
)
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
)
from carereach.consent.selectors import (
    consent_check,
    consent_states_for_contact,
    consent_timeline,
    programs_all,
)
from carereach.consent.services import consent_record
from carereach.errors import CarereachError, NotFoundError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import (
    acting_user,
    forbidden,
    has_capability,
    require_capability,
)
from carereach.security.roles import Capability
from carereach.vocabulary import Channel

REASONS = {
    "consented": "Yes",
    "no_consent": "No: never given",
    "consent_pending": "No: waiting for confirmation",
    "consent_revoked": "No: revoked",
    "consent_expired": "No: expired",
    "program_closed": "No: program closed",
    "channel_not_in_program": "No: program no longer uses this channel",
}
EVIDENCE_LABELS = {
    "signature": "signature",
    "typed_name": "typed name",
    "ip": "IP address",
    "user_agent": "browser",
    "inbound_message_id": "inbound message",
    "source_file": "source file",
    "receipt": "receipt",
    "one_click": "one-click unsubscribe",
    "disconnected_at": "disconnected",
    "capture": "capture",
}
# Evidence that identifies the person (a patient's typed name, IP, signature): hidden, like the
# contact's addresses, from viewers who may not see a patient's PHI.
PERSONAL_EVIDENCE = {"signature", "typed_name", "ip", "user_agent"}
STOP_BY_TEXT = "Reply STOP to opt out, HELP for help. Msg & data rates may apply."
STOP_BY_EMAIL = "To opt out, use the unsubscribe link in any of our e-mails."


# -- shared helpers ----------------------------------------------------------------------------


def _contact_or_404(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


def _reach_shown(user: User, contact: Contact) -> bool:
    """A patient's or caregiver's addresses are PHI; an HCP's are directory data."""
    return contact.kind == "hcp" or has_capability(user, Capability.VIEW_PHI)


def _htmx_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.history_restore_request


def _client_evidence(request: HttpRequest) -> dict[str, str]:
    """IP and user agent of the person acting (REMOTE_ADDR: the proxy must set it right)."""
    return {
        "ip": str(request.META.get("REMOTE_ADDR", "")),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:300],
    }


def _channel_label(channel: str) -> str:
    return Channel(channel).label if channel in Channel.values else channel


def _audit_read(user: User | None, contact: Contact, what: str, *, full: bool) -> None:
    """Showing a patient's consent (addresses, signatures) is a read of a patient record."""
    if contact.kind != "hcp" and full:
        audit_record(actor=user, action=AuditAction.READ, object_type=what, object_id=contact.pk)


@dataclass(frozen=True)
class StateRow:
    state: ConsentState
    address: str
    channel: str
    allowed: bool
    allowed_text: str


@dataclass(frozen=True)
class EvidenceItem:
    key: str
    label: str
    value: str
    image: bool = False


@dataclass(frozen=True)
class EntryRow:
    entry: ConsentEntry
    address: str
    channel: str
    program: str
    summary: str
    evidence: list[EvidenceItem]


def _state_rows(contact: Contact, *, full: bool, now: datetime) -> list[StateRow]:
    rows = []
    for state in consent_states_for_contact(contact=contact):
        check = consent_check(
            address=state.address, channel=state.channel, program=state.program, now=now
        )
        rows.append(
            StateRow(
                state=state,
                address=state.address if full else mask_address(state.address),
                channel=_channel_label(state.channel),
                allowed=check.allowed,
                allowed_text=REASONS.get(check.reason, check.reason),
            )
        )
    return rows


def _evidence_items(evidence: dict[str, Any], *, full: bool) -> list[EvidenceItem]:
    items = []
    for key, value in evidence.items():
        label = EVIDENCE_LABELS.get(key, key.replace("_", " "))
        if key in PERSONAL_EVIDENCE and not full:
            items.append(EvidenceItem(key, label, "hidden (protected health information)"))
        elif key == "signature":
            shown = is_signature(value)
            items.append(EvidenceItem(key, label, str(value) if shown else "unreadable", shown))
        else:
            items.append(EvidenceItem(key, label, str(value)))
    return items


def _evidence_summary(evidence: dict[str, Any], *, full: bool) -> str:
    parts = []
    for key, value in evidence.items():
        if key == "typed_name" and full:
            parts.append(f"typed name “{value}”")
        elif key == "ip" and full:
            parts.append(f"IP {value}")
        elif key == "capture":
            continue
        else:
            parts.append(EVIDENCE_LABELS.get(key, key.replace("_", " ")))
    return ", ".join(parts) or "none"


def _entry_rows(entries: Iterable[ConsentEntry], *, full: bool) -> list[EntryRow]:
    return [
        EntryRow(
            entry=entry,
            address=entry.address if full else mask_address(entry.address),
            channel=_channel_label(entry.channel),
            program=entry.program.name if entry.program else "all programs",
            summary=_evidence_summary(entry.evidence, full=full),
            evidence=_evidence_items(entry.evidence, full=full),
        )
        for entry in entries
    ]


def _consent_context(request: HttpRequest, contact: Contact) -> dict[str, Any]:
    user = acting_user(request)
    full = _reach_shown(user, contact)
    _audit_read(user, contact, "consent_timeline", full=full)
    return {
        "contact": contact,
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
        "states": _state_rows(contact, full=full, now=timezone.now()),
        "history": _entry_rows(consent_timeline(contact=contact), full=full),
        "may_capture": has_capability(user, Capability.CAPTURE_CONSENT),
        "reach_shown": full,
    }


# -- a contact's consent -----------------------------------------------------------------------


@require_capability(Capability.VIEW_CONSENT)
@require_http_methods(["GET"])
def contact_consent_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Current consent and the whole ledger history: the contact page loads it as a fragment."""
    contact = _contact_or_404(request, contact_id)
    context = _consent_context(request, contact)
    if _htmx_partial(request):
        return render(request, "consent/_timeline.html", context)
    return render(request, "consent/contact_consent.html", context)


def _programs_for(options: Iterable[AddressOption]) -> list[Program]:
    """Active programs that use a channel one of these addresses can take."""
    usable = {c for option in options for c in option.channels}
    return [p for p in programs_all().filter(active=True) if usable & set(p.channels)]


def _receipt(groups: list[tuple[Program, list[str]]], option: AddressOption, when: str) -> str:
    lines = [f"Thank you. On {when} you agreed to receive, at {option.address}:"]
    for program, channels in groups:
        labels = " and ".join(_channel_label(c).lower() + "s" for c in channels)
        brand = f" from {program.brand}" if program.brand else ""
        lines.append(f"- {program.name}{brand}: {labels}, {program.frequency}.")
    lines.append("Consent is not a condition of purchase.")
    lines.append(STOP_BY_EMAIL if option.kind == "email" else STOP_BY_TEXT)
    helps = sorted({p.help_contact for p, _ in groups})
    lines.append(f"Questions: {', '.join(helps)}.")
    return "\n".join(lines)


def _record_capture(request: HttpRequest, contact: Contact, form: CaptureForm, user: User) -> str:
    """Write one grant per program, all or nothing; returns the capture's id."""
    option = form.chosen()
    groups = form.groups()
    capture = secrets.token_hex(8)
    now = timezone.now()
    evidence: dict[str, Any] = {
        "capture": capture,
        **_client_evidence(request),
        "receipt": _receipt(groups, option, timezone.localtime(now).strftime("%Y-%m-%d %H:%M %Z")),
    }
    if form.cleaned_data["signature"]:
        evidence["signature"] = form.cleaned_data["signature"]
    if form.cleaned_data["typed_name"]:
        evidence["typed_name"] = form.cleaned_data["typed_name"]
    # In person, signed or with a typed name: written consent, so a grant even where the
    # program asks for double opt-in (that confirms keyword and web sign-ups).
    with transaction.atomic():
        for program, channels in groups:
            consent_record(
                contact=contact,
                address=option.address,
                channels=channels,
                programs=[program],
                action=ConsentAction.GRANT,
                method=ConsentMethod.IN_PERSON,
                actor=user,
                evidence=evidence,
                occurred_at=now,
            )
    return capture


def _posted(request: HttpRequest) -> Any:
    """The form data of a POST, even an empty one (which must fail, not show a blank form)."""
    return request.POST if request.method == "POST" else None


def _attach(form: CaptureForm | RevokeForm, error: CarereachError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


@require_capability(Capability.CAPTURE_CONSENT)
@require_http_methods(["GET", "POST"])
def capture_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A rep records consent in person: address, programs, disclosure, signature."""
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    options = address_options(contact, full=_reach_shown(user, contact))
    programs = _programs_for(options)
    form = CaptureForm(_posted(request), options=options, programs=programs)
    if request.method == "POST" and form.is_valid():
        try:
            capture = _record_capture(request, contact, form, user)
        except CarereachError as error:
            _attach(form, error)
        else:
            return redirect("consent:capture_receipt", contact_id=contact.pk, capture=capture)
    context = {
        "contact": contact,
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
        "form": form,
        "options": options,
        "programs": programs,
        "chosen_programs": set(form["programs"].value() or ()),
        "chosen_address": form["address"].value() or "",
    }
    status = 400 if form.errors else 200
    return render(request, "consent/consent_capture.html", context, status=status)


@require_capability(Capability.CAPTURE_CONSENT)
@require_http_methods(["GET"])
def capture_receipt_view(request: HttpRequest, contact_id: int, capture: str) -> HttpResponse:
    """What was recorded, and the receipt for the person (sent once the delivery engine exists)."""
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    entries = list(consent_timeline(contact=contact).filter(evidence__capture=capture))
    if not entries:
        raise Http404("No such capture.")
    full = _reach_shown(user, contact)
    context = {
        "contact": contact,
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
        "rows": _entry_rows(entries, full=full),
        "receipt": entries[0].evidence.get("receipt", "") if full else "",
    }
    return render(request, "consent/consent_receipt.html", context)


@require_capability(Capability.CAPTURE_CONSENT)
@require_http_methods(["GET", "POST"])
def revoke_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Staff note a revocation asked for by any reasonable means; it takes effect at once."""
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    options = address_options(contact, full=_reach_shown(user, contact))
    programs = list(programs_all())
    form = RevokeForm(_posted(request), options=options, programs=programs)
    if request.method == "POST" and form.is_valid():
        try:
            consent_record(
                contact=contact,
                address=form.chosen().address,
                channels=form.cleaned_data["channels"],
                programs=form.chosen_programs(),
                action=ConsentAction.REVOKE,
                method=ConsentMethod.CALL_CENTER,
                actor=user,
                evidence={"noted_by": user.get_username()},
                reason=form.cleaned_data["reason"],
            )
        except CarereachError as error:
            _attach(form, error)
        else:
            return redirect("consent:contact", contact_id=contact.pk)
    context = {
        "contact": contact,
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
        "form": form,
        "options": options,
    }
    status = 400 if form.errors else 200
    return render(request, "consent/consent_revoke.html", context, status=status)


@require_capability(Capability.VIEW_CONSENT)
@require_http_methods(["GET"])
def proof_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """One contact's whole consent history with its evidence, laid out to print."""
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    full = _reach_shown(user, contact)
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type="consent_proof",
        object_id=contact.pk,
        note="printable proof of consent",
    )
    context = {
        "contact": contact,
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
        "states": _state_rows(contact, full=full, now=timezone.now()),
        "history": _entry_rows(consent_timeline(contact=contact), full=full),
        "reach_shown": full,
        "printed_at": timezone.now(),
        "printed_by": user.get_username(),
    }
    return render(request, "consent/consent_proof.html", context)


@require_capability(Capability.VIEW_CONSENT)
@require_http_methods(["GET"])
def proof_json_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The API's proof of consent (`GET /api/v1/contacts/{id}/consent`) as a download."""
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    if not _reach_shown(user, contact):
        return forbidden(request, Capability.VIEW_PHI)
    data = contact_consent(request, contact.pk).model_dump(mode="json")
    audit_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="consent_proof",
        object_id=contact.pk,
        note="proof of consent as JSON",
    )
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="consent-{contact.pk}.json"'
    return response


# -- public pages behind signed links ----------------------------------------------------------


def _link_failed(request: HttpRequest, error: links.LinkInvalid) -> HttpResponse:
    """A plain page that says nothing about whose link it was."""
    expired = isinstance(error, links.LinkExpired)
    response = render(
        request,
        "consent/link_invalid.html",
        {"expired": expired},
        status=410 if expired else 404,
    )
    return _private(response)


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@dataclass(frozen=True)
class PreferenceRow:
    key: str  # "<channel>:<program id>", the checkbox value
    state: ConsentState
    channel: str
    on: bool  # may be contacted now
    status: str
    may_turn_on: bool  # only where the person granted it before


def _preference_rows(anchor: ConsentState) -> list[PreferenceRow]:
    states = (
        ConsentState.objects.filter(address=anchor.address)
        .select_related("program", "contact")
        .order_by("program__name", "channel")
    )
    granted_before = set(
        ConsentEntry.objects.filter(address=anchor.address, action=ConsentAction.GRANT)
        .values_list("channel", "program_id")
        .distinct()
    )
    now = timezone.now()
    rows = []
    for state in states:
        check = consent_check(
            address=state.address, channel=state.channel, program=state.program, now=now
        )
        if check.reason in {"program_closed", "channel_not_in_program"}:
            continue
        rows.append(
            PreferenceRow(
                key=f"{state.channel}:{state.program_id}",
                state=state,
                channel=_channel_label(state.channel),
                on=check.allowed,
                status=REASONS.get(check.reason, check.reason),
                may_turn_on=(state.channel, state.program_id) in granted_before,
            )
        )
    return rows


def _apply_preferences(
    request: HttpRequest, rows: list[PreferenceRow], wanted: set[str], *, stop_all: bool
) -> tuple[int, int]:
    """Revoke what was unticked, grant again what was ticked; returns (stopped, started)."""
    evidence = {**_client_evidence(request), "page": "preferences"}
    stopped = started = 0
    with transaction.atomic():
        for row in rows:
            want = row.key in wanted and not stop_all
            if row.on and not want:
                action = ConsentAction.REVOKE
                stopped += 1
            elif want and not row.on and row.may_turn_on:
                action = ConsentAction.GRANT
                started += 1
            else:
                continue
            consent_record(
                contact=row.state.contact,
                address=row.state.address,
                channels=[row.state.channel],
                programs=[row.state.program],
                action=action,
                method=ConsentMethod.PREFERENCE_PAGE,
                actor=None,
                evidence=evidence,
                reason="preference page",
            )
    return stopped, started


@never_cache
@require_http_methods(["GET", "POST"])
def preferences_view(request: HttpRequest, token: str) -> HttpResponse:
    """The person's own page: which programs may reach this address, and on which channels."""
    try:
        anchor = links.preferences_state(token)
    except links.LinkInvalid as error:
        return _link_failed(request, error)
    rows = _preference_rows(anchor)
    problem = ""
    saved = ""
    if request.method == "POST":
        wanted = set(request.POST.getlist("keep"))
        try:
            stopped, started = _apply_preferences(
                request, rows, wanted, stop_all="stop_all" in request.POST
            )
        except CarereachError as failure:
            problem = failure.message
        else:
            rows = _preference_rows(anchor)
            saved = _saved_text(stopped, started)
    context = {
        "address": mask_address(anchor.address),
        "rows": rows,
        "error": problem,
        "saved": saved,
    }
    return _private(
        render(request, "consent/preferences.html", context, status=400 if problem else 200)
    )


def _saved_text(stopped: int, started: int) -> str:
    if not stopped and not started:
        return "Nothing changed."
    parts = []
    if stopped:
        parts.append(f"stopped {stopped}")
    if started:
        parts.append(f"started again {started}")
    return "Saved: " + " and ".join(parts) + ". It takes effect now."


@csrf_exempt  # mailbox providers POST here without a session (RFC 8058); the token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058 one-click unsubscribe. A GET only asks (link scanners follow GETs); a POST acts."""
    try:
        state = links.unsubscribe_state(token)
    except links.LinkInvalid as error:
        return _link_failed(request, error)
    program = state.program
    done = failed = False
    if request.method == "POST":
        try:
            _unsubscribe(request, state)
        except CarereachError:
            failed = True  # e.g. the address has left the contact: a person must look
        else:
            done = True
    context = {
        "program": program,
        "address": mask_address(state.address),
        "already": state.status == ConsentStatus.REVOKED,
        "done": done,
        "failed": failed,
        "help_contact": program.help_contact,
        "preferences": links.preferences_token(state),
    }
    response = render(request, "consent/unsubscribe.html", context, status=409 if failed else 200)
    return _private(response)


def _unsubscribe(request: HttpRequest, state: ConsentState) -> None:
    """Revoke e-mail for the state's program and address, once (providers may POST again)."""
    if state.status != ConsentStatus.REVOKED:
        consent_record(
            contact=state.contact,
            address=state.address,
            channels=[Channel.EMAIL],
            programs=[state.program],
            action=ConsentAction.REVOKE,
            method=ConsentMethod.EMAIL_UNSUBSCRIBE,
            actor=None,
            evidence={
                **_client_evidence(request),
                "one_click": request.POST.get("List-Unsubscribe") == "One-Click",
            },
            reason="e-mail unsubscribe link",
        )
