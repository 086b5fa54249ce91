"""The composer: writing a version's bodies with a live SMS count, GSM replacement and preview.

The count and the replacement are answered by the server from `encoding.analyze` and
`encoding.gsm_replace`, the same functions the renderer and `carereach sms-info` use, so the
composer can never disagree with what is sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from carereach.audience.models import ContactKind
from carereach.audience.selectors import contact_get_for_user
from carereach.content.encoding import analyze, gsm_replace
from carereach.content.forms import VersionForm, bodies_from, slot_values
from carereach.content.models import ContentVersion
from carereach.content.rendering import content_preview, recipient_values, version_program
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import policy_for, version_get
from carereach.content.services import version_save
from carereach.content.templating import FIELDS, TemplateError
from carereach.content.views.common import attach_sms, count_context, is_htmx
from carereach.errors import CarereachError, NotFoundError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability

SCRATCH = "scratch"


def _version_or_404(version_id: int) -> ContentVersion:
    try:
        return version_get(version_id=version_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


def _field_text(request: HttpRequest) -> tuple[str, str, str]:
    """(slot, field name, text) of the SMS textarea a counter or replace button belongs to."""
    data = request.POST if request.method == "POST" else request.GET
    field = data.get("field", "text")
    if not field.replace("-", "").replace("_", "").isalnum():
        field = "text"
    slot = data.get("slot", SCRATCH)
    if not slot.replace("-", "").isalnum():
        slot = SCRATCH
    return slot, field, data.get(field, "").replace("\r\n", "\n")


def _limit(request: HttpRequest) -> int | None:
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("limit", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 10 else None


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def composer_view(request: HttpRequest) -> HttpResponse:
    """A scratch pad: paste or write a text, see its encoding and segments, fix it in one click."""
    text = request.POST.get("text", "") if request.method == "POST" else ""
    context = {
        "sms": {
            "slot": SCRATCH,
            "field": "text",
            "text": text,
            "label": "Message",
            **count_context(text, slot=SCRATCH, field="text"),
        }
    }
    return render(request, "content/composer.html", context)


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def composer_count_view(request: HttpRequest) -> HttpResponse:
    """The counter of one SMS textarea (htmx, on every pause in typing)."""
    slot, field, text = _field_text(request)
    return render(
        request,
        "content/_sms_count.html",
        count_context(text, slot=slot, field=field, limit=_limit(request)),
    )


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def composer_replace_view(request: HttpRequest) -> HttpResponse:
    """One click: the textarea again, with GSM-7 look-alikes swapped in, and its new count."""
    slot, field, text = _field_text(request)
    replaced = gsm_replace(text)
    context = {
        "sms": {
            "slot": slot,
            "field": field,
            "text": replaced,
            "label": "Message" if slot == SCRATCH else "Text",
            **count_context(replaced, slot=slot, field=field, limit=_limit(request)),
        },
        "replaced_count": sum(text.count(char) for char in analyze(text).replaceable),
    }
    return render(request, "content/_sms_field.html", context)


def _editor_context(
    version: ContentVersion,
    form: VersionForm,
    slots: list[dict[str, Any]],
    *,
    error: CarereachError | None = None,
) -> dict[str, Any]:
    policy = policy_for(version_program(version))
    attach_sms(slots, limit=policy.sms_segment_limit)
    return {
        "version": version,
        "item": version.item,
        "form": form,
        "slots": slots,
        "fields": FIELDS,
        "policy": policy,
        "error": error,
        "error_line": getattr(error, "line", None),
        "samples": SAMPLE_RECIPIENTS,
        "channels": sorted({(b.channel, b.language) for b in version.bodies.all()}),
    }


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def version_edit_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """Write a draft; saving an approved (or retired) version starts the item's next draft."""
    version = _version_or_404(version_id)
    if request.method == "POST":
        form = VersionForm(request.POST)
        slots = slot_values(version, request.POST)
        if form.is_valid():
            try:
                saved = version_save(
                    version=version,
                    data=form.version_input(bodies_from(request.POST)),
                    actor=acting_user(request),
                )
            except CarereachError as error:
                context = _editor_context(version, form, slots, error=error)
                return render(request, "content/version_edit.html", context, status=400)
            if saved.pk != version.pk:
                messages.success(request, f"Saved as a new draft, {saved.label}.")
            else:
                messages.success(request, f"{saved.label} saved.")
            return redirect("content:version_edit", saved.pk)
        return render(
            request, "content/version_edit.html", _editor_context(version, form, slots), status=400
        )
    form = VersionForm(initial=VersionForm.initial_from(version))
    return render(
        request, "content/version_edit.html", _editor_context(version, form, slot_values(version))
    )


def preview_values(
    request: HttpRequest, version: ContentVersion, language: str
) -> tuple[dict[str, str], str]:
    """Field values of the chosen sample recipient, and its label; a real contact's PHI only
    with view_phi (and that read is audited)."""
    choice = request.GET.get("recipient", "hcp")
    if choice in SAMPLE_RECIPIENTS:
        sample = dict(SAMPLE_RECIPIENTS[choice])
        return sample, sample.pop("label")
    if not choice.isdigit():
        raise CarereachError("Choose a sample recipient or give a contact number.")
    user = acting_user(request)
    contact = contact_get_for_user(user=user, contact_id=int(choice))
    values = recipient_values(contact, context={}, language=language)
    if contact.kind != ContactKind.HCP:
        if has_capability(user, Capability.VIEW_PHI):
            audit_record(
                actor=user,
                action=AuditAction.READ,
                object_type="contact",
                object_id=contact.pk,
                changes=["first_name", "last_name"],
                note="content preview",
            )
        else:
            values = {key: f"[{key.replace('_', ' ')}]" for key in values}
    return values, f"Contact #{contact.pk} ({contact.get_kind_display()})"


def preview_response(
    request: HttpRequest, version: ContentVersion, template: str = "content/_preview.html"
) -> HttpResponse:
    channel, _, language = request.GET.get("body", "").partition("/")
    bodies = sorted((b.channel, b.language) for b in version.bodies.all())
    if (channel, language) not in bodies and bodies:
        channel, language = bodies[0]
    context: dict[str, Any] = {"version": version, "channel": channel, "language": language}
    try:
        values, label = preview_values(request, version, language)
        context["recipient_label"] = label
        context["rendered"] = content_preview(
            version=version, channel=channel, language=language, values=values
        )
        policy = policy_for(version_program(version))
        context["limit"] = policy.sms_segment_limit
    except TemplateError as error:
        context["problem"] = error.message
    except CarereachError as error:
        context["problem"] = error.message
    return render(request, template, context)


@require_capability(Capability.AUTHOR_CONTENT)
def version_preview_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """The saved version rendered for a sample recipient (htmx fragment, or a page of its own)."""
    version = _version_or_404(version_id)
    if is_htmx(request):
        return preview_response(request, version)
    return preview_response(request, version, template="content/version_preview.html")
