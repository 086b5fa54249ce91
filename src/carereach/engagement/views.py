"""Console pages of engagement: a series' subscribers and releases (loaded into content's series
page), a contact's visits and follow-ups (loaded into the contact page) with the forms to log one
or to send a result-ready notice, and surveys with their results."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from carereach.audience.models import Contact, ContactKind
from carereach.audience.presentation import contact_name
from carereach.audience.selectors import contact_get_for_user
from carereach.content.models import Series
from carereach.content.selectors import series_get
from carereach.engagement.forms import (
    InteractionForm,
    ResultNoticeForm,
    SurveyForm,
    SurveySendForm,
    field_error,
)
from carereach.engagement.models import ReleaseStatus
from carereach.engagement.selectors import (
    interactions_for_contact,
    release_progress,
    series_releases,
    series_subscriber_count,
    survey_get,
    survey_results,
    surveys_all,
)
from carereach.engagement.services.followups import InteractionInput, interaction_log
from carereach.engagement.services.results import result_notice_send
from carereach.engagement.services.surveys import SurveyInput, survey_create, survey_send
from carereach.errors import CarereachError, NotFoundError
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability


def _partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.history_restore_request


def _series_or_404(series_id: int) -> Series:
    try:
        return series_get(series_id=series_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


def _contact_or_404(user: User, contact_id: int) -> Contact:
    try:
        return contact_get_for_user(user=user, contact_id=contact_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


# -- series ------------------------------------------------------------------------------------


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def series_view(request: HttpRequest, series_id: int) -> HttpResponse:
    """Subscribers and each release's progress; content's series page loads it with htmx and
    it polls itself while a release may still send."""
    series = _series_or_404(series_id)
    rows = [release_progress(release=r) for r in series_releases(series=series)]
    polling = any(
        row.release.status in (ReleaseStatus.SCHEDULED, ReleaseStatus.RUNNING) or row.waiting
        for row in rows
    )
    context: dict[str, Any] = {
        "series": series,
        "subscribers": series_subscriber_count(series=series),
        "rows": rows,
        "polling": polling,
    }
    template = "engagement/_series_panel.html" if _partial(request) else "engagement/series.html"
    return render(request, template, context)


# -- a contact's visits, follow-ups and notices ---------------------------------------------------


def _contact_context(
    request: HttpRequest,
    contact: Contact,
    *,
    visit_form: InteractionForm | None = None,
    notice_form: ResultNoticeForm | None = None,
) -> dict[str, Any]:
    user = acting_user(request)
    context: dict[str, Any] = {
        "contact": contact,
        "interactions": list(interactions_for_contact(user=user, contact_id=contact.pk)[:20]),
        "is_hcp": contact.kind == ContactKind.HCP,
        "is_patient": contact.kind == ContactKind.PATIENT,
        "may_follow_up": has_capability(user, Capability.USE_INBOX),
        "may_notify": has_capability(user, Capability.VIEW_PHI),
        "name": contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI)),
    }
    if context["is_hcp"] and context["may_follow_up"]:
        context["visit_form"] = visit_form or InteractionForm(contact=contact)
    if context["is_patient"] and context["may_notify"]:
        context["notice_form"] = notice_form or ResultNoticeForm()
    return context


@require_capability(Capability.VIEW_CONTACTS)
@require_GET
def contact_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(acting_user(request), contact_id)
    context = _contact_context(request, contact)
    template = "engagement/_contact_panel.html" if _partial(request) else "engagement/contact.html"
    return render(request, template, context)


@require_capability(Capability.USE_INBOX)
@require_POST
def interaction_new_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A rep logs a visit or call and sends its follow-up (their own territory only)."""
    user = acting_user(request)
    contact = _contact_or_404(user, contact_id)
    form = InteractionForm(request.POST, contact=contact)
    if form.is_valid():
        data = form.cleaned_data
        try:
            logged = interaction_log(
                actor=user,
                data=InteractionInput(
                    contact_id=contact.pk,
                    kind=data["kind"],
                    notes=data["notes"],
                    program=data["program"],
                    follow_up=data["follow_up"],
                    channel=data["channel"],
                    notify_by_text=data["notify_by_text"],
                    meeting_at=form.meeting_time(),
                    meeting_link=data["meeting_link"],
                ),
            )
        except CarereachError as error:
            field_error(form, error)
        else:
            sent = "; ".join(f"{step}: {outcome}" for step, outcome in logged.sent.items())
            messages.success(
                request,
                f"{logged.interaction.get_kind_display()} logged." + (f" {sent}" if sent else ""),
            )
            return redirect("audience:contact", contact.pk)
    context = _contact_context(request, contact, visit_form=form)
    return render(request, "engagement/contact.html", context, status=400)


@require_capability(Capability.VIEW_PHI)
@require_POST
def result_notice_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A coordinator tells a patient a result is ready in the portal (nothing more)."""
    user = acting_user(request)
    contact = _contact_or_404(user, contact_id)
    form = ResultNoticeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            notice = result_notice_send(
                actor=user,
                contact_id=contact.pk,
                program=data["program"],
                portal_url=data["portal_url"],
                reference=data["reference"],
            )
        except CarereachError as error:
            field_error(form, error)
        else:
            state = notice.status or "nothing"
            if not notice.created:
                messages.info(request, f"Already asked for that reference: {state}.")
            else:
                why = notice.reasons[0]["text"] if notice.reasons else ""
                messages.success(request, f"Result-ready notice {state}. {why}".strip())
            return redirect("audience:contact", contact.pk)
    context = _contact_context(request, contact, notice_form=form)
    return render(request, "engagement/contact.html", context, status=400)


# -- surveys -----------------------------------------------------------------------------------


@require_capability(Capability.RUN_CAMPAIGNS)
@require_http_methods(["GET", "POST"])
def survey_list_view(request: HttpRequest) -> HttpResponse:
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            survey = survey_create(
                data=SurveyInput(
                    code=data["code"],
                    name=data["name"],
                    kind=data["kind"],
                    program=data["program"],
                    question=data["question"],
                    follow_up=data["follow_up"],
                ),
                actor=acting_user(request),
            )
        except CarereachError as error:
            field_error(form, error)
        else:
            messages.success(request, f"Survey {survey.name} created.")
            return redirect("engagement:survey", survey.pk)
    status = 400 if request.method == "POST" else 200
    context = {"surveys": surveys_all(), "form": form}
    return render(request, "engagement/survey_list.html", context, status=status)


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def survey_view(request: HttpRequest, survey_id: int) -> HttpResponse:
    """Results: how many were asked and answered, the distribution, NPS or satisfaction."""
    try:
        survey = survey_get(survey_id=survey_id)
    except NotFoundError as error:
        raise Http404(error.message) from None
    return render(request, "engagement/survey_detail.html", _survey_context(request, survey))


def _survey_context(
    request: HttpRequest, survey: Any, form: SurveySendForm | None = None
) -> dict[str, Any]:
    results = survey_results(survey=survey)
    peak = max(results.distribution.values(), default=0) or 1
    bars = [
        {"score": score, "count": count, "percent": round(100 * count / peak)}
        for score, count in results.distribution.items()
    ]
    may_send = has_capability(acting_user(request), Capability.RUN_CAMPAIGNS)
    return {
        "survey": survey,
        "results": results,
        "bars": bars,
        "send_form": (form or SurveySendForm()) if may_send else None,
    }


@require_capability(Capability.RUN_CAMPAIGNS)
@require_POST
def survey_send_view(request: HttpRequest, survey_id: int) -> HttpResponse:
    try:
        survey = survey_get(survey_id=survey_id)
    except NotFoundError as error:
        raise Http404(error.message) from None
    form = SurveySendForm(request.POST)
    if form.is_valid():
        try:
            report = survey_send(
                survey=survey, query=form.cleaned_data["query"], actor=acting_user(request)
            )
        except CarereachError as error:
            field_error(form, error)
        else:
            messages.success(
                request,
                f"Survey sent: {report.queued} now, {report.held} held for quiet hours, "
                f"{report.skipped} skipped, {report.existing} asked before.",
            )
            return redirect("engagement:survey", survey.pk)
    context = _survey_context(request, survey, form)
    return render(request, "engagement/survey_detail.html", context, status=400)
