"""Writes of the content library: items, versions and their review, series, program rules.

The review state machine (MLR):

    draft ──submit──► in review ──approve──► approved ──withdraw──► withdrawn
      ▲                 │   │                   │
      └──recall─────────┘   │                   └──(valid_until passes)──► expired
      └──request changes────┘

Only a draft changes; saving a version in any later state makes the item's next draft from it
(`version_save`). Approval needs the review_content capability, a review code and a validity
window, and is refused to the version's author and submitter. Submission and approval both run
`rendering.version_problems` (templates, required blocks, segment limits, the PHI guard).
Withdrawal and expiry call the hooks messaging registers (content/hooks.py) in the same
transaction, so queued messages of that version are cancelled with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from carereach.audience.models import ContactKind
from carereach.audience.selectors import specialty_codes
from carereach.consent.models import Program
from carereach.content.hooks import (
    PublishedVersion,
    RetiredVersion,
    content_published_notify,
    content_retired_notify,
)
from carereach.content.models import (
    OPEN_STATUSES,
    ContentBody,
    ContentItem,
    ContentKind,
    ContentVersion,
    PhiCategory,
    PhiTerm,
    ProgramPolicy,
    ReviewAction,
    ReviewEvent,
    Series,
    VersionStatus,
)
from carereach.content.rendering import version_phi, version_problems
from carereach.content.templating import template_check
from carereach.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability
from carereach.vocabulary import Channel

LANGUAGES = ("en", "es")


@dataclass
class BodyInput:
    channel: str
    language: str
    text: str
    subject: str = ""
    html: str = ""


@dataclass
class VersionInput:
    """Everything an author writes in a version."""

    bodies: list[BodyInput] = field(default_factory=list)
    media_url: str = ""
    promotional: bool = False
    brand_name: str = ""
    generic_name: str = ""
    serious_risks: str = ""
    safety_info_url: str = ""
    contact_kinds: list[str] = field(default_factory=list)
    specialties: list[str] = field(default_factory=list)
    pediatric: bool = False
    languages: list[str] = field(default_factory=list)
    territories: list[str] = field(default_factory=list)


VERSION_FIELDS = (
    "media_url",
    "promotional",
    "brand_name",
    "generic_name",
    "serious_risks",
    "safety_info_url",
    "contact_kinds",
    "specialties",
    "pediatric",
    "languages",
    "territories",
)


def version_input_of(version: ContentVersion) -> VersionInput:
    """A version's content as input, to start the next draft from it."""
    return VersionInput(
        bodies=[
            BodyInput(b.channel, b.language, b.text, b.subject, b.html)
            for b in version.bodies.all()
        ],
        **{name: getattr(version, name) for name in VERSION_FIELDS},
    )


def _label(actor: User | None) -> str:
    return actor.get_username() if actor is not None else "system"


def _event(
    version: ContentVersion, action: ReviewAction, actor: User | None, comments: str = ""
) -> None:
    ReviewEvent.objects.create(
        version=version,
        action=action,
        actor=actor,
        actor_label=_label(actor),
        at=timezone.now(),
        comments=comments,
    )


def _clean_url(value: str, field_name: str) -> str:
    value = value.strip()
    if value and not value.startswith(("https://", "http://")):
        raise ValidationError("Links must start with https:// (or http://).", field=field_name)
    return value


def _validated(data: VersionInput) -> VersionInput:
    """Check what an author may save at any time: known values, templates that compile."""
    if not data.bodies:
        raise ValidationError("Write at least one body (a channel in a language).", field="bodies")
    seen: set[tuple[str, str]] = set()
    for index, body in enumerate(data.bodies):
        prefix = f"bodies.{index}"
        if body.channel not in Channel.values:
            raise ValidationError(f"Unknown channel {body.channel!r}.", field=f"{prefix}.channel")
        if body.language not in LANGUAGES:
            raise ValidationError(
                f"Language must be one of {', '.join(LANGUAGES)}.", field=f"{prefix}.language"
            )
        if (body.channel, body.language) in seen:
            raise ValidationError(
                f"Two {body.channel} bodies in {body.language}.", field=f"{prefix}.channel"
            )
        seen.add((body.channel, body.language))
        if not body.text.strip():
            raise ValidationError("The body text is empty.", field=f"{prefix}.text")
        if body.channel == Channel.EMAIL and not body.subject.strip():
            raise ValidationError("An e-mail needs a subject.", field=f"{prefix}.subject")
        if body.channel != Channel.EMAIL and (body.subject or body.html):
            raise ValidationError("Only e-mail has a subject and HTML.", field=f"{prefix}.subject")
        template_check(body.text, field=f"{prefix}.text")
        template_check(body.subject, field=f"{prefix}.subject")
        template_check(body.html, html=True, field=f"{prefix}.html")
    data.media_url = _clean_url(data.media_url, "media_url")
    data.safety_info_url = _clean_url(data.safety_info_url, "safety_info_url")
    unknown_kinds = set(data.contact_kinds) - set(ContactKind.values)
    if unknown_kinds:
        raise ValidationError(
            f"Unknown contact kind {sorted(unknown_kinds)[0]!r}.", field="contact_kinds"
        )
    data.specialties = sorted({code.strip().upper() for code in data.specialties if code.strip()})
    unknown_codes = set(data.specialties) - specialty_codes()
    if unknown_codes:
        raise ValidationError(
            f"Unknown NUCC specialty code {sorted(unknown_codes)[0]}.", field="specialties"
        )
    unknown_languages = set(data.languages) - set(LANGUAGES)
    if unknown_languages:
        raise ValidationError(
            f"Unknown language {sorted(unknown_languages)[0]!r}.", field="languages"
        )
    data.territories = sorted({code.strip() for code in data.territories if code.strip()})
    return data


def _write_version(version: ContentVersion, data: VersionInput) -> None:
    for name in VERSION_FIELDS:
        setattr(version, name, getattr(data, name))
    version.updated_at = timezone.now()
    version.save()
    version.bodies.all().delete()
    ContentBody.objects.bulk_create(
        ContentBody(
            version=version,
            channel=body.channel,
            language=body.language,
            subject=body.subject.strip(),
            text=body.text,
            html=body.html,
        )
        for body in data.bodies
    )


def _check_item_fields(*, kind: str, series: Series | None, episode_number: int | None) -> None:
    if kind not in ContentKind.values:
        raise ValidationError(f"Unknown kind {kind!r}.", field="kind")
    if episode_number is not None and series is None:
        raise ValidationError("An episode number needs a series.", field="episode_number")


def _next_episode(series: Series) -> int:
    last = ContentItem.objects.filter(series=series).aggregate(last=Max("episode_number"))["last"]
    return (last or 0) + 1


@transaction.atomic
def item_create(
    *,
    code: str,
    title: str,
    kind: str,
    data: VersionInput,
    actor: User | None,
    program: Program | None = None,
    series: Series | None = None,
    episode_number: int | None = None,
) -> ContentItem:
    """A new item with its first draft version."""
    code, title = code.strip(), title.strip()
    if not code:
        raise ValidationError("An item needs a code.", field="code")
    if not title:
        raise ValidationError("An item needs a title.", field="title")
    _check_item_fields(kind=kind, series=series, episode_number=episode_number)
    if ContentItem.objects.filter(code=code).exists():
        raise ConflictError(f"An item with code {code!r} exists already.", field="code")
    data = _validated(data)
    if series is not None and episode_number is None:
        episode_number = _next_episode(series)
    if (
        series is not None
        and ContentItem.objects.filter(series=series, episode_number=episode_number).exists()
    ):
        raise ConflictError(
            f"{series.name} has an episode {episode_number} already.", field="episode_number"
        )
    now = timezone.now()
    item = ContentItem.objects.create(
        code=code,
        title=title,
        kind=kind,
        program=program,
        series=series,
        episode_number=episode_number,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    version = ContentVersion(item=item, number=1, created_by=actor, created_at=now, updated_at=now)
    _write_version(version, data)
    _event(version, ReviewAction.CREATED, actor)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="content_item",
        object_id=item.pk,
        changes=["code", "title", "kind", "program", "series"],
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["bodies", *VERSION_FIELDS],
    )
    return item


@transaction.atomic
def item_update(
    *,
    item: ContentItem,
    title: str,
    kind: str,
    actor: User | None,
    program: Program | None = None,
    series: Series | None = None,
    episode_number: int | None = None,
) -> ContentItem:
    """Title, kind, program and series of an item; the program is fixed once one was approved."""
    title = title.strip()
    if not title:
        raise ValidationError("An item needs a title.", field="title")
    _check_item_fields(kind=kind, series=series, episode_number=episode_number)
    reviewed = item.versions.exclude(reviewed_at__isnull=True).exists()
    if reviewed and program != item.program:
        raise ConflictError(
            "The program of an item with an approved version is fixed: its rules were reviewed.",
            field="program",
        )
    if series is not None and episode_number is None:
        episode_number = item.episode_number if item.series == series else _next_episode(series)
    if series is None:
        episode_number = None
    changes = [
        name
        for name, value in (
            ("title", title),
            ("kind", kind),
            ("program", program),
            ("series", series),
            ("episode_number", episode_number),
        )
        if getattr(item, name) != value
    ]
    item.title, item.kind, item.program, item.series = title, kind, program, series
    item.episode_number = episode_number
    item.updated_at = timezone.now()
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise ConflictError(
            "That series has that episode number already.", field="episode_number"
        ) from None
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_item",
        object_id=item.pk,
        changes=changes,
    )
    return item


@transaction.atomic
def version_save(
    *, version: ContentVersion, data: VersionInput, actor: User | None
) -> ContentVersion:
    """Change a draft in place; saving any locked version makes the item's next draft."""
    data = _validated(data)
    version = ContentVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == VersionStatus.DRAFT:
        _write_version(version, data)
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="content_version",
            object_id=version.pk,
            changes=["bodies", *VERSION_FIELDS],
        )
        return version
    if version.status == VersionStatus.IN_REVIEW:
        raise ConflictError(
            f"{version.label} is in review and locked: recall it to draft first, or wait for "
            "the reviewer."
        )
    open_version = ContentVersion.objects.filter(
        item_id=version.item_id, status__in=OPEN_STATUSES
    ).first()
    if open_version is not None:
        raise ConflictError(
            f"{open_version.label} is already open ({open_version.get_status_display()}); "
            "change that one."
        )
    number = (
        ContentVersion.objects.filter(item_id=version.item_id).aggregate(last=Max("number"))["last"]
        or 0
    ) + 1
    now = timezone.now()
    draft = ContentVersion(
        item_id=version.item_id,
        number=number,
        based_on=version,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _write_version(draft, data)
    _event(draft, ReviewAction.CREATED, actor, comments=f"from {version.label}")
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="content_version",
        object_id=draft.pk,
        changes=["bodies", *VERSION_FIELDS],
        note=f"new draft from {version.label}",
    )
    return draft


def _status(version: ContentVersion) -> str:
    return version.get_status_display().lower()


def _locked(version: ContentVersion) -> ContentVersion:
    return (
        ContentVersion.objects.select_for_update(of=("self",))
        .select_related("item", "item__program", "item__series")
        .get(pk=version.pk)
    )


def _raise_problems(version: ContentVersion) -> None:
    problems = version_problems(version)
    if problems:
        first = problems[0]
        error = first.error()
        if len(problems) > 1:
            error.message = " ".join(problem.message for problem in problems)
        raise error


@transaction.atomic
def version_submit(*, version: ContentVersion, actor: User | None) -> ContentVersion:
    """Send a draft to review; it is checked as approval will check it, then locked."""
    version = _locked(version)
    if version.status != VersionStatus.DRAFT:
        raise ConflictError(
            f"Only a draft can be submitted; {version.label} is {_status(version)}."
        )
    _raise_problems(version)
    version.status = VersionStatus.IN_REVIEW
    version.submitted_by = actor
    version.submitted_at = timezone.now()
    version.save(update_fields=["status", "submitted_by", "submitted_at"])
    _event(version, ReviewAction.SUBMITTED, actor)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["status"],
        note="submitted for review",
    )
    return version


@transaction.atomic
def version_recall(*, version: ContentVersion, actor: User | None) -> ContentVersion:
    """The author takes a version back from review, to change it."""
    version = _locked(version)
    if version.status != VersionStatus.IN_REVIEW:
        raise ConflictError(f"{version.label} is not in review.")
    version.status = VersionStatus.DRAFT
    version.save(update_fields=["status"])
    _event(version, ReviewAction.RECALLED, actor)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["status"],
        note="recalled to draft",
    )
    return version


def _require_reviewer(actor: User | None, version: ContentVersion) -> User:
    if actor is None or not has_capability(actor, Capability.REVIEW_CONTENT):
        raise PermissionDeniedError("Only a compliance reviewer may review content.")
    if actor.pk in {version.created_by_id, version.submitted_by_id}:
        raise PermissionDeniedError(
            "You wrote or submitted this version; another reviewer must review it."
        )
    return actor


@transaction.atomic
def version_request_changes(
    *, version: ContentVersion, actor: User | None, comments: str
) -> ContentVersion:
    """The reviewer sends a version back to draft, saying what to change."""
    version = _locked(version)
    if version.status != VersionStatus.IN_REVIEW:
        raise ConflictError(f"{version.label} is not in review.")
    reviewer = _require_reviewer(actor, version)
    if not comments.strip():
        raise ValidationError("Say what needs to change.", field="comments")
    version.status = VersionStatus.DRAFT
    version.review_comments = comments.strip()
    version.save(update_fields=["status", "review_comments"])
    _event(version, ReviewAction.CHANGES_REQUESTED, reviewer, comments.strip())
    audit_record(
        actor=reviewer,
        action=AuditAction.UPDATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["status", "review_comments"],
        note="changes requested",
    )
    return version


@dataclass(frozen=True)
class Retirement:
    version: ContentVersion
    cancelled: int  # messages the registered hooks cancelled


def _retire(
    version: ContentVersion, *, status: VersionStatus, actor: User | None, reason: str
) -> Retirement:
    now = timezone.now()
    version.status = status
    version.retired_at = now
    version.retired_by = actor
    version.retired_reason = reason[:300]
    version.save(update_fields=["status", "retired_at", "retired_by", "retired_reason"])
    action = ReviewAction.WITHDRAWN if status == VersionStatus.WITHDRAWN else ReviewAction.EXPIRED
    _event(version, action, actor, reason)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["status", "retired_at"],
        note=f"{status}: {reason}"[:200],
    )
    cancelled = content_retired_notify(
        RetiredVersion(
            version_id=version.pk, item_id=version.item_id, status=status, at=now, reason=reason
        )
    )
    return Retirement(version, cancelled)


@transaction.atomic
def version_approve(
    *,
    version: ContentVersion,
    actor: User | None,
    review_code: str,
    valid_from: datetime,
    valid_until: datetime,
    comments: str = "",
    supersede: bool = True,
) -> ContentVersion:
    """Approve a version in review for its window; with `supersede`, withdraw older approvals."""
    version = _locked(version)
    if version.status != VersionStatus.IN_REVIEW:
        raise ConflictError(
            f"Only a version in review can be approved; {version.label} is {_status(version)}."
        )
    reviewer = _require_reviewer(actor, version)
    review_code = review_code.strip()
    if not review_code:
        raise ValidationError("Give the review code (the MLR job number).", field="review_code")
    if valid_until <= valid_from:
        raise ValidationError("The validity window ends before it starts.", field="valid_until")
    if valid_until <= timezone.now():
        raise ValidationError("The validity window has already ended.", field="valid_until")
    _raise_problems(version)
    phi = version_phi(version)
    version.phi_channels = sorted({where.split("/")[0] for where in phi})
    now = timezone.now()
    version.status = VersionStatus.APPROVED
    version.reviewer = reviewer
    version.review_code = review_code
    version.review_comments = comments.strip()
    version.reviewed_at = now
    version.valid_from = valid_from
    version.valid_until = valid_until
    version.save()
    _event(version, ReviewAction.APPROVED, reviewer, comments.strip())
    audit_record(
        actor=reviewer,
        action=AuditAction.UPDATE,
        object_type="content_version",
        object_id=version.pk,
        changes=["status", "reviewer", "review_code", "valid_from", "valid_until"],
        note=f"approved {review_code}"[:200],
    )
    if supersede:
        older = (
            ContentVersion.objects.select_for_update()
            .filter(item_id=version.item_id, status=VersionStatus.APPROVED)
            .exclude(pk=version.pk)
        )
        for previous in older:
            _retire(
                previous,
                status=VersionStatus.WITHDRAWN,
                actor=reviewer,
                reason=f"superseded by {version.label}",
            )
    content_published_notify(
        PublishedVersion(
            version_id=version.pk,
            item_id=version.item_id,
            series_id=version.item.series_id,
            valid_from=valid_from,
            at=now,
            actor_id=reviewer.pk,
        )
    )
    return version


@transaction.atomic
def version_withdraw(*, version: ContentVersion, actor: User | None, reason: str) -> Retirement:
    """Pull an approved version: queued messages are cancelled, its links stop working."""
    version = _locked(version)
    if actor is None or not has_capability(actor, Capability.REVIEW_CONTENT):
        raise PermissionDeniedError("Only a compliance reviewer may withdraw content.")
    if version.status != VersionStatus.APPROVED:
        raise ConflictError(
            f"Only an approved version can be withdrawn; {version.label} is {_status(version)}."
        )
    if not reason.strip():
        raise ValidationError("Say why it is withdrawn.", field="reason")
    return _retire(version, status=VersionStatus.WITHDRAWN, actor=actor, reason=reason.strip())


def versions_expire_due(*, now: datetime | None = None) -> list[Retirement]:
    """Expire every approved version whose window has ended; the scheduler calls it each tick."""
    now = now or timezone.now()
    done: list[Retirement] = []
    due = ContentVersion.objects.filter(
        status=VersionStatus.APPROVED, valid_until__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            version = (
                ContentVersion.objects.select_for_update()
                .filter(pk=pk, status=VersionStatus.APPROVED)
                .first()
            )
            if version is None:
                continue
            done.append(
                _retire(
                    version,
                    status=VersionStatus.EXPIRED,
                    actor=None,
                    reason="validity window ended",
                )
            )
    return done


# -- series ------------------------------------------------------------------------------------


@transaction.atomic
def series_save(
    *,
    code: str,
    name: str,
    actor: User | None,
    description: str = "",
    program: Program | None = None,
    series: Series | None = None,
) -> Series:
    code, name = code.strip(), name.strip()
    if not code:
        raise ValidationError("A series needs a code.", field="code")
    if not name:
        raise ValidationError("A series needs a name.", field="name")
    clash = Series.objects.filter(code=code)
    if series is not None:
        clash = clash.exclude(pk=series.pk)
    if clash.exists():
        raise ConflictError(f"A series with code {code!r} exists already.", field="code")
    now = timezone.now()
    created = series is None
    if series is None:
        series = Series(created_at=now)
    series.code, series.name, series.description, series.program = (
        code,
        name,
        description.strip(),
        program,
    )
    series.updated_at = now
    series.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        object_type="content_series",
        object_id=series.pk,
        changes=["code", "name", "description", "program"],
    )
    return series


@transaction.atomic
def series_reorder(
    *, series: Series, item_ids: Iterable[int], actor: User | None
) -> list[ContentItem]:
    """Number the series' episodes 1, 2, 3… in the order given (every episode, once)."""
    wanted = list(item_ids)
    episodes = {
        item.pk: item for item in ContentItem.objects.select_for_update().filter(series=series)
    }
    if sorted(wanted) != sorted(episodes):
        raise ValidationError("List every episode of the series exactly once.", field="items")
    # Two passes keep (series, episode_number) unique at every step.
    offset = len(wanted) + max((item.episode_number or 0 for item in episodes.values()), default=0)
    for position, pk in enumerate(wanted, start=1):
        ContentItem.objects.filter(pk=pk).update(episode_number=offset + position)
    for position, pk in enumerate(wanted, start=1):
        ContentItem.objects.filter(pk=pk).update(episode_number=position)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_series",
        object_id=series.pk,
        changes=["episode_order"],
    )
    return list(ContentItem.objects.filter(series=series).order_by("episode_number"))


# -- program rules and the PHI term list --------------------------------------------------------


@transaction.atomic
def policy_save(
    *,
    program: Program,
    actor: User | None,
    sms_footer_required: bool,
    sms_segment_limit: int,
    postal_address: str,
    phi_to_accepted_channels: bool,
) -> ProgramPolicy:
    if not 1 <= sms_segment_limit <= 10:
        raise ValidationError(
            "The segment limit must be between 1 and 10.", field="sms_segment_limit"
        )
    policy, _ = ProgramPolicy.objects.update_or_create(
        program=program,
        defaults={
            "sms_footer_required": sms_footer_required,
            "sms_segment_limit": sms_segment_limit,
            "postal_address": postal_address.strip(),
            "phi_to_accepted_channels": phi_to_accepted_channels,
            "updated_at": timezone.now(),
        },
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="content_policy",
        object_id=policy.pk,
        changes=[
            "sms_footer_required",
            "sms_segment_limit",
            "postal_address",
            "phi_to_accepted_channels",
        ],
    )
    return policy


@transaction.atomic
def phi_term_add(*, term: str, category: str, actor: User | None) -> PhiTerm:
    term = " ".join(term.split())
    if not term:
        raise ValidationError("Give the word to look for.", field="term")
    if category not in PhiCategory.values:
        raise ValidationError(
            f"Category must be one of {', '.join(PhiCategory.values)}.", field="category"
        )
    if PhiTerm.objects.filter(term__iexact=term).exists():
        raise ConflictError(f"{term!r} is on the list already.", field="term")
    phi_term = PhiTerm.objects.create(term=term, category=category, created_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="phi_term",
        object_id=phi_term.pk,
        changes=["term", "category"],
    )
    return phi_term


@transaction.atomic
def phi_term_remove(*, term_id: int, actor: User | None) -> None:
    phi_term = PhiTerm.objects.filter(pk=term_id).first()
    if phi_term is None:
        raise NotFoundError("No such term.")
    phi_term.delete()
    audit_record(actor=actor, action=AuditAction.DELETE, object_type="phi_term", object_id=term_id)
