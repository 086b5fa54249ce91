"""Reads of the content library: items, versions, the review queue, series, program rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from carereach.consent.models import Program, ProgramType
from carereach.content.diffing import VersionText
from carereach.content.models import (
    OPEN_STATUSES,
    ClickKind,
    ContentBody,
    ContentItem,
    ContentVersion,
    LinkClick,
    PhiTerm,
    ProgramPolicy,
    Series,
    TrackedLink,
    VersionStatus,
)
from carereach.errors import NotFoundError


def items_for_library(
    *, text: str = "", status: str = "", kind: str = "", series_id: int | None = None
) -> QuerySet[ContentItem]:
    """Items with their versions (newest first) prefetched, filtered as the library asks."""
    items = ContentItem.objects.select_related("program", "series").prefetch_related(
        Prefetch("versions", queryset=ContentVersion.objects.order_by("-number"))
    )
    if text.strip():
        items = items.filter(Q(title__icontains=text.strip()) | Q(code__icontains=text.strip()))
    if status:
        items = items.filter(versions__status=status).distinct()
    if kind:
        items = items.filter(kind=kind)
    if series_id is not None:
        items = items.filter(series_id=series_id)
    return items.order_by("title", "id")


def item_get(*, item_id: int) -> ContentItem:
    item = ContentItem.objects.select_related("program", "series").filter(pk=item_id).first()
    if item is None:
        raise NotFoundError("No such content item.")
    return item


def item_get_by_code(*, code: str) -> ContentItem:
    item = ContentItem.objects.select_related("program", "series").filter(code=code).first()
    if item is None:
        raise NotFoundError(f"No content item {code!r}.")
    return item


def item_versions(*, item: ContentItem) -> QuerySet[ContentVersion]:
    return (
        ContentVersion.objects.filter(item=item)
        .select_related("created_by", "reviewer", "submitted_by", "retired_by")
        .prefetch_related("bodies")
        .order_by("-number")
    )


def version_get(*, version_id: int) -> ContentVersion:
    version = (
        ContentVersion.objects.select_related(
            "item", "item__program", "item__series", "created_by", "reviewer", "submitted_by"
        )
        .prefetch_related("bodies")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFoundError("No such content version.")
    return version


def item_open_version(*, item: ContentItem) -> ContentVersion | None:
    """The item's draft or version in review, if it has one (never more than one)."""
    return ContentVersion.objects.filter(item=item, status__in=OPEN_STATUSES).first()


def item_current_version(
    *, item: ContentItem, now: datetime | None = None
) -> ContentVersion | None:
    """The newest approved version inside its validity window: the one to send now."""
    now = now or timezone.now()
    return (
        ContentVersion.objects.filter(item=item, status=VersionStatus.APPROVED)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .prefetch_related("bodies")
        .order_by("-number")
        .first()
    )


def versions_in_review() -> QuerySet[ContentVersion]:
    return (
        ContentVersion.objects.filter(status=VersionStatus.IN_REVIEW)
        .select_related("item", "item__program", "submitted_by", "created_by")
        .order_by("submitted_at", "id")
    )


def versions_approved() -> QuerySet[ContentVersion]:
    return (
        ContentVersion.objects.filter(status=VersionStatus.APPROVED)
        .select_related("item", "reviewer")
        .order_by("valid_until", "id")
    )


def versions_retired(*, limit: int = 20) -> QuerySet[ContentVersion]:
    return (
        ContentVersion.objects.filter(status__in=[VersionStatus.EXPIRED, VersionStatus.WITHDRAWN])
        .select_related("item", "retired_by")
        .order_by("-retired_at", "-id")[:limit]
    )


def version_previous_approved(*, version: ContentVersion) -> ContentVersion | None:
    """The last version of the same item before this one that was ever approved."""
    return (
        ContentVersion.objects.filter(item_id=version.item_id, number__lt=version.number)
        .exclude(reviewed_at__isnull=True)
        .exclude(status__in=OPEN_STATUSES)
        .order_by("-number")
        .first()
    )


def series_all() -> QuerySet[Series]:
    return Series.objects.select_related("program").annotate(episode_count=Count("episodes"))


def series_get(*, series_id: int) -> Series:
    series = Series.objects.select_related("program").filter(pk=series_id).first()
    if series is None:
        raise NotFoundError("No such series.")
    return series


def series_episodes(*, series: Series) -> QuerySet[ContentItem]:
    return (
        ContentItem.objects.filter(series=series)
        .prefetch_related(Prefetch("versions", queryset=ContentVersion.objects.order_by("-number")))
        .order_by("episode_number")
    )


def programs_for_content() -> QuerySet[Program]:
    return Program.objects.filter(active=True).order_by("name")


@dataclass(frozen=True)
class Policy:
    """A program's content rules, with defaults for programs that never set them."""

    sms_footer_required: bool
    sms_segment_limit: int
    postal_address: str
    phi_to_accepted_channels: bool
    saved: bool = False


def policy_for(program: Program | None) -> Policy:
    if program is None:
        return Policy(False, 3, "", False)
    row = ProgramPolicy.objects.filter(program=program).first()
    if row is not None:
        return Policy(
            row.sms_footer_required,
            row.sms_segment_limit,
            row.postal_address,
            row.phi_to_accepted_channels,
            saved=True,
        )
    # Defaults: transactional replies carry no footer; the FCC healthcare exemption allows one
    # segment (160 characters); everything else up to three.
    return Policy(
        sms_footer_required=program.type != ProgramType.TRANSACTIONAL,
        sms_segment_limit=1 if program.type == ProgramType.HEALTHCARE_EXEMPT else 3,
        postal_address="",
        phi_to_accepted_channels=False,
    )


def phi_terms() -> list[tuple[str, str]]:
    return list(PhiTerm.objects.order_by("term").values_list("term", "category"))


def phi_terms_all() -> QuerySet[PhiTerm]:
    return PhiTerm.objects.order_by("term")


def version_text(version: ContentVersion) -> VersionText:
    """What a version says, as titled plain text, for the side-by-side diff."""

    def listing(values: list[str]) -> str:
        return ", ".join(values) if values else "(any)"

    fields = {
        "Media link": version.media_url,
        "Promotional": "yes" if version.promotional else "no",
        "Brand name": version.brand_name,
        "Generic name": version.generic_name,
        "Most serious risks": version.serious_risks,
        "Safety information link": version.safety_info_url,
        "Contact kinds": listing(version.contact_kinds),
        "Specialties": listing(version.specialties),
        "Pediatric": "yes" if version.pediatric else "no",
        "Languages": listing(version.languages),
        "Territories": listing(version.territories),
    }
    bodies: list[ContentBody] = sorted(
        version.bodies.all(), key=lambda body: (body.channel, body.language)
    )
    for body in bodies:
        where = f"{body.get_channel_display()} ({body.language})"
        if body.subject:
            fields[f"{where}: subject"] = body.subject
        fields[f"{where}: text"] = body.text
        if body.html:
            fields[f"{where}: HTML"] = body.html
    return VersionText(label=version.label, fields=fields)


@dataclass(frozen=True)
class LinkStats:
    links: int
    human_clicks: int
    machine_clicks: int


def version_link_stats(*, version: ContentVersion) -> LinkStats:
    clicks = LinkClick.objects.filter(link__version=version)
    return LinkStats(
        links=TrackedLink.objects.filter(version=version).count(),
        human_clicks=clicks.filter(kind=ClickKind.HUMAN).count(),
        machine_clicks=clicks.exclude(kind=ClickKind.HUMAN).count(),
    )
