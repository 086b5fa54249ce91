"""Demo engagement for `make demo`: a series with subscribers and a freshly published episode,
a rep's logged visit with its follow-up and meeting invite, and a survey with an answer, so the
phone simulator shows each of them. One more episode waits in review: approve it in the console
(as `compliance`) and watch it reach the subscribers on the series page and the simulator.

The console's demo seeding calls `demo_engagement_seed` after the audience, programs, content and
campaigns exist. It does nothing when a survey exists already, or when the podcast series or its
program is missing.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.consent.models import Program
from carereach.consent.selectors import program_subscribers
from carereach.consent.services import consent_capture_in_person
from carereach.content.models import ContentItem, Series
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    version_approve,
    version_submit,
)
from carereach.engagement.models import Survey
from carereach.engagement.services.followups import InteractionInput, interaction_log
from carereach.engagement.services.surveys import SurveyInput, survey_create, survey_send
from carereach.engagement.tasks import engagement_tick
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in

SERIES = "heart-matters"
PROGRAM = "cardio-podcast"
SURVEY = "podcast-nps"


def _episode(
    series: Series, program: Program, number: int, topic: str, author: User
) -> ContentItem:
    text = (
        f"Hi {{{{ first_name }}}}, Heart Matters episode {number} ({topic}) is out: "
        "{{ tracked_link }}"
    )
    return item_create(
        code=f"heart-matters-{number}",
        title=f"Heart Matters {number}: {topic}",
        kind="podcast_episode",
        program=program,
        series=series,
        data=VersionInput(
            media_url=f"https://media.example.org/heart-matters/{number}.mp3",
            contact_kinds=["hcp", "patient"],
            bodies=[
                BodyInput("sms", "en", text),
                BodyInput(
                    "sms",
                    "es",
                    f"Hola {{{{ first_name }}}}, ya está el episodio {number}: "
                    "{{ tracked_link }}",
                ),
                BodyInput(
                    "email",
                    "en",
                    f"Hello {{{{ last_name_with_title }}}},\n\nEpisode {number}, {topic}, is "
                    "out: {{ tracked_link }}\n",
                    subject=f"Heart Matters, episode {number}: {topic}",
                ),
            ],
        ),
        actor=author,
    )


def _rep_hcp(rep: User) -> tuple[Contact, str] | None:
    """An HCP of the rep's territories with a mobile phone, who has not consented yet."""
    hcps = (
        Contact.objects.filter(kind=ContactKind.HCP, status="active", territory__reps=rep)
        .filter(phones__isnull=False)
        .exclude(phones__line_type="landline")
        .distinct()
        .order_by("pk")
    )
    for contact in hcps[:50]:
        number = contact.phones.order_by("rank", "id").values_list("e164", flat=True).first()
        if number and not contact.consent_states.exists():
            return contact, number
    return None


def demo_engagement_seed(
    *, author: User, reviewer: User, rep: User | None, marketer: User
) -> list[str]:
    if Survey.objects.exists():
        return []
    series = Series.objects.filter(code=SERIES).select_related("program").first()
    program = Program.objects.filter(code=PROGRAM).first()
    if series is None or program is None:
        return []
    notes: list[str] = []

    # The rep-and-podcast story: consent captured in person, then the episode reaches them.
    visited = _rep_hcp(rep) if rep is not None else None
    if visited is not None and rep is not None:
        contact, number = visited
        consent_capture_in_person(
            contact=contact,
            address=number,
            groups=[(program, ["sms"])],
            evidence={"typed_name": "Demo HCP", "note": "fictitious demo consent"},
            actor=rep,
        )
    now = timezone.now()
    third = _episode(series, program, 3, "heart failure update", author)
    version = version_submit(version=third.versions.get(), actor=author)
    version = version_approve(  # publishing: the published hook sends it to every subscriber
        version=version,
        actor=reviewer,
        review_code="MLR-DEMO-EP3",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=365),
        comments="Demo content.",
    )
    engagement_tick()  # at once, also when the caller holds a transaction open (no on_commit)
    subscribers = program_subscribers(program=program).count()
    notes.append(f"demo series: episode 3 published to {subscribers} subscribers of {series.name}")
    fourth = _episode(series, program, 4, "exercise after a heart attack", author)
    version_submit(version=fourth.versions.get(), actor=author)
    notes.append("demo series: episode 4 waits in review; approve it as compliance to publish it")
    worker_tick("demo-seed")

    if visited is not None and rep is not None:
        contact, number = visited
        interaction_log(
            actor=rep,
            data=InteractionInput(
                contact_id=contact.pk,
                kind="visit",
                notes="Discussed the new heart failure guidance.",
                follow_up=version,
                meeting_at=now + timedelta(days=2),
                meeting_link="https://meet.example.org/demo-rep",
            ),
        )
        worker_tick("demo-seed")
        notes.append(
            f"demo visit: {rep.username} visited contact {contact.pk} ({number}); follow-up and "
            "meeting invite in the phone simulator (reply 1 or 2 there)"
        )

    survey = survey_create(
        data=SurveyInput(
            code=SURVEY,
            name="Heart Matters NPS",
            kind="nps",
            program=program,
            question="How likely are you to recommend Heart Matters to a colleague?",
            follow_up="What is the main reason for your score?",
        ),
        actor=marketer,
    )
    report = survey_send(survey=survey, query="kind = hcp", actor=marketer)
    worker_tick("demo-seed")
    answered = (
        program_subscribers(program=program)
        .filter(phones__isnull=False)
        .exclude(pk=visited[0].pk if visited else 0)
        .order_by("pk")
        .first()
    )
    if answered is not None:
        phone = answered.phones.order_by("rank", "id").values_list("e164", flat=True).first()
        sender = (program.sender_numbers or [""])[0]
        if phone and sender:
            sandbox_text_in(from_number=phone, to=sender, body="Nine!")
            worker_tick("demo-seed")
    notes.append(
        f"demo survey: {survey.name} asked {report.queued + report.held} HCPs by text "
        "(one answered), results under Surveys"
    )
    return notes
