"""Demo campaigns for `make demo`: one campaign already sent, so the outbox, the campaign's
progress and the phone simulator have something to show.

The console's demo seeding calls `demo_campaigns_seed` after the demo audience, programs and
content exist. A handful of demo HCPs in one state get (fictitious, in-person) consent to the
podcast's texts, so the campaign to every HCP of that state shows both sides: texts delivered
to the consented ones, and the others skipped with "no consent". Does nothing when any campaign
exists already, or when the audience, the podcast program or its content is missing.

`demo_patient_campaigns_seed` adds a health-tip and a screening campaign to patients (drafts,
with their own informational program and approved content), to preview in the console.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.services.editing import CampaignInput, campaign_create
from carereach.campaigns.services.lifecycle import campaign_start
from carereach.campaigns.services.sending import campaign_advance
from carereach.consent.models import ConsentState, Program
from carereach.consent.services import consent_record, program_save
from carereach.content.models import ContentItem
from carereach.content.selectors import item_current_version
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    policy_save,
    version_approve,
    version_submit,
)
from carereach.messaging.services.dispatch import dispatch_due
from carereach.vocabulary import Channel

PROGRAM = "cardio-podcast"
ITEM = "heart-matters-2"
CONSENTED = 6  # demo HCPs given consent to the podcast's texts


def _state_and_phones() -> tuple[str, list[tuple[Contact, str]]]:
    """A state with demo HCPs who have a phone (not a landline), and up to CONSENTED of them
    with their first phone."""
    hcps = (
        Contact.objects.filter(kind=ContactKind.HCP, status="active", phones__isnull=False)
        .exclude(phones__line_type="landline")
        .distinct()
    )
    first = hcps.filter(postal_addresses__state__gt="").order_by("pk").first()
    if first is None:
        return "", []
    state = str(
        first.postal_addresses.exclude(state="")
        .order_by("rank", "id")
        .values_list("state", flat=True)[0]
    )
    people: list[tuple[Contact, str]] = []
    for contact in hcps.filter(postal_addresses__state=state).order_by("pk")[:CONSENTED]:
        number = contact.phones.order_by("rank", "id").values_list("e164", flat=True).first()
        if number:
            people.append((contact, number))
    return state, people


def demo_campaigns_seed(*, marketer: User, rep: User | None = None) -> list[str]:
    """One sent campaign (once): consent for a few HCPs, the campaign started and dispatched."""
    if Campaign.objects.exists():
        return []
    program = Program.objects.filter(code=PROGRAM).first()
    item = ContentItem.objects.filter(code=ITEM).first()
    version = item_current_version(item=item) if item is not None else None
    if program is None or version is None:
        return []
    state, people = _state_and_phones()
    if not people:
        return []
    for contact, number in people:
        if not ConsentState.objects.filter(
            address=number, channel=Channel.SMS, program=program
        ).exists():
            consent_record(
                contact=contact,
                address=number,
                channels=[Channel.SMS],
                programs=[program],
                action="grant",
                method="in_person",
                evidence={"typed_name": "Demo HCP", "note": "fictitious demo consent"},
                actor=rep,
            )
    campaign = campaign_create(
        data=CampaignInput(
            name=f"Heart Matters episode 2 to {state} HCPs",
            program=program,
            content_version=version,
            channel=Channel.SMS,
            query=f'kind = hcp and state = "{state}"',
        ),
        actor=marketer,
    )
    campaign_start(campaign=campaign, actor=marketer)
    campaign_advance(campaign_id=campaign.pk)
    dispatch_due(worker="demo-seed")  # what may go now goes; quiet hours hold the rest
    campaign_advance(campaign_id=campaign.pk)  # done, when everything went
    campaign.refresh_from_db()
    done = "sent" if campaign.status == CampaignStatus.DONE else campaign.get_status_display()
    return [
        f"demo campaign: {campaign.name} ({done}; {len(people)} consented HCPs get it, "
        f"see the phone simulator)"
    ]


WELLNESS = {
    "code": "wellness-tips",
    "name": "Wellness tips",
    "type": "informational",
    "brand": "Demo Health",
    "channels": ["sms", "email"],
    "sender_numbers": ["+18005550122"],
    "sender_emails": ["tips@demo.carereach.invalid"],
    "frequency": "up to 4 msgs/mo",
    "help_contact": "1-800-555-0122",
    "keywords": ["WELL"],
    "double_opt_in": True,
    "disclosure_text": "We will send you up to 4 health tips and screening reminders a month. "
    "Msg & data rates may apply. Reply STOP to opt out, HELP for help.",
    "disclosure_version": "2026-11",
}
PATIENT_CONTENT = {
    "health-tip-walking": (
        "health_tip",
        "Health tip: walking",
        "Wellness tips: hi {{ first_name }}, a 30-minute walk most days helps your heart. "
        "More: {{ tracked_link }}",
    ),
    "screening-reminder": (
        "reminder",
        "Screening reminder",
        "Wellness tips: hi {{ first_name }}, it may be time for your yearly check-up and "
        "screenings. Book a visit: {{ tracked_link }}",
    ),
}


def demo_patient_campaigns_seed(*, marketer: User, reviewer: User) -> list[str]:
    """A health-tip and a screening campaign to patients (once), left as drafts to preview:
    patient outreach works through campaigns like any other broadcast."""
    if ContentItem.objects.filter(code__in=PATIENT_CONTENT).exists():
        return []
    program = Program.objects.filter(code=WELLNESS["code"]).first() or program_save(
        fields=dict(WELLNESS), actor=marketer
    )
    policy_save(
        program=program,
        actor=marketer,
        sms_footer_required=True,
        sms_segment_limit=3,
        postal_address="Demo Health, 100 Example Way, Springfield, IL 62701",
        phi_to_accepted_channels=False,
    )
    now = timezone.now()
    made = []
    for code, (kind, title, text) in PATIENT_CONTENT.items():
        item = item_create(
            code=code,
            title=title,
            kind=kind,
            program=program,
            data=VersionInput(
                media_url="https://health.example.org/" + code,
                contact_kinds=["patient"],
                bodies=[BodyInput("sms", "en", text)],
            ),
            actor=marketer,
        )
        version = version_submit(version=item.versions.get(), actor=marketer)
        version = version_approve(
            version=version,
            actor=reviewer,
            review_code=f"MLR-DEMO-{code.upper()}"[:60],
            valid_from=now - timedelta(minutes=1),
            valid_until=now + timedelta(days=365),
        )
        campaign = campaign_create(
            data=CampaignInput(
                name=title,
                program=program,
                content_version=version,
                channel=Channel.SMS,
                query="kind = patient",
            ),
            actor=marketer,
        )
        made.append(campaign.name)
    return [f"demo campaigns to patients (drafts to preview): {', '.join(made)}"]
