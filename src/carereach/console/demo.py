"""Demo seeding for `make demo`: one user per role and each app's demo data, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from carereach.audience.demo import demo_audience_seed
from carereach.campaigns.demo import demo_campaigns_seed, demo_patient_campaigns_seed
from carereach.consent.models import Program
from carereach.consent.services import program_save
from carereach.content.demo import demo_content_seed
from carereach.engagement.demo import demo_engagement_seed
from carereach.journeys.demo import demo_journeys_seed
from carereach.security.roles import ROLE_LABELS, Role
from carereach.security.services import user_create

DEMO_PASSWORD = "carereach-demo"  # noqa: S105 - printed for the local demo on purpose

DEMO_USERS: dict[str, Role] = {
    "admin": Role.ADMIN,
    "marketer": Role.MARKETER,
    "compliance": Role.COMPLIANCE,
    "rep": Role.FIELD_REP,
    "coordinator": Role.CARE_COORDINATOR,
    "analyst": Role.ANALYST,
}


@dataclass
class Seeded:
    users: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def demo_seed() -> Seeded:
    seeded = Seeded()
    existing = set(
        get_user_model().objects.filter(username__in=DEMO_USERS).values_list("username", flat=True)
    )
    for username, role in DEMO_USERS.items():
        if username not in existing:
            user_create(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                email=f"{username}@demo.carereach.invalid",
                check_password=False,
            )
        seeded.users.append((username, ROLE_LABELS[role]))
    users = {
        user.username: user for user in get_user_model().objects.filter(username__in=DEMO_USERS)
    }
    # A fictitious audience (only into an empty database), and the rep's territories.
    seeded.notes.extend(demo_audience_seed(actor=users["admin"], rep=users.get("rep")))
    seeded.notes.extend(demo_programs_seed(actor=users["admin"]))
    seeded.notes.extend(demo_content_seed(author=users["marketer"], reviewer=users["compliance"]))
    seeded.notes.extend(demo_campaigns_seed(marketer=users["marketer"], rep=users.get("rep")))
    seeded.notes.extend(
        demo_patient_campaigns_seed(marketer=users["marketer"], reviewer=users["compliance"])
    )
    seeded.notes.extend(
        demo_engagement_seed(
            author=users["marketer"],
            reviewer=users["compliance"],
            rep=users.get("rep"),
            marketer=users["marketer"],
        )
    )
    seeded.notes.extend(demo_journeys_seed(author=users["marketer"], reviewer=users["compliance"]))
    return seeded


DEMO_PROGRAMS: list[dict[str, Any]] = [
    {
        "code": "cardio-podcast",
        "name": "Heart Matters podcast",
        "type": "informational",
        "brand": "Demo Cardiology",
        "channels": ["sms", "email"],
        "sender_numbers": ["+18005550100"],
        "frequency": "up to 4 msgs/mo",
        "help_contact": "1-800-555-0100",
        "keywords": ["HEART"],
        "double_opt_in": True,
        "web_signup": True,  # the public page /join/cardio-podcast/
        "disclosure_text": "By signing you agree to receive up to 4 recurring texts or e-mails a "
        "month about new Heart Matters episodes. Consent is not a condition of purchase. Msg & "
        "data rates may apply. Reply STOP to opt out, HELP for help.",
        "disclosure_version": "2026-11",
    },
    {
        "code": "refill-reminders",
        "name": "Refill reminders",
        "type": "healthcare_exempt",
        "brand": "Demo Pharmacy",
        "channels": ["sms", "voice"],
        "sender_numbers": ["+18005550111"],
        "frequency": "up to 2 msgs/mo",
        "help_contact": "1-800-555-0111",
        "keywords": ["REFILL"],
        "double_opt_in": True,
        "disclosure_text": "We will remind you when a refill is due. Msg & data rates may "
        "apply. Reply STOP to opt out, HELP for help.",
        "disclosure_version": "2026-11",
    },
]


def demo_programs_seed(*, actor: User) -> list[str]:
    """Two programs to capture consent for (once)."""
    made = [
        program_save(fields=fields, actor=actor).name
        for fields in DEMO_PROGRAMS
        if not Program.objects.filter(code=fields["code"]).exists()
    ]
    return [f"demo programs: {', '.join(made)}"] if made else []
