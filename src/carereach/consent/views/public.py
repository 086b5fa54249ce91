"""Public pages of the consent app, no sign-in: behind a signed link in a message (the preference
page, RFC 8058 one-click unsubscribe, the e-mail double opt-in confirmation), and a program's
sign-up page. Each says nothing about whose link or number it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from carereach.consent import links
from carereach.consent.forms import SignupForm, mask_address
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
)
from carereach.consent.selectors import consent_check, program_get
from carereach.consent.services import consent_record
from carereach.consent.signup import (
    SIGNUP_CHANNELS,
    ConfirmResult,
    consent_signup,
    consent_signup_confirm,
    signup_channels,
    signup_open,
)
from carereach.consent.throttle import signup_attempt_allowed
from carereach.consent.views.common import (
    REASONS,
    channel_label,
    client_evidence,
    link_failed,
    posted,
    private,
)
from carereach.errors import CarereachError
from carereach.vocabulary import Channel

# -- public pages behind signed links ----------------------------------------------------------


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
                channel=channel_label(state.channel),
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
    evidence = {**client_evidence(request), "page": "preferences"}
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
        return link_failed(request, error)
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
    return private(
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
        return link_failed(request, error)
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
    return private(response)


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
                **client_evidence(request),
                "one_click": request.POST.get("List-Unsubscribe") == "One-Click",
            },
            reason="e-mail unsubscribe link",
        )


# -- public sign-up ----------------------------------------------------------------------------


def _signup_program(code: str) -> Program | None:
    program = program_get(code=code)
    return program if signup_open(program) else None


def _signup_closed(request: HttpRequest) -> HttpResponse:
    return private(render(request, "consent/signup_closed.html", status=404))


@never_cache
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest, code: str) -> HttpResponse:
    """A program's public sign-up page: no login, CSRF on, nothing ticked for the person."""
    program = _signup_program(code)
    if program is None:
        return _signup_closed(request)
    channels = signup_channels(program)
    if request.method == "POST" and not signup_attempt_allowed(client_evidence(request)["ip"]):
        return private(
            render(request, "consent/signup_busy.html", {"program": program}, status=429)
        )
    if request.method == "POST" and request.POST.get("website"):
        # The honeypot was filled: a bot. It sees the usual answer; nothing is written or sent.
        return _thanks_redirect(program, channels=[], pending=program.double_opt_in)
    form = SignupForm(posted(request), program=program, channels=channels)
    if request.method == "POST" and form.is_valid() and form.draft is not None:
        try:
            outcome = consent_signup(
                program=program,
                draft=form.draft,
                channels=form.cleaned_data["channels"],
                disclosure_version=form.cleaned_data["disclosure_version"],
                evidence={**client_evidence(request), "page": request.path},
            )
        except CarereachError as error:
            _attach_public(form, error)
        else:
            return _thanks_redirect(program, channels=outcome.channels, pending=outcome.pending)
    context = {"program": program, "form": form, "channels": channels}
    status = 400 if form.errors else 200
    return private(render(request, "consent/signup.html", context, status=status))


def _attach_public(form: SignupForm, error: CarereachError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _thanks_redirect(program: Program, *, channels: list[str], pending: bool) -> HttpResponse:
    query = urlencode({"sent": channels, "step": "confirm" if pending else "done"}, doseq=True)
    return redirect(reverse("consent:signup_thanks", args=[program.code]) + "?" + query)


@never_cache
@require_http_methods(["GET"])
def signup_thanks_view(request: HttpRequest, code: str) -> HttpResponse:
    """What happens next. It says the same whoever signed up, so it tells nobody who is on file."""
    program = _signup_program(code)
    if program is None:
        return _signup_closed(request)
    sent = [c for c in request.GET.getlist("sent") if c in SIGNUP_CHANNELS]
    context = {
        "program": program,
        "by_text": Channel.SMS in sent,
        "by_email": Channel.EMAIL in sent,
        "confirm": request.GET.get("step") != "done",
    }
    return private(render(request, "consent/signup_thanks.html", context))


@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mail double opt-in link. A GET only asks (mail scanners follow links); a POST
    confirms. A changed link is "not found", an old one "gone", one revoked since is void."""
    try:
        pending = links.confirm_entry(token)
    except links.LinkInvalid as error:
        return link_failed(request, error, days=links.CONFIRM_MAX_AGE.days)
    program = pending.program
    if program is None:  # confirm_entry returns only entries with one; this narrows the type
        return link_failed(request, links.LinkInvalid())
    state = ConsentState.objects.filter(
        address=pending.address, channel=Channel.EMAIL, program=program
    ).first()
    result = ""
    failed = False
    if request.method == "POST":
        try:
            result = consent_signup_confirm(pending=pending, evidence=client_evidence(request))
        except CarereachError:
            failed = True  # e.g. the address has left the contact: a person must look
    elif state is None or state.status == ConsentStatus.REVOKED:
        result = ConfirmResult.VOID
    elif state.status == ConsentStatus.GRANTED:
        result = ConfirmResult.ALREADY
    context = {
        "program": program,
        "address": mask_address(pending.address),
        "result": result,
        "failed": failed,
        "signup": reverse("consent:signup", args=[program.code]) if program.web_signup else "",
    }
    status = 409 if failed else 410 if result == ConfirmResult.VOID else 200
    return private(render(request, "consent/signup_confirm.html", context, status=status))
