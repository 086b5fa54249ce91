"""Console pages of the consent app: a contact's consent (a fragment the contact page loads, or a
page of its own), the rep's in-person capture and its receipt, a staff revocation, the printable
proof, and the consent import. Every write goes through a service; these views parse,
authorize, call it and render.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.middleware import HtmxDetails

from carereach.audience.models import Contact
from carereach.audience.presentation import contact_name
from carereach.audience.selectors import contact_get_for_user
from carereach.consent.api import contact_consent
from carereach.consent.csvfiles import ImportRefused
from carereach.consent.forms import (
    AddressOption,
    CaptureForm,
    RevokeForm,
    address_options,
    is_signature,
    mask_address,
)
from carereach.consent.imports import COLUMNS, CONTACT_COLUMNS, EVIDENCE_COLUMNS, consent_import
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    Program,
)
from carereach.consent.selectors import (
    consent_check,
    consent_states_for_contact,
    consent_timeline,
    programs_all,
)
from carereach.consent.services import consent_capture_in_person, consent_record
from carereach.consent.views.common import REASONS, channel_label, client_evidence, posted
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

EVIDENCE_LABELS = {
    "signature": "signature",
    "typed_name": "typed name",
    "ip": "IP address",
    "user_agent": "browser",
    "inbound_message_id": "inbound message",
    "source_file": "source file",
    "receipt": "receipt",
    "receipt_to": "receipt sent by",
    "signature_file": "signature file",
    "confirms_entry": "confirms sign-up entry",
    "one_click": "one-click unsubscribe",
    "disconnected_at": "disconnected",
    "capture": "capture",
}
# Evidence that identifies the person (a patient's typed name, IP, signature): hidden, like the
# contact's addresses, from viewers who may not see a patient's PHI.
PERSONAL_EVIDENCE = {"signature", "typed_name", "ip", "user_agent"}


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
                channel=channel_label(state.channel),
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
            channel=channel_label(entry.channel),
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


def _record_capture(request: HttpRequest, contact: Contact, form: CaptureForm, user: User) -> str:
    """Write one grant per program and queue the receipt, all or nothing; returns the capture."""
    evidence: dict[str, Any] = client_evidence(request)
    if form.cleaned_data["signature"]:
        evidence["signature"] = form.cleaned_data["signature"]
    if form.cleaned_data["typed_name"]:
        evidence["typed_name"] = form.cleaned_data["typed_name"]
    recorded = consent_capture_in_person(
        contact=contact,
        address=form.chosen().address,
        groups=form.groups(),
        evidence=evidence,
        actor=user,
    )
    return recorded.capture


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
    form = CaptureForm(posted(request), options=options, programs=programs)
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


def _receipt_note(entry: ConsentEntry) -> str:
    sent_by = entry.evidence.get("receipt_to", "")
    if sent_by == Channel.SMS:
        return "Sent to the person by text message, to the number they confirmed."
    if sent_by == Channel.EMAIL:
        if "@" in entry.address:
            return "Sent to the person by e-mail, to the address they confirmed."
        return (
            "Sent to the person by e-mail, to the contact's first e-mail address "
            "(the number takes no texts)."
        )
    if sent_by == "none":
        return (
            "Not sent: the number takes no texts and the contact has no e-mail address. "
            "Show the receipt to the person now, or print it."
        )
    return ""


@require_capability(Capability.CAPTURE_CONSENT)
@require_http_methods(["GET"])
def capture_receipt_view(request: HttpRequest, contact_id: int, capture: str) -> HttpResponse:
    """What was recorded, and the receipt queued for the person."""
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
        "receipt_note": _receipt_note(entries[0]),
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
    form = RevokeForm(posted(request), options=options, programs=programs)
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


# -- consent import ----------------------------------------------------------------------------


@require_capability(Capability.CAPTURE_CONSENT)
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of acts of consent with evidence: check it, or import every row or none."""
    user = acting_user(request)
    context: dict[str, Any] = {
        "columns": CONTACT_COLUMNS + tuple(c for c in COLUMNS if c not in CONTACT_COLUMNS),
        "evidence_columns": EVIDENCE_COLUMNS,
        "outcome": None,
        "refused": None,
        "error": "",
    }
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        dry_run = request.POST.get("dry_run", "1") != "0"
        if upload is None or upload.file is None:
            context["error"] = "Choose a CSV file to import."
            status = 400
        else:
            try:
                context["outcome"] = consent_import(
                    file=upload.file, filename=upload.name or "", actor=user, dry_run=dry_run
                )
            except ImportRefused as refused:
                context["refused"] = refused
                context["more"] = refused.total - len(refused.problems)
                status = 400
            except CarereachError as error:
                context["error"] = error.message
                status = 400
    return render(request, "consent/consent_import.html", context, status=status)
