"""The phone simulator: what the sandbox carrier "delivered" to a phone, and replies from it.

Calls show as their script with a keypad (1 confirms, 9 stops calls from the program): a key
enters as Twilio's Gather callback would.

Only while texts go through the sandbox (CARE_SMS_PROVIDER unset or "sandbox"): with a real
carrier the page does not exist. A reply typed here enters exactly as a carrier's inbound
callback would (stored raw, then processed by a worker), so STOP, HELP, YES and ordinary replies
behave as they will in production.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from carereach.audience.identifiers import phone_normalize
from carereach.channels.selectors import (
    sandbox_answered_calls,
    sandbox_last_sender,
    sandbox_numbers,
    sandbox_thread,
)
from carereach.errors import CarereachError
from carereach.messaging.services.ingest import sandbox_keypress, sandbox_text_in
from carereach.security.permissions import require_capability
from carereach.security.roles import Capability

MAX_REPLY = 1600  # ten concatenated segments: longer than any real reply


def _sandbox_only() -> None:
    if settings.CHANNEL_PROVIDERS.get("sms") != "sandbox":
        raise Http404("The phone simulator exists only with the sandbox carrier.")


def _context(number: str, error: str = "", draft: str = "") -> dict[str, object]:
    return {
        "numbers": sandbox_numbers(),
        "number": number,
        "thread": list(sandbox_thread(number=number)) if number else [],
        "answered": sandbox_answered_calls(number=number) if number else set(),
        "reply_to": sandbox_last_sender(number=number) if number else "",
        "mailbox": "@" in number,  # mails are shown; replies are texts only
        "error": error,
        "draft": draft,
    }


@require_capability(Capability.USE_INBOX)
@require_http_methods(["GET", "POST"])
def simulator_view(request: HttpRequest) -> HttpResponse:
    _sandbox_only()
    if request.method == "POST":
        return _reply(request)
    number = request.GET.get("number", "").strip()
    template = (
        "console/simulator_thread.html"
        if request.headers.get("HX-Request") and request.GET.get("part") == "thread"
        else "console/simulator.html"
    )
    return render(request, template, _context(number))


KEYPAD = frozenset("0123456789*#")


def _keypress(request: HttpRequest, number: str) -> HttpResponse:
    """A key pressed on a call: 1 confirms, 9 stops calls from the program (as on a real call)."""
    call = request.POST.get("call", "").strip()
    digits = request.POST.get("digits", "").strip()
    if digits not in KEYPAD or call not in {
        row.provider_message_id
        for row in sandbox_thread(number=number)
        if row.channel == "voice" and row.direction == "out"
    }:
        return render(
            request, "console/simulator.html", _context(number, "Key: not a call here."), status=400
        )
    sandbox_keypress(call_id=call, digits=digits)
    return redirect(f"{reverse('console:simulator')}?number={number}")


def _reply(request: HttpRequest) -> HttpResponse:
    number = request.POST.get("number", "").strip()
    if request.POST.get("call"):
        return _keypress(request, number)
    to = request.POST.get("to", "").strip()
    body = request.POST.get("body", "").strip()
    error = ""
    try:
        number = phone_normalize(number).e164
    except CarereachError as problem:
        error = f"Phone: {problem.message}"
    if not error and not to:
        error = "To: choose the number to reply to (nobody has texted this phone yet)."
    if not error and not body:
        error = "Message: type a reply."
    if not error and len(body) > MAX_REPLY:
        error = f"Message: at most {MAX_REPLY} characters."
    if error:
        return render(request, "console/simulator.html", _context(number, error, body), status=400)
    sandbox_text_in(from_number=number, to=to, body=body)
    return redirect(f"{reverse('console:simulator')}?number={number}")
