"""Series pages: the list with a form for a new one, and one series with its ordered episodes."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from carereach.content.forms import SeriesForm
from carereach.content.models import Series, VersionStatus
from carereach.content.selectors import series_all, series_episodes, series_get
from carereach.content.services import series_reorder, series_save
from carereach.errors import CarereachError, NotFoundError
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability


def _series_or_404(series_id: int) -> Series:
    try:
        return series_get(series_id=series_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def series_list_view(request: HttpRequest) -> HttpResponse:
    error: CarereachError | None = None
    form = SeriesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            series = series_save(
                code=data["code"],
                name=data["name"],
                description=data["description"],
                program=data["program"],
                actor=acting_user(request),
            )
        except CarereachError as exc:
            error = exc
        else:
            messages.success(request, f"Series {series.name} created.")
            return redirect("content:series", series.pk)
    status = 400 if request.method == "POST" else 200
    context = {"series_list": series_all(), "form": form, "error": error}
    return render(request, "content/series_list.html", context, status=status)


@require_capability(Capability.AUTHOR_CONTENT)
@require_http_methods(["GET", "POST"])
def series_view(request: HttpRequest, series_id: int) -> HttpResponse:
    """Episodes in order; moving one up or down renumbers them all."""
    series = _series_or_404(series_id)
    episodes = list(series_episodes(series=series))
    if request.method == "POST":
        order = [episode.pk for episode in episodes]
        moved = request.POST.get("item", "")
        direction = request.POST.get("move", "")
        if moved.isdigit() and int(moved) in order and direction in {"up", "down"}:
            index = order.index(int(moved))
            other = index - 1 if direction == "up" else index + 1
            if 0 <= other < len(order):
                order[index], order[other] = order[other], order[index]
                try:
                    series_reorder(series=series, item_ids=order, actor=acting_user(request))
                except CarereachError as error:
                    messages.error(request, error.message)
        return redirect("content:series", series.pk)
    rows = []
    for episode in episodes:
        versions = list(episode.versions.all())
        rows.append(
            {
                "item": episode,
                "latest": versions[0] if versions else None,
                "live": next((v for v in versions if v.status == VersionStatus.APPROVED), None),
            }
        )
    return render(request, "content/series_detail.html", {"series": series, "rows": rows})
