"""A hand-counted world of messages, events and clicks for the funnel tests.

Campaign A ("Flu shots", 30 HCPs, one text each, all sent at T0 + 1 min):
  delivered 0-24 (25), undelivered 25-29 (5: failed)
  human clicks 0-11 (12): 0-5 first at sent + 10 min, 6-11 at sent + 30 min (mean 20 min);
    person 0 clicks again 2 h later; scanner clicks 12-14 and a prefetch on 15 do not count
  replied 0-10 (11), opted out 20-21 (2)
  converted 0-10 (11): recorded through the API by the tests that need it
Campaign B ("Tiny", 8 HCPs, one text each): sent and delivered; every cell is under 11 people.
People 0-14 of campaign A belong to rep "rita" (owner rep of their HCP profile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User

from carereach.audience.models import Contact, HcpProfile
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.consent.models import Program
from carereach.content.models import ClickKind, ContentItem, ContentVersion, LinkClick, TrackedLink
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus
from tests.consent import factories as consent_factories

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SENT = T0 + timedelta(minutes=1)


@dataclass
class World:
    program: Program
    item: ContentItem
    version: ContentVersion
    a: Campaign
    b: Campaign
    people_a: list[Contact] = field(default_factory=list)
    people_b: list[Contact] = field(default_factory=list)
    messages_a: list[Message] = field(default_factory=list)
    rep: User | None = None


def content(
    code: str = "flu-shots", title: str = "Flu shots"
) -> tuple[ContentItem, ContentVersion]:
    item = ContentItem.objects.create(
        code=code, title=title, kind="reminder", created_at=T0, updated_at=T0
    )
    version = ContentVersion.objects.create(
        item=item, number=1, status="approved", created_at=T0, updated_at=T0
    )
    return item, version


def campaign(name: str, program: Program, version: ContentVersion) -> Campaign:
    return Campaign.objects.create(
        name=name,
        program=program,
        content_version=version,
        query="kind = hcp",
        channel="sms",
        status=CampaignStatus.DONE,
        created_at=T0,
        updated_at=T0,
    )


def person(rep: User | None = None) -> Contact:
    contact = Contact.objects.create(kind="hcp", created_at=T0, updated_at=T0)
    HcpProfile.objects.create(contact=contact, owner_rep=rep)
    return contact


def text(c: Campaign, contact: Contact, *, at: datetime = T0, sent: bool = True) -> Message:
    key = f"campaign:{c.pk}:0:{contact.pk}:sms"
    return Message.objects.create(
        key=key,
        origin="campaign",
        origin_ref=c.trigger_key,
        contact=contact,
        program=c.program,
        content_version=c.content_version,
        channel="sms",
        address=f"+1415555{contact.pk:04d}",
        body="Flu shots are in.",
        status=MessageStatus.DELIVERED if sent else MessageStatus.QUEUED,
        due_at=at,
        created_at=at,
        sent_at=at + timedelta(minutes=1) if sent else None,
    )


def events(message: Message, *kinds: str, at: datetime = SENT) -> None:
    MessageEvent.objects.bulk_create(
        [MessageEvent(message=message, kind=kind, at=at) for kind in kinds]
    )


def click(message: Message, at: datetime, kind: str = ClickKind.HUMAN) -> None:
    link, _ = TrackedLink.objects.get_or_create(
        message_key=message.key,
        position=0,
        defaults={
            "token": f"t{message.pk}",
            "version": message.content_version,
            "contact": message.contact,
            "url": "https://example.org/flu",
            "created_at": message.created_at,
            "delivered_at": SENT,
        },
    )
    LinkClick.objects.create(link=link, at=at, kind=kind, method="GET", user_agent="Mozilla/5.0")


def world(rep: User | None = None) -> World:
    program = consent_factories.program("flu")
    item, version = content()
    built = World(
        program=program,
        item=item,
        version=version,
        a=campaign("Flu shots", program, version),
        b=campaign("Tiny", program, version),
        rep=rep,
    )
    for i in range(30):
        contact = person(rep if i < 15 else None)
        message = text(built.a, contact)
        built.people_a.append(contact)
        built.messages_a.append(message)
        kinds = [EventKind.QUEUED, EventKind.SENT]
        kinds.append(EventKind.DELIVERED if i < 25 else EventKind.UNDELIVERED)
        if i <= 10:
            kinds.append(EventKind.REPLIED)
        if i in (20, 21):
            kinds.append(EventKind.OPTED_OUT)
        events(message, *kinds)
        if i < 12:
            click(message, SENT + timedelta(minutes=10 if i < 6 else 30))
        if i == 0:
            click(message, SENT + timedelta(hours=2))
        if 12 <= i <= 14:
            click(message, SENT + timedelta(minutes=5), kind=ClickKind.SCANNER)
        if i == 15:
            click(message, SENT, kind=ClickKind.PREFETCH)
    for _ in range(8):
        contact = person()
        built.people_b.append(contact)
        events(text(built.b, contact), EventKind.QUEUED, EventKind.SENT, EventKind.DELIVERED)
    return built
