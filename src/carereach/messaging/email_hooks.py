"""Mail services' tracking webhooks (bounces, complaints, unsubscribes), through django-anymail.

`/mail-events/<service>/tracking/` for Postmark, Mailgun, SparkPost, Mailjet and Brevo
(SendGrid is left out: anymail dropped its support). anymail authenticates the post (HTTP basic
auth with CARE_EMAIL_WEBHOOK_SECRET; Mailgun also by its signature with
CARE_MAILGUN_WEBHOOK_SIGNING_KEY), normalises the payload and sends its `tracking` signal, which
`email_tracking_received` hands to the service. A wrong secret is 400 (anymail's answer); an
endpoint whose credentials are not configured is 503, never open.

Served by Django (`carereach web`), not the Starlette `/hooks/` path: anymail's views are
Django views, and these events are few.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.mailjet import MailjetTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path

from carereach.messaging.services.email_events import Tracked, email_event_apply

app_name = "mail_events"

# (path segment, anymail view, the ANYMAIL setting it cannot run without)
SERVICES: list[tuple[str, type[Any], str]] = [
    ("postmark", PostmarkTrackingWebhookView, "WEBHOOK_SECRET"),
    ("mailgun", MailgunTrackingWebhookView, "MAILGUN_WEBHOOK_SIGNING_KEY"),
    ("sparkpost", SparkPostTrackingWebhookView, "WEBHOOK_SECRET"),
    ("mailjet", MailjetTrackingWebhookView, "WEBHOOK_SECRET"),
    ("brevo", BrevoTrackingWebhookView, "WEBHOOK_SECRET"),
]


def _guarded(view: type[Any], needs: str) -> Any:
    """The anymail view, refusing (503) while its credential is not configured: anymail alone
    would only warn and accept anyone's post."""
    inner = view.as_view()

    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        configured: dict[str, Any] = getattr(settings, "ANYMAIL", {})
        if not configured.get(needs):
            return HttpResponse("mail service webhook not configured", status=503)
        response: HttpResponseBase = inner(request, *args, **kwargs)
        return response

    guarded.csrf_exempt = True  # type: ignore[attr-defined]  # services post without a session
    return guarded


urlpatterns = [
    path(f"{code}/tracking/", _guarded(view, needs), name=f"{code}_tracking")
    for code, view, needs in SERVICES
]


POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
SPARKPOST_HARD = {"10", "30"}  # invalid recipient, no recipient: the address, not the mail


def _hard(event: AnymailTrackingEvent, esp: str) -> bool:
    """Whether a bounce is permanent, by what each service says (anymail normalises the kind
    of event, not always its permanence)."""
    raw: dict[str, Any] = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp == "Postmark":
        return str(raw.get("Type")) in POSTMARK_HARD
    if esp == "Mailgun":  # temporary failures are normalised to "deferred" already
        return str((raw.get("event-data") or {}).get("severity", "permanent")) == "permanent"
    if esp == "SparkPost":
        details: dict[str, Any] = next(iter((raw.get("msys") or {}).values()), {})
        return str(details.get("bounce_class", "")) in SPARKPOST_HARD
    if esp == "Mailjet":
        return bool(raw.get("hard_bounce"))
    if esp == "Brevo":
        return str(raw.get("event")) in {"hard_bounce", "invalid_email"}
    return event.reject_reason in (RejectReason.BOUNCED, RejectReason.INVALID)


KINDS = {
    EventType.BOUNCED: "bounced",
    EventType.REJECTED: "rejected",
    EventType.COMPLAINED: "complained",
    EventType.UNSUBSCRIBED: "unsubscribed",
    EventType.DELIVERED: "delivered",
}


def email_tracking_received(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: object
) -> None:
    """anymail's `tracking` signal → `email_event_apply` (an exception makes anymail answer
    500, and the service posts again later)."""
    kind = KINDS.get(event.event_type)
    if kind is None:
        return
    at = event.timestamp if isinstance(event.timestamp, datetime) else None
    email_event_apply(
        tracked=Tracked(
            esp=esp_name,
            kind=kind,
            recipient=(event.recipient or "").strip(),
            message_id=event.message_id if isinstance(event.message_id, str) else "",
            hard=kind in ("bounced", "rejected") and _hard(event, esp_name),
            at=at,
        )
    )


def email_tracking_connect() -> None:
    """Listen to anymail's `tracking` signal (once, however often the apps load)."""
    tracking.connect(email_tracking_received, dispatch_uid="carereach.email_tracking")
