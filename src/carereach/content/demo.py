"""Demo content for `make demo`: a podcast series with approved episodes, a refill reminder and
a promotional draft waiting for review. The console's demo seeding calls `demo_content_seed`
after the demo programs exist; it does nothing when any content exists already."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.consent.models import Program
from carereach.content.models import ContentItem
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    policy_save,
    series_save,
    version_approve,
    version_submit,
)

POSTAL_ADDRESS = "Demo Cardiology, 100 Example Way, Springfield, IL 62701"


def _episode(number: int, topic: str) -> VersionInput:
    return VersionInput(
        media_url=f"https://media.example.org/heart-matters/{number}.mp3",
        contact_kinds=["hcp", "patient"],
        bodies=[
            BodyInput(
                "sms",
                "en",
                f"Hi {{{{ first_name }}}}, episode {number} ({topic}) is out: "
                "{{ tracked_link }} Reply STOP to opt out.",
            ),
            BodyInput(
                "sms",
                "es",
                f"Hola {{{{ first_name }}}}, ya está el episodio {number}: "
                "{{ tracked_link }} Responda STOP para cancelar.",
            ),
            BodyInput(
                "email",
                "en",
                f"Hello {{{{ last_name_with_title }}}},\n\nEpisode {number} of Heart Matters, "
                f"{topic}, is out: {{{{ tracked_link }}}}\n",
                subject=f"Heart Matters, episode {number}: {topic}",
                html=f"<p>Hello {{{{ last_name_with_title }}}},</p><p>Episode {number} of "
                f'Heart Matters, {topic}, is out: <a href="{{{{ tracked_link }}}}">listen</a>.</p>',
            ),
        ],
    )


def demo_content_seed(*, author: User, reviewer: User) -> list[str]:
    """Approved demo content (once): needs the demo programs and two different users."""
    if ContentItem.objects.exists():
        return []
    podcast = Program.objects.filter(code="cardio-podcast").first()
    refills = Program.objects.filter(code="refill-reminders").first()
    if podcast is None or refills is None:
        return []
    for program in (podcast, refills):
        policy_save(
            program=program,
            actor=author,
            sms_footer_required=True,
            sms_segment_limit=1 if program is refills else 3,
            postal_address=POSTAL_ADDRESS,
            phi_to_accepted_channels=False,
        )
    now = timezone.now()
    series = series_save(
        code="heart-matters",
        name="Heart Matters",
        description="A monthly podcast on heart health.",
        program=podcast,
        actor=author,
    )
    made: list[ContentItem] = []
    for number, topic in ((1, "blood pressure basics"), (2, "statins, myths and facts")):
        made.append(
            item_create(
                code=f"heart-matters-{number}",
                title=f"Heart Matters {number}: {topic}",
                kind="podcast_episode",
                program=podcast,
                series=series,
                data=_episode(number, topic),
                actor=author,
            )
        )
    made.append(
        item_create(
            code="refill-due",
            title="Refill due",
            kind="reminder",
            program=refills,
            data=VersionInput(
                contact_kinds=["patient"],
                bodies=[
                    BodyInput(
                        "sms",
                        "en",
                        "Refill reminders: hi {{ first_name }}, a refill is due. Call us or "
                        "reply HELP. Reply STOP to opt out.",
                    ),
                    BodyInput(
                        "sms",
                        "es",
                        "Refill reminders: hola {{ first_name }}, le toca renovar su receta. "
                        "Responda STOP para cancelar.",
                    ),
                ],
            ),
            actor=author,
        )
    )
    for item in made:
        version = version_submit(version=item.versions.get(), actor=author)
        version_approve(
            version=version,
            actor=reviewer,
            review_code=f"MLR-DEMO-{item.pk:04d}",
            valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=365),
            comments="Demo content.",
        )
    promo = item_create(
        code="heartwell-launch",
        title="Heartwell launch",
        kind="article",
        program=podcast,
        data=VersionInput(
            promotional=True,
            brand_name="Heartwell",
            generic_name="cardiolol",
            serious_risks="Heartwell can cause serious bleeding. Do not use with other blood "
            "thinners.",
            safety_info_url="https://heartwell.example.com/isi",
            contact_kinds=["hcp"],
            specialties=["207RC0000X"],
            bodies=[
                BodyInput(
                    "sms",
                    "en",
                    "Heart Matters: {{ last_name_with_title }}, Heartwell (cardiolol) is now "
                    "available for your patients.",
                )
            ],
        ),
        actor=author,
    )
    version_submit(version=promo.versions.get(), actor=author)
    return [
        f"demo content: {len(made)} approved items (series {series.name}), "
        "1 promotional version waiting for review"
    ]
