"""Series subscriptions: a published episode goes to every subscriber, once, in their daytime.

A subscriber is a contact with a granted, unexpired consent to the series' program on at least
one channel (a rep's in-person capture, a web or keyword sign-up: `consent`). When compliance
approves a version of an episode, content calls the published hook; `series_release_create`
records a release in the approving transaction, and once that commits the first batch goes at
once (the scheduler does the rest, `engagement.tasks`). Each batch (200 subscribers) is one
transaction holding the release's row: the next subscribers after `cursor`, the fan-out on each
one's preferred consented channel (`services.delivery`), recipients the content refuses turned
into skips, the cursor moved. The outbox key `series:<version>:<contact>` makes every re-run
harmless; someone who opted out meanwhile is no longer a subscriber, and a queued message is
checked against consent again when it is sent.
"""

from __future__ import annotations

import logging
import time as clock
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.audience.selectors import reach_for_contacts
from carereach.consent.selectors import program_subscribers
from carereach.content.eligibility import (
    REASON_TEXT,
    content_eligible_q,
    version_availability,
)
from carereach.content.eligibility import Reason as ContentReason
from carereach.content.hooks import PublishedVersion, RetiredVersion
from carereach.content.models import ContentVersion, VersionStatus
from carereach.content.rendering import version_program
from carereach.content.selectors import version_get
from carereach.engagement.models import ReleaseStatus, SeriesRelease
from carereach.engagement.services.delivery import PersonTrigger, fanout_by_preference
from carereach.errors import ConflictError, ValidationError
from carereach.messaging.models import Lane, MessageStatus
from carereach.messaging.services.fanout import FanoutReport, Renderer
from carereach.messaging.services.rendering import (
    RenderFailures,
    content_renderer,
    render_failures_skip,
)
from carereach.messaging.services.triggers import trigger_messages
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction

logger = logging.getLogger(__name__)

BATCH = 200  # subscribers per fan-out transaction
STALE_AFTER = timedelta(days=7)  # an episode text still waiting a week later is not sent
# An earlier version's message in these statuses never reached the person.
NOT_RECEIVED = (MessageStatus.SKIPPED, MessageStatus.CANCELLED, MessageStatus.EXPIRED)


def _audit(release: SeriesRelease, actor: User | None, note: str) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="series_release",
        object_id=release.pk,
        changes=["status"],
        note=note[:200],
    )


def series_release_create(
    *, version: ContentVersion, actor: User | None, at: datetime | None = None
) -> SeriesRelease:
    """Record that an approved episode version goes to its series' subscribers (once)."""
    at = at or timezone.now()
    item = version.item
    if item.series_id is None or item.series is None:
        raise ValidationError("Only an episode of a series goes to subscribers.", field="version")
    program = item.series.program or version_program(version)
    if program is None:
        raise ValidationError(
            "The series has no consent program: there is nobody to send it to.", field="version"
        )
    if version.status != VersionStatus.APPROVED:
        raise ConflictError(f"Version {version.label} is not approved.", field="version")
    existing = SeriesRelease.objects.filter(version=version).first()
    if existing is not None:
        return existing
    release = SeriesRelease.objects.create(
        series_id=item.series_id,
        version=version,
        program=program,
        begins_at=max(version.valid_from or at, at),
        published_by=actor,
        created_at=at,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="series_release",
        object_id=release.pk,
        note=f"episode version {version.pk} to the subscribers of series {item.series_id}",
    )
    transaction.on_commit(lambda: series_release_kick(release_id=release.pk))
    return release


def series_published(event: PublishedVersion) -> None:
    """Content's published hook: an approved episode of a series with a program is released."""
    if event.series_id is None:
        return
    version = version_get(version_id=event.version_id)
    series = version.item.series
    if series is None or (series.program_id is None and version_program(version) is None):
        return
    actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
    series_release_create(version=version, actor=actor, at=event.at)


def series_retired(event: RetiredVersion) -> int:
    """Content's retired hook: a release of a withdrawn or expired episode stops fanning out
    (messaging's own hook cancels the messages still waiting)."""
    reason = f"the episode was {event.status}" + (f": {event.reason}" if event.reason else "")
    SeriesRelease.objects.filter(
        version_id=event.version_id,
        status__in=[ReleaseStatus.SCHEDULED, ReleaseStatus.RUNNING],
    ).update(status=ReleaseStatus.CANCELLED, note=reason[:300], finished_at=event.at)
    return 0  # the cancelled messages are counted by messaging's own hook


def series_release_kick(*, release_id: int) -> int:
    """Right after publishing: the first batch at once, so the publisher sees it move. A
    failure here is left to the scheduler, never to the approval that already committed."""
    try:
        return series_release_advance(release_id=release_id, max_batches=1)
    except Exception:
        logger.exception("series release %s could not start; the scheduler retries", release_id)
        return 0


def _content_problem(version: ContentVersion, at: datetime) -> str:
    availability = version_availability(version, at)
    if availability == ContentReason.ELIGIBLE:
        return ""
    return f"Version {version.label}: {REASON_TEXT[availability]}."


def _already_have(release: SeriesRelease, version: ContentVersion, ids: list[int]) -> set[int]:
    """Subscribers who got (or will get) an earlier version of the same episode: a corrected
    version approved later goes only to those who did not."""
    earlier = (
        SeriesRelease.objects.filter(version__item_id=version.item_id)
        .exclude(pk=release.pk)
        .values_list("version_id", flat=True)
    )
    have: set[int] = set()
    for version_id in earlier:
        have.update(
            trigger_messages(trigger_key=f"series:{version_id}")
            .filter(contact_id__in=ids)
            .exclude(status__in=NOT_RECEIVED)
            .values_list("contact_id", flat=True)
        )
    return have


def _fanout_batch(
    release: SeriesRelease, version: ContentVersion, ids: list[int], at: datetime
) -> FanoutReport:
    have = _already_have(release, version, ids)
    ids = [pk for pk in ids if pk not in have]
    failures = RenderFailures()
    eligible = set(
        Contact.objects.filter(pk__in=ids)
        .filter(content_eligible_q(version=version, channel=None, now=at))
        .values_list("pk", flat=True)
    )
    expiry = at + STALE_AFTER
    if version.valid_until is not None:
        expiry = min(expiry, version.valid_until)
    trigger = PersonTrigger(
        key=release.trigger_key,
        origin="series",
        program=release.program,
        channel="sms",
        step=f"episode {version.item.episode_number}",
        lane=Lane.BULK,
        expires_at=expiry,
        promotional=version.promotional,
        content_version_id=version.pk,
        eligible=lambda reach: reach.contact_id in eligible,
    )

    def renderer_for(channel: str, group: list[int]) -> Renderer:
        reach = reach_for_contacts(contact_ids=group, channel=channel)
        return content_renderer(
            version=version,
            channel=channel,
            addresses={pk: one.address for pk, one in reach.items()},
            failures=failures,
            at=at,
        )

    report = fanout_by_preference(
        trigger=trigger, contact_ids=ids, renderer_for=renderer_for, now=at
    )
    render_failures_skip(failures, at, report)
    return report


def series_release_advance(
    *,
    release_id: int,
    now: datetime | None = None,
    max_batches: int | None = None,
    deadline: float | None = None,
    batch_size: int = BATCH,
) -> int:
    """Begin the release when its time has come and fan out up to `max_batches` batches (or
    until the monotonic `deadline`); returns the batches done. The release's row lock makes
    concurrent callers take turns."""
    batches = 0
    while max_batches is None or batches < max_batches:
        if deadline is not None and batches and clock.monotonic() > deadline:
            break
        at = now or timezone.now()
        with transaction.atomic():
            release = (
                SeriesRelease.objects.select_for_update(of=("self",))
                .select_related("program")
                .filter(pk=release_id)
                .first()
            )
            if release is None:
                break
            if release.status == ReleaseStatus.SCHEDULED:
                if release.begins_at > at:
                    break
                release.status = ReleaseStatus.RUNNING
                release.started_at = at
                release.save(update_fields=["status", "started_at"])
                _audit(release, None, "started sending to subscribers")
            if release.status != ReleaseStatus.RUNNING:
                break
            version = version_get(version_id=release.version_id)
            problem = _content_problem(version, at)
            if problem:
                release.status = ReleaseStatus.CANCELLED
                release.note = problem[:300]
                release.finished_at = at
                release.save(update_fields=["status", "note", "finished_at"])
                _audit(release, None, f"stopped: {problem}")
                break
            ids = list(
                program_subscribers(program=release.program, now=at)
                .filter(pk__gt=release.cursor)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if ids:
                report = _fanout_batch(release, version, ids, at)
                release.cursor = ids[-1]
                release.planned += report.planned
                reasons = Counter(release.skip_reasons or {})
                reasons.update(report.skip_reasons)
                release.skip_reasons = dict(reasons)
            if len(ids) < batch_size:  # nobody is left to decide
                release.status = ReleaseStatus.DONE
                release.finished_at = at
                _audit(release, None, f"fanned out to {release.planned} subscribers")
            release.save(
                update_fields=["cursor", "planned", "skip_reasons", "status", "finished_at"]
            )
        batches += 1
    return batches
