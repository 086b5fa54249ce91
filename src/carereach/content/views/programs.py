"""Content rules per program: SMS footer and segment limit, e-mail postal address, PHI channels."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from carereach.content.forms import PolicyForm
from carereach.content.selectors import policy_for, programs_for_content
from carereach.content.services import policy_save
from carereach.errors import CarereachError
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability


@require_capability(Capability.MANAGE_PROGRAMS)
@require_http_methods(["GET", "POST"])
def program_rules_view(request: HttpRequest) -> HttpResponse:
    programs = list(programs_for_content())
    if request.method == "POST":
        code = request.POST.get("program", "")
        program = next((p for p in programs if p.code == code), None)
        if program is None:
            raise Http404("No such program.")
        form = PolicyForm(request.POST, prefix=program.code)
        if form.is_valid():
            try:
                policy_save(program=program, actor=acting_user(request), **form.cleaned_data)
            except CarereachError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"Content rules of {program.name} saved.")
            return redirect("content:program_rules")
        messages.error(request, f"Check the content rules of {program.name}.")
    rows = []
    for program in programs:
        policy = policy_for(program)
        rows.append(
            {
                "program": program,
                "policy": policy,
                "form": PolicyForm(
                    prefix=program.code,
                    initial={
                        "sms_footer_required": policy.sms_footer_required,
                        "sms_segment_limit": policy.sms_segment_limit,
                        "postal_address": policy.postal_address,
                        "phi_to_accepted_channels": policy.phi_to_accepted_channels,
                    },
                ),
            }
        )
    return render(request, "content/program_rules.html", {"rows": rows})
