"""Console pages of journeys: the list (with appointment confirmation and no-show rates) and
the edit page (steps, offsets, content, channels), for `run_campaigns`; the appointments and
what their patients answered, for `view_phi` (care coordinators)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from carereach.content.selectors import versions_approved
from carereach.errors import CarereachError, ValidationError
from carereach.journeys.models import (
    AppointmentResponse,
    AppointmentStatus,
    StepAction,
    StepCondition,
)
from carereach.journeys.selectors import (
    appointment_rates,
    appointments_for_console,
    journey_get,
    journeys_overview,
)
from carereach.journeys.services.editing import StepInput, journey_input_of, journey_update
from carereach.journeys.services.records import appointment_get, appointment_set_status
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability

MAX_NEW_STEPS = 1  # blank rows offered for a new step


@require_GET
@require_capability(Capability.VIEW_PHI)
def appointment_list_view(request: HttpRequest) -> HttpResponse:
    """Appointments and what their patients answered; reading the list is audited."""
    response = request.GET.get("response", "")
    if response not in AppointmentResponse.values:
        response = ""
    upcoming = request.GET.get("when", "upcoming") != "past"
    rows = list(appointments_for_console(response=response, upcoming=upcoming))
    audit_record(
        actor=acting_user(request),
        action=AuditAction.READ,
        object_type="appointment",
        note=f"appointment list: {len(rows)} shown",
    )
    return render(
        request,
        "journeys/appointment_list.html",
        {
            "appointments": rows,
            "response": response,
            "upcoming": upcoming,
            "responses": AppointmentResponse.choices,
            "rates": appointment_rates(),
        },
    )


@require_POST
@require_capability(Capability.VIEW_PHI)
def appointment_status_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Mark an appointment cancelled or a no-show (its waiting reminders are cancelled)."""
    status = request.POST.get("status", "")
    if status not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        messages.error(request, "Choose cancelled or no-show.")
    else:
        appointment_set_status(
            appointment=appointment_get(appointment_id=appointment_id),
            status=status,
            actor=acting_user(request),
        )
        messages.success(request, "Appointment updated; its waiting reminders were cancelled.")
    return redirect("journeys:appointments")


@require_GET
@require_capability(Capability.RUN_CAMPAIGNS)
def journey_list_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "journeys/journey_list.html",
        {"rows": journeys_overview(), "rates": appointment_rates()},
    )


def _minutes(value: str, where: str) -> int:
    try:
        return round(float(value) * 60)
    except ValueError:
        raise ValidationError(
            f"{where}: the offset must be a number of hours.", field="steps"
        ) from None


def _steps_from(request: HttpRequest, count: int) -> list[StepInput]:
    steps: list[StepInput] = []
    for index in range(count + MAX_NEW_STEPS):
        prefix = f"step-{index}-"
        offset = request.POST.get(prefix + "offset", "").strip()
        if request.POST.get(prefix + "delete") or not offset:
            continue
        version = request.POST.get(prefix + "version", "").strip()
        step_id = request.POST.get(prefix + "id", "").strip()
        channels = request.POST.get(prefix + "channels", "")
        steps.append(
            StepInput(
                id=int(step_id) if step_id.isdigit() else None,
                offset_minutes=_minutes(offset, f"Step {index + 1}"),
                action=request.POST.get(prefix + "action", StepAction.SEND),
                condition=request.POST.get(prefix + "condition", StepCondition.ALWAYS),
                content_version_id=int(version) if version.isdigit() else None,
                channels=[c.strip() for c in channels.split(",") if c.strip()],
            )
        )
    return sorted(steps, key=lambda s: s.offset_minutes)


@require_http_methods(["GET", "POST"])
@require_capability(Capability.RUN_CAMPAIGNS)
def journey_edit_view(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = journey_get(journey_id=journey_id)
    error: CarereachError | None = None
    if request.method == "POST":
        data = journey_input_of(journey)
        data.name = request.POST.get("name", "")
        data.active = bool(request.POST.get("active"))
        data.channels = [
            c.strip() for c in request.POST.get("channels", "").split(",") if c.strip()
        ]
        try:
            data.steps = _steps_from(request, len(data.steps))
            journey_update(journey=journey, data=data, actor=acting_user(request))
        except CarereachError as problem:
            error = problem
        else:
            messages.success(request, "Journey saved. Steps already sent are not sent again.")
            return redirect("journeys:edit", journey_id=journey.pk)
    steps = list(journey.steps.all())
    return render(
        request,
        "journeys/journey_form.html",
        {
            "journey": journey,
            "steps": steps,
            "blank": range(len(steps), len(steps) + MAX_NEW_STEPS),
            "versions": versions_approved().select_related("item"),
            "conditions": StepCondition.choices,
            "actions": StepAction.choices,
            "error": error,
        },
        status=400 if error else 200,
    )
