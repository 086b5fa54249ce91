"""The library: items, one item with its versions and history, a new item, the version diff."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from carereach.content.diffing import version_diff
from carereach.content.forms import ItemEditForm, ItemForm, VersionForm, bodies_from, slot_values
from carereach.content.models import ContentItem, ContentKind, ReviewEvent, VersionStatus
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import (
    item_current_version,
    item_get,
    item_versions,
    items_for_library,
    series_all,
    version_get,
    version_link_stats,
    version_text,
)
from carereach.content.services import item_create, item_update, version_recall, version_submit
from carereach.content.templating import FIELDS
from carereach.content.views.common import attach_sms
from carereach.errors import CarereachError, NotFoundError
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability


def _item_or_404(item_id: int) -> ContentItem:
    try:
        return item_get(item_id=item_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


@require_capability(Capability.AUTHOR_CONTENT)
def library_view(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:100]
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    items = items_for_library(
        text=text,
        status=status if status in VersionStatus.values else "",
        kind=kind if kind in ContentKind.values else "",
    )
    rows = []
    for item in items[:200]:
        versions = list(item.versions.all())
        rows.append(
            {
                "item": item,
                "latest": versions[0] if versions else None,
                "live": next((v for v in versions if v.status == VersionStatus.APPROVED), None),
            }
        )
    context = {
        "rows": rows,
        "q": text,
        "status": status,
        "kind": kind,
        "statuses": VersionStatus.choices,
        "kinds": ContentKind.choices,
        "may_manage_programs": has_capability(request.user, Capability.MANAGE_PROGRAMS),
    }
    return render(request, "content/library.html", context)


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def item_new_view(request: HttpRequest) -> HttpResponse:
    """A new item and its first draft, bodies written in the composer's slots."""
    error: CarereachError | None = None
    if request.method == "POST":
        form = ItemForm(request.POST)
        version_form = VersionForm(request.POST)
        slots = slot_values(None, request.POST)
        if form.is_valid() and version_form.is_valid():
            data = form.cleaned_data
            try:
                item = item_create(
                    code=data["code"],
                    title=data["title"],
                    kind=data["kind"],
                    program=data["program"],
                    series=data["series"],
                    episode_number=data["episode_number"],
                    data=version_form.version_input(bodies_from(request.POST)),
                    actor=acting_user(request),
                )
            except CarereachError as exc:
                error = exc
            else:
                messages.success(request, f"{item.title} created as a draft.")
                return redirect("content:item", item.pk)
        status = 400
    else:
        initial: dict[str, Any] = {}
        series_id = request.GET.get("series", "")
        if series_id.isdigit():
            initial = {"series": int(series_id), "kind": ContentKind.PODCAST_EPISODE}
        form = ItemForm(initial=initial)
        version_form = VersionForm()
        slots = slot_values(None)
        status = 200
    context = {
        "form": form,
        "version_form": version_form,
        "slots": attach_sms(slots, limit=None),
        "fields": FIELDS,
        "error": error,
    }
    return render(request, "content/item_new.html", context, status=status)


@require_capability(Capability.AUTHOR_CONTENT)
def item_view(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    versions = list(item_versions(item=item))
    events = (
        ReviewEvent.objects.filter(version__item=item)
        .select_related("version")
        .order_by("-at", "-id")[:50]
    )
    current = item_current_version(item=item)
    context = {
        "item": item,
        "versions": versions,
        "events": events,
        "current": current,
        "stats": version_link_stats(version=current) if current else None,
        "samples": SAMPLE_RECIPIENTS,
    }
    return render(request, "content/item_detail.html", context)


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def item_edit_view(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(item_id)
    error: CarereachError | None = None
    if request.method == "POST":
        form = ItemEditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                item_update(
                    item=item,
                    title=data["title"],
                    kind=data["kind"],
                    program=data["program"],
                    series=data["series"],
                    episode_number=data["episode_number"],
                    actor=acting_user(request),
                )
            except CarereachError as exc:
                error = exc
            else:
                messages.success(request, "Item saved.")
                return redirect("content:item", item.pk)
    else:
        form = ItemEditForm(
            initial={
                "code": item.code,
                "title": item.title,
                "kind": item.kind,
                "program": item.program_id,
                "series": item.series_id,
                "episode_number": item.episode_number,
            }
        )
    status = 400 if request.method == "POST" else 200
    context = {"item": item, "form": form, "error": error, "series": series_all()}
    return render(request, "content/item_edit.html", context, status=status)


@require_capability(Capability.AUTHOR_CONTENT)
@require_POST
def version_action_view(request: HttpRequest, version_id: int, action: str) -> HttpResponse:
    """Submit a draft for review, or recall it from review."""
    try:
        version = version_get(version_id=version_id)
    except NotFoundError as error:
        raise Http404(error.message) from None
    actor = acting_user(request)
    try:
        if action == "submit":
            version_submit(version=version, actor=actor)
            messages.success(request, f"{version.label} sent to review.")
        elif action == "recall":
            version_recall(version=version, actor=actor)
            messages.success(request, f"{version.label} is a draft again.")
        else:
            raise Http404("No such action.")
    except CarereachError as error:
        messages.error(request, error.message)
    return redirect("content:item", version.item_id)


def diff_context(item: ContentItem, left_id: str, right_id: str) -> dict[str, Any]:
    versions = list(item_versions(item=item))
    by_id = {str(v.pk): v for v in versions}
    right = by_id.get(right_id) or (versions[0] if versions else None)
    left = by_id.get(left_id) or (versions[1] if len(versions) > 1 else right)
    sections = version_diff(version_text(left), version_text(right)) if left and right else []
    return {
        "item": item,
        "versions": versions,
        "left": left,
        "right": right,
        "sections": sections,
        "changed_only": True,
    }


@require_capability(Capability.AUTHOR_CONTENT)
def diff_view(request: HttpRequest, item_id: int) -> HttpResponse:
    """Two versions side by side: `?a=<older id>&b=<newer id>` (default: the latest two)."""
    item = _item_or_404(item_id)
    context = diff_context(item, request.GET.get("a", ""), request.GET.get("b", ""))
    context["show_all"] = request.GET.get("all") == "1"
    return render(request, "content/version_diff.html", context)
