"""Next best content for an HCP: what to send next, by what similar HCPs engaged with.

Only content that could be sent to this HCP now is ever suggested: an approved version inside its
validity window, eligible for the HCP (kind, specialty, language, territory: the content app's
own rules), from an item the HCP has not had (a message for it queued, held, sent or delivered).
Those candidates are then ordered by `ranking.rank`. Engagement is a human click on a tracked
link of the item (scanners and prefetches are not people) or a reply to a message carrying it.

Every count comes from a handful of set-based queries (GROUP BY over messages, clicks and reply
events), whatever the number of HCPs; only the candidate items are looped over in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet

from carereach.audience.models import Contact, ContactKind, Specialty
from carereach.content.eligibility import Reason, content_eligibility
from carereach.content.models import (
    ClickKind,
    ContentItem,
    ContentVersion,
    LinkClick,
    VersionStatus,
)
from carereach.content.selectors import item_current_version
from carereach.insights.ranking import ItemStats, Ranked, rank
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus

# A message in one of these states means the HCP has (or is about to have) the item.
HAD = (
    MessageStatus.QUEUED,
    MessageStatus.HELD,
    MessageStatus.PAUSED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
)
# Reached the HCP: the denominator of an engagement share.
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)
SMALL_GROUP = 11  # below this many colleagues, the reason says "a few", not exact counts


@dataclass(frozen=True)
class Suggestion:
    item: ContentItem
    version: ContentVersion
    score: float
    reasons: list[str]


def _sent_pairs(specialties: Sequence[int] | None) -> QuerySet[Any]:
    rows = Message.objects.filter(
        status__in=SENT, content_version__isnull=False, contact__kind=ContactKind.HCP
    )
    if specialties is not None:
        rows = rows.filter(contact__hcp__specialties__in=specialties)
    return (
        rows.annotate(item=F("content_version__item_id"), person=F("contact_id"))
        .order_by()
        .values_list("item", "person")
        .distinct()
    )


def _engaged_pairs(
    specialties: Sequence[int] | None = None, contact_id: int | None = None
) -> QuerySet[Any]:
    clicks = LinkClick.objects.filter(kind=ClickKind.HUMAN, link__contact__kind=ContactKind.HCP)
    replies = MessageEvent.objects.filter(
        kind=EventKind.REPLIED,
        message__content_version__isnull=False,
        message__contact__kind=ContactKind.HCP,
    )
    if specialties is not None:
        clicks = clicks.filter(link__contact__hcp__specialties__in=specialties)
        replies = replies.filter(message__contact__hcp__specialties__in=specialties)
    if contact_id is not None:
        clicks = clicks.filter(link__contact_id=contact_id)
        replies = replies.filter(message__contact_id=contact_id)
    clicked = clicks.annotate(item=F("link__version__item_id"), person=F("link__contact_id"))
    replied = replies.annotate(
        item=F("message__content_version__item_id"), person=F("message__contact_id")
    )
    # No ORDER BY inside a UNION (the models' default orderings would add one).
    return (
        clicked.order_by()
        .values_list("item", "person")
        .union(replied.order_by().values_list("item", "person"))
    )


def _per_item(pairs: QuerySet[Any]) -> dict[int, int]:
    """People per item, counted by the database over the (item, person) pairs."""
    sql, params = pairs.query.sql_with_params()
    with connection.cursor() as cursor:
        # The inner SQL is Django's own, with its parameters kept apart.
        cursor.execute(f"SELECT item, COUNT(*) FROM ({sql}) pairs GROUP BY item", params)  # noqa: S608
        return {int(item): int(count) for item, count in cursor.fetchall()}


def _overlaps(pairs: QuerySet[Any], items: Sequence[int]) -> dict[tuple[int, int], int]:
    """For each item in `items` and each other item: how many people engaged with both."""
    if not items:
        return {}
    sql, params = pairs.query.sql_with_params()
    marks = ", ".join(["%s"] * len(items))
    query = (  # Django's own SQL and placeholders only; values travel as parameters
        f"WITH engaged AS ({sql}) "  # noqa: S608
        "SELECT a.item, b.item, COUNT(*) FROM engaged a "
        "JOIN engaged b ON a.person = b.person AND a.item <> b.item "
        f"WHERE a.item IN ({marks}) GROUP BY a.item, b.item"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, *items])
        return {(int(a), int(b)): int(n) for a, b, n in cursor.fetchall()}


def _candidates(contact: Contact) -> list[ContentVersion]:
    """The current version of every item that may go to this contact now and that it lacks."""
    had = set(
        Message.objects.filter(
            contact=contact, status__in=HAD, content_version__isnull=False
        ).values_list("content_version__item_id", flat=True)
    )
    items = (
        ContentItem.objects.filter(versions__status=VersionStatus.APPROVED)
        .exclude(pk__in=had)
        .distinct()
        .order_by("pk")
    )
    found = []
    for item in items:
        version = item_current_version(item=item)
        if version is None:
            continue
        if content_eligibility(version=version, contact=contact).reason != Reason.ELIGIBLE:
            continue
        found.append(version)
    return found


def next_best_content(*, contact: Contact, limit: int = 5) -> list[Suggestion]:
    """Up to `limit` suggestions for an HCP, best first; none for patients and caregivers."""
    if contact.kind != ContactKind.HCP:
        return []
    versions = _candidates(contact)
    if not versions:
        return []
    specialties = list(Specialty.objects.filter(hcps__contact=contact).values_list("pk", flat=True))
    everyone = _engaged_pairs(None)
    all_sent, all_engaged = _per_item(_sent_pairs(None)), _per_item(everyone)
    peers_sent = _per_item(_sent_pairs(specialties)) if specialties else {}
    peers_engaged = _per_item(_engaged_pairs(specialties)) if specialties else {}
    total_sent = sum(all_sent.values())
    overall = sum(all_engaged.values()) / total_sent if total_sent else 0.0
    mine = {int(item) for item, _ in _engaged_pairs(contact_id=contact.pk)}
    by_item = {version.item_id: version for version in versions}
    ranked = rank(
        candidates=[
            ItemStats(
                item_id=item,
                peers_sent=peers_sent.get(item, 0),
                peers_engaged=peers_engaged.get(item, 0),
                all_sent=all_sent.get(item, 0),
                all_engaged=all_engaged.get(item, 0),
            )
            for item in by_item
        ],
        engagers=all_engaged,
        overlaps=_overlaps(everyone, sorted(mine)),
        engaged_by_hcp=mine,
        overall=overall,
    )
    titles = dict(ContentItem.objects.filter(pk__in=mine).values_list("pk", "title"))
    return [
        Suggestion(
            item=by_item[r.item_id].item,
            version=by_item[r.item_id],
            score=round(r.score, 4),
            reasons=_reasons(r, titles),
        )
        for r in ranked[:limit]
    ]


def _reasons(ranked: Ranked, titles: dict[int, str]) -> list[str]:
    reasons = []
    if ranked.peers_sent >= SMALL_GROUP:
        reasons.append(
            f"{ranked.peers_engaged} of {ranked.peers_sent} colleagues in the same specialty "
            "engaged with it."
        )
    elif ranked.peers_engaged:
        reasons.append("A few colleagues in the same specialty engaged with it.")
    if ranked.together_with is not None:
        title = titles.get(ranked.together_with, "another item")
        reasons.append(f"People who engaged with “{title}”, as this HCP did, engaged with it too.")
    if not reasons:
        reasons.append("Approved for this HCP and not sent yet; nobody similar has had it yet.")
    return reasons
