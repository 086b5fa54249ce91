"""Test-result-ready notices: "your results are ready in the portal", and nothing more.

A care system (API) or a coordinator (console) asks for one per patient and lab reference. The
notice is transactional and clinical (lane 1: ahead of broadcasts, outside marketing caps), on
the patient's preferred channel that may be used: an opt-out stops it, a confidential-
communication request ("texts only to this number", "e-mail only") is honoured by the policy
engine, and quiet hours hold a text until morning. It carries no test name, value or date: the
request has no field for them, and the portal link may not carry a query string either.

The caller's reference (a lab order id) is hashed into the outbox key
`result:<hash>:<contact>`: asking twice sends once, and the reference itself is stored nowhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.audience.selectors import contact_get_for_user
from carereach.consent.models import Program, ProgramType
from carereach.engagement import texts
from carereach.engagement.services.delivery import (
    PersonTrigger,
    fanout_by_preference,
    fixed_text,
)
from carereach.errors import ValidationError
from carereach.messaging.models import Lane
from carereach.messaging.services.fanout import Renderer
from carereach.messaging.services.triggers import trigger_messages
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

NOTICE_PROGRAM_TYPES = (ProgramType.TRANSACTIONAL, ProgramType.HEALTHCARE_EXEMPT)
STALE_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class ResultNotice:
    key: str  # the outbox key
    message_id: int | None
    status: str  # queued, held, skipped, ... (or "" when nothing was written)
    channel: str
    reasons: list[dict[str, str]] = field(default_factory=list)
    created: bool = True  # False: asked before with the same reference


def _portal(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or " " in url or len(url) > 300:
        raise ValidationError("Give the portal's https:// link.", field="portal_url")
    if parts.query or parts.fragment:
        raise ValidationError(
            "The portal link may not carry a query or fragment: a notice holds no result details.",
            field="portal_url",
        )
    return url


def reference_hash(program: Program, reference: str) -> str:
    digest = hashlib.sha256(f"{program.pk}:{reference}".encode()).hexdigest()
    return digest[:20]


@transaction.atomic
def result_notice_send(
    *, actor: User, contact_id: int, program: Program, portal_url: str, reference: str
) -> ResultNotice:
    """Tell a patient their results are ready in the portal (once per reference)."""
    now = timezone.now()
    contact = contact_get_for_user(user=actor, contact_id=contact_id)
    if contact.kind != ContactKind.PATIENT:
        raise ValidationError("Result notices go to patients only.", field="contact")
    if program.type not in NOTICE_PROGRAM_TYPES or not program.active:
        raise ValidationError(
            "Choose an active transactional or healthcare-exempt program.", field="program"
        )
    portal = _portal(portal_url)
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise ValidationError(
            "Give the lab order's reference (up to 100 characters).", field="reference"
        )
    key = f"result:{reference_hash(program, reference)}"
    trigger = PersonTrigger(
        key=key,
        origin="result",
        program=program,
        channel=Channel.SMS,
        step="result_ready",
        lane=Lane.CLINICAL,
        expires_at=now + STALE_AFTER,
    )

    def renderer_for(channel: str, group: list[int]) -> Renderer:
        def words(person: Contact, language: str) -> str:
            return texts.result_ready(
                program=program.name,
                portal_url=portal,
                language=language,
                stop=channel == Channel.SMS,
            )

        return fixed_text(words, subject="Your results are ready")

    report = fanout_by_preference(
        trigger=trigger, contact_ids=[contact.pk], renderer_for=renderer_for, now=now
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="result_notice",
        object_id=contact.pk,
        note=f"result-ready notice {key} ({'new' if report.planned else 'asked again'})",
    )
    message = trigger_messages(trigger_key=key).filter(contact_id=contact.pk).first()
    if message is None:
        return ResultNotice(key=key, message_id=None, status="", channel="", created=False)
    return ResultNotice(
        key=message.key,
        message_id=message.pk,
        status=str(message.status),
        channel=message.channel,
        reasons=list(message.reasons),
        created=bool(report.planned),
    )
