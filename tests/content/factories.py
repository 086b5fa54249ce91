"""Builders for content tests: programs with rules, items through the real services, approval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.consent.models import Program
from carereach.content.models import ContentItem, ContentVersion
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    policy_save,
    version_approve,
    version_submit,
)
from tests.consent import factories as consent_factories

ADDRESS = "Example Pharma, 100 Main St, Springfield, IL 62701"


def program(code: str = "cardio", **overrides: Any) -> Program:
    fields: dict[str, Any] = {
        "name": "Heart Matters",
        "type": "informational",
        "channels": ["sms", "email", "voice"],
        "keywords": [code.upper()],
    }
    fields.update(overrides)
    made = consent_factories.program(code, **fields)
    policy_save(
        program=made,
        actor=None,
        sms_footer_required=made.type != "transactional",
        sms_segment_limit=3,
        postal_address=ADDRESS,
        phi_to_accepted_channels=False,
    )
    return made


def sms(text: str, language: str = "en") -> BodyInput:
    return BodyInput(channel="sms", language=language, text=text)


def email(text: str, subject: str = "News", html: str = "", language: str = "en") -> BodyInput:
    return BodyInput(channel="email", language=language, text=text, subject=subject, html=html)


def item(
    *,
    actor: User | None,
    code: str = "episode-1",
    bodies: list[BodyInput] | None = None,
    program: Program | None = None,
    kind: str = "article",
    **version: Any,
) -> ContentItem:
    data = VersionInput(
        bodies=bodies or [sms("Hi {{ first_name }}, new episode: {{ tracked_link }}")],
        media_url=version.pop("media_url", "https://media.example.org/ep1.mp3"),
        **version,
    )
    return item_create(
        code=code, title=code.replace("-", " ").title(), kind=kind, data=data, actor=actor,
        program=program,
    )  # fmt: skip


def first_version(content: ContentItem) -> ContentVersion:
    return content.versions.get(number=1)


def approve(
    version: ContentVersion,
    *,
    author: User,
    reviewer: User,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    code: str = "MLR-2026-0001",
) -> ContentVersion:
    """Submit (as the author) and approve (as the reviewer) for a window around now."""
    now = timezone.now()
    version = version_submit(version=version, actor=author)
    return version_approve(
        version=version,
        actor=reviewer,
        review_code=code,
        valid_from=valid_from or now - timedelta(minutes=5),
        valid_until=valid_until or now + timedelta(days=30),
    )
