"""Builders for engagement tests: a podcast series with subscribers, through the real services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User

from carereach.audience.models import Contact, Territory
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.content.models import ContentItem, ContentVersion, Series
from carereach.content.services import VersionInput, item_create, series_save, version_submit
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.campaigns.factories import NOON_NY, Clock
from tests.content import factories as content

__all__ = ["NOON_NY", "Clock"]

SENDER = "+18005550100"
EPISODE = "Heart Matters: hi {{ first_name }}, a new episode is out: {{ tracked_link }}"


def program(code: str = "cardio", **overrides: Any) -> Program:
    fields: dict[str, Any] = {
        "sender_numbers": [SENDER],
        "sender_emails": ["news@example.com"],
        "name": "Heart Matters",
        "channels": ["sms", "email"],
    } | overrides
    return content.program(code, **fields)


def grant(person: Contact, address: str, program: Program, channel: str = "sms") -> None:
    consent_record(
        contact=person,
        address=address,
        channels=[channel],
        programs=[program],
        action="grant",
        method="in_person",
        evidence={"typed_name": "Dana Doe"},
        actor=None,
    )


def revoke(person: Contact, address: str, program: Program, channel: str = "sms") -> None:
    consent_record(
        contact=person,
        address=address,
        channels=[channel],
        programs=[program],
        action="revoke",
        method="reply",
        evidence={"inbound": "STOP"},
        actor=None,
    )


def hcp(name: str, phone: str = "", email: str = "", **fields: str) -> Contact:
    values = {"kind": "hcp", "first_name": name, "last_name": "Doe"} | fields
    if phone:
        values["phone"] = phone
    if email:
        values["email"] = email
    values.setdefault("time_zone", "America/New_York")
    return audience.contact(**values)


def episode(
    series: Series, *, author: User, number: int, text: str = EPISODE, **version: Any
) -> ContentItem:
    bodies = version.pop("bodies", None) or [
        content.sms(text),
        content.email(
            "Hello {{ last_name_with_title }}, episode out: {{ tracked_link }}",
            subject="New episode",
        ),
    ]
    return item_create(
        code=f"episode-{number}",
        title=f"Episode {number}",
        kind="podcast_episode",
        program=series.program,
        series=series,
        data=VersionInput(
            bodies=bodies, media_url=f"https://media.example.org/{number}.mp3", **version
        ),
        actor=author,
    )


def in_review(item: ContentItem, author: User) -> ContentVersion:
    return version_submit(version=content.first_version(item), actor=author)


@dataclass
class Podcast:
    author: User
    reviewer: User
    program: Program
    series: Series
    people: dict[str, Contact] = field(default_factory=dict)


def podcast(users: dict[Role, User]) -> Podcast:
    """A series with subscribers: Ana by text (NY), Ben by e-mail only (prefers e-mail), Cy in
    Honolulu by text (quiet hours at noon NY), Di who opted out, Ed never consented."""
    made = program()
    series = series_save(code="heart", name="Heart Matters", program=made, actor=None)
    people = {
        "ana": hcp("Ana", phone="+12125550101"),
        "ben": hcp(
            "Ben", phone="+12125550102", email="ben@example.org", preferred_channels="email;sms"
        ),
        "cy": hcp("Cy", phone="+18085550103", time_zone="Pacific/Honolulu"),
        "di": hcp("Di", phone="+12125550104"),
        "ed": hcp("Ed", phone="+12125550105"),
    }
    grant(people["ana"], "+12125550101", made)
    grant(people["ben"], "+12125550102", made)
    grant(people["ben"], "ben@example.org", made, channel="email")
    grant(people["cy"], "+18085550103", made)
    grant(people["di"], "+12125550104", made)
    revoke(people["di"], "+12125550104", made)
    return Podcast(
        author=users[Role.MARKETER],
        reviewer=users[Role.COMPLIANCE],
        program=made,
        series=series,
        people=people,
    )


def territory(code: str, rep: User | None = None) -> Territory:
    made, _ = Territory.objects.get_or_create(code=code, defaults={"name": code.upper()})
    if rep is not None:
        made.reps.add(rep)
    return made
