"""Console pages of campaigns: list, create and edit, one campaign with its preview, live
progress, test send and actions; and the compliance reviewer's sign-off pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carereach.campaigns.errors import CampaignInvalidError
from carereach.campaigns.forms import CampaignForm, CancelForm, SignoffForm, TestSendForm
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.pipeline import needs_signoff
from carereach.campaigns.selectors import (
    campaign_get,
    campaign_history,
    campaign_preview,
    campaign_progress,
    campaigns_awaiting_signoff,
    campaigns_list,
)
from carereach.campaigns.services.editing import campaign_create, campaign_update
from carereach.campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_return,
    campaign_signoff,
    campaign_start,
    campaign_submit,
)
from carereach.campaigns.services.sending import campaign_kick, campaign_test_send
from carereach.errors import CarereachError, NotFoundError
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability

POLLING = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED)
PREVIEWED = (CampaignStatus.DRAFT, CampaignStatus.AWAITING_SIGNOFF, CampaignStatus.SCHEDULED)


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return campaign_get(campaign_id=campaign_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def campaign_list_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in CampaignStatus.values else ""
    context = {
        "campaigns": campaigns_list(status=status)[:200],
        "status": status,
        "statuses": CampaignStatus.choices,
    }
    return render(request, "campaigns/campaign_list.html", context)


def _form_page(
    request: HttpRequest, form: CampaignForm, campaign: Campaign | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "campaigns/campaign_form.html",
        {"form": form, "campaign": campaign},
        status=status,
    )


@require_capability(Capability.RUN_CAMPAIGNS)
@require_http_methods(["GET", "POST"])
def campaign_new_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, CampaignForm(), None)
    form = CampaignForm(request.POST)
    if form.is_valid():
        try:
            campaign = campaign_create(data=form.campaign_input(), actor=acting_user(request))
        except CampaignInvalidError as error:
            form.add_problems(error.problems)
        except CarereachError as error:
            form.add_problems([(error.field or "", error.message)])
        else:
            messages.success(request, f"{campaign.name} saved as a draft. Preview it, then start.")
            return redirect("campaigns:detail", campaign.pk)
    return _form_page(request, form, None, status=400)


@require_capability(Capability.RUN_CAMPAIGNS)
@require_http_methods(["GET", "POST"])
def campaign_edit_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        messages.error(request, "Only a draft changes; return it to draft first.")
        return redirect("campaigns:detail", campaign.pk)
    if request.method == "GET":
        return _form_page(
            request, CampaignForm(initial=CampaignForm.initial_for(campaign)), campaign
        )
    form = CampaignForm(request.POST)
    if form.is_valid():
        try:
            campaign_update(
                campaign=campaign, data=form.campaign_input(), actor=acting_user(request)
            )
        except CampaignInvalidError as error:
            form.add_problems(error.problems)
        except CarereachError as error:
            form.add_problems([(error.field or "", error.message)])
        else:
            messages.success(request, "Changes saved.")
            return redirect("campaigns:detail", campaign.pk)
    return _form_page(request, form, campaign, status=400)


def _detail_context(request: HttpRequest, campaign: Campaign, **extra: Any) -> dict[str, Any]:
    user = acting_user(request)
    return {
        "campaign": campaign,
        "promotional": needs_signoff(campaign.program, campaign.content_version),
        "progress": campaign_progress(campaign=campaign),
        "history": campaign_history(campaign=campaign).select_related("actor"),
        "polling": campaign.status in POLLING,
        "previewed": campaign.status in PREVIEWED,
        "test_form": extra.pop("test_form", None) or TestSendForm(),
        "cancel_form": CancelForm(),
        "is_creator": campaign.created_by_id == user.pk,
        **extra,
    }


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def campaign_detail_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    return render(request, "campaigns/campaign_detail.html", _detail_context(request, campaign))


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def campaign_preview_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The preview as a fragment (loaded by htmx: it decides every recipient)."""
    campaign = _campaign_or_404(campaign_id)
    preview = campaign_preview(campaign=campaign, user=acting_user(request))
    return render(request, "campaigns/_preview.html", {"campaign": campaign, "preview": preview})


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def campaign_progress_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Live counts from the outbox; the page polls this while the campaign may still send."""
    campaign = _campaign_or_404(campaign_id)
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign=campaign),
        "polling": campaign.status in POLLING,
    }
    return render(request, "campaigns/_progress.html", context)


ACTIONS = ("start", "submit", "pause", "resume", "cancel", "draft")


@require_capability(Capability.RUN_CAMPAIGNS)
@require_POST
def campaign_action_view(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    campaign = _campaign_or_404(campaign_id)
    actor = acting_user(request)
    try:
        if action == "start":
            campaign = campaign_start(campaign=campaign, actor=actor)
            campaign_kick(campaign=campaign)
            if campaign.begins_at == campaign.scheduled_at:
                messages.success(request, f"{campaign.name} started.")
            else:
                messages.success(
                    request,
                    f"{campaign.name} scheduled: begins {campaign.begins_at:%Y-%m-%d %H:%M} UTC.",
                )
        elif action == "submit":
            campaign_submit(campaign=campaign, actor=actor)
            messages.success(request, "Sent for sign-off by a compliance reviewer.")
        elif action == "pause":
            _, held = campaign_pause(campaign=campaign, actor=actor)
            messages.success(request, f"Paused; {held} waiting message(s) held.")
        elif action == "resume":
            _, report = campaign_resume(campaign=campaign, actor=actor)
            messages.success(
                request,
                f"Resumed: {report.queued} queued, {report.held} held for quiet hours"
                + (f", {report.expired} expired" if report.expired else "")
                + ".",
            )
        elif action == "cancel":
            form = CancelForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            _, cancelled = campaign_cancel(campaign=campaign, actor=actor, reason=reason)
            messages.success(request, f"Cancelled; {cancelled} waiting message(s) cancelled.")
        else:
            campaign_return(campaign=campaign, actor=actor)
            messages.success(request, "Back to draft.")
    except CarereachError as error:
        campaign = _campaign_or_404(campaign_id)
        context = _detail_context(request, campaign, error=error)
        return render(request, "campaigns/campaign_detail.html", context, status=400)
    return redirect("campaigns:detail", campaign_id)


@require_capability(Capability.RUN_CAMPAIGNS)
@require_POST
def campaign_test_send_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    form = TestSendForm(request.POST)
    if form.is_valid():
        try:
            campaign_test_send(
                campaign=campaign, actor=acting_user(request), address=form.cleaned_data["address"]
            )
        except CarereachError as error:
            form.add_error("address" if error.field in (None, "address") else None, error.message)
        else:
            messages.success(request, "Test queued; it is marked [TEST] and not counted.")
            return redirect("campaigns:detail", campaign.pk)
    context = _detail_context(request, campaign, test_form=form)
    return render(request, "campaigns/campaign_detail.html", context, status=400)


# -- the compliance reviewer's side ---------------------------------------------------------------


@require_capability(Capability.REVIEW_CONTENT)
@require_GET
def signoff_queue_view(request: HttpRequest) -> HttpResponse:
    context = {"waiting": campaigns_awaiting_signoff()}
    return render(request, "campaigns/signoff_queue.html", context)


def _signoff_context(campaign: Campaign, **extra: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "history": campaign_history(campaign=campaign).select_related("actor"),
        "form": extra.pop("form", None) or SignoffForm(),
        **extra,
    }


@require_capability(Capability.REVIEW_CONTENT)
@require_http_methods(["GET", "POST"])
def signoff_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A promotional campaign for the reviewer: what, to whom, when, the preview; sign off or
    send back to draft."""
    campaign = _campaign_or_404(campaign_id)
    if request.method == "GET":
        return render(request, "campaigns/signoff_detail.html", _signoff_context(campaign))
    form = SignoffForm(request.POST)
    decision = request.POST.get("decision", "")
    if decision not in ("signoff", "return"):
        raise Http404("No such decision.")
    if form.is_valid():
        note = form.cleaned_data["note"]
        try:
            if decision == "signoff":
                campaign = campaign_signoff(
                    campaign=campaign, actor=acting_user(request), note=note
                )
                campaign_kick(campaign=campaign)
                messages.success(request, f"{campaign.name} signed off and scheduled.")
            else:
                campaign_return(campaign=campaign, actor=acting_user(request), note=note)
                messages.success(request, f"{campaign.name} sent back to draft.")
        except CarereachError as error:
            campaign = _campaign_or_404(campaign_id)
            context = _signoff_context(campaign, form=form, error=error)
            return render(request, "campaigns/signoff_detail.html", context, status=400)
        return redirect("campaigns:signoff_queue")
    context = _signoff_context(campaign, form=form)
    return render(request, "campaigns/signoff_detail.html", context, status=400)


@require_capability(Capability.REVIEW_CONTENT)
@require_GET
def signoff_preview_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(campaign_id)
    preview = campaign_preview(campaign=campaign, user=acting_user(request))
    return render(request, "campaigns/_preview.html", {"campaign": campaign, "preview": preview})
