"""REST API of the content library: items and versions, review, diff, preview, SMS counts,
series, program content rules, the PHI term list, and eligibility checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from carereach.audience.selectors import contact_get_for_user
from carereach.consent.models import Program
from carereach.consent.selectors import program_get
from carereach.content.diffing import version_diff
from carereach.content.eligibility import content_eligibility
from carereach.content.encoding import analyze, gsm_replace
from carereach.content.models import ContentItem, ContentVersion, Series
from carereach.content.rendering import content_preview
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import (
    item_get,
    item_versions,
    items_for_library,
    phi_terms_all,
    policy_for,
    series_all,
    series_episodes,
    series_get,
    version_get,
    version_text,
    versions_in_review,
)
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    phi_term_add,
    phi_term_remove,
    policy_save,
    series_reorder,
    series_save,
    version_approve,
    version_recall,
    version_request_changes,
    version_save,
    version_submit,
    version_withdraw,
)
from carereach.errors import NotFoundError, ValidationError
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["content"])


class BodySchema(Schema):
    channel: str
    language: str
    text: str
    subject: str = ""
    html: str = ""


class VersionIn(Schema):
    bodies: list[BodySchema]
    media_url: str = ""
    promotional: bool = False
    brand_name: str = ""
    generic_name: str = ""
    serious_risks: str = ""
    safety_info_url: str = ""
    contact_kinds: list[str] = []
    specialties: list[str] = []
    pediatric: bool = False
    languages: list[str] = []
    territories: list[str] = []

    def to_input(self) -> VersionInput:
        data = self.dict()
        data["bodies"] = [BodyInput(**body) for body in data["bodies"]]
        return VersionInput(**data)


class VersionOut(VersionIn):
    id: int
    item_id: int
    number: int
    status: str
    based_on_id: int | None
    created_by: str | None
    created_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    reviewer: str | None
    review_code: str
    review_comments: str
    reviewed_at: datetime | None
    valid_from: datetime | None
    valid_until: datetime | None
    retired_at: datetime | None
    retired_reason: str
    phi_channels: list[str]


class ItemIn(Schema):
    code: str
    title: str
    kind: str
    program: str | None = None  # program code
    series: str | None = None  # series code
    episode_number: int | None = None
    version: VersionIn


class ItemOut(Schema):
    id: int
    code: str
    title: str
    kind: str
    program: str | None
    series: str | None
    episode_number: int | None
    versions: list[VersionOut]


class ItemSummary(Schema):
    id: int
    code: str
    title: str
    kind: str
    program: str | None
    series: str | None
    episode_number: int | None
    latest_version: int | None
    latest_status: str | None


class ApproveIn(Schema):
    review_code: str
    valid_from: datetime
    valid_until: datetime
    comments: str = ""
    supersede: bool = True


class CommentsIn(Schema):
    comments: str


class WithdrawIn(Schema):
    reason: str


class WithdrawOut(Schema):
    version: VersionOut
    cancelled: int


class DiffRowOut(Schema):
    kind: str
    left_number: int | None
    left: str
    right_number: int | None
    right: str


class DiffSectionOut(Schema):
    title: str
    changed: bool
    rows: list[DiffRowOut]


class PreviewIn(Schema):
    channel: str
    language: str
    recipient: str = "hcp"  # a sample: hcp, patient, caregiver
    values: dict[str, str] = {}  # or your own field values


class PreviewOut(Schema):
    channel: str
    language: str
    subject: str
    text: str
    html: str
    links: list[str]
    sms: dict[str, Any] | None


class TextIn(Schema):
    text: str


class SmsInfoOut(Schema):
    analysis: dict[str, Any]
    replaced_text: str
    replaced: dict[str, Any]


class SeriesIn(Schema):
    code: str
    name: str
    description: str = ""
    program: str | None = None


class SeriesOut(Schema):
    id: int
    code: str
    name: str
    description: str
    program: str | None
    episodes: list[ItemSummary]


class OrderIn(Schema):
    items: list[int]


class RulesIn(Schema):
    sms_footer_required: bool
    sms_segment_limit: int
    postal_address: str = ""
    phi_to_accepted_channels: bool = False


class RulesOut(RulesIn):
    program: str
    saved: bool


class PhiTermIn(Schema):
    term: str
    category: str


class PhiTermOut(PhiTermIn):
    id: int


class EligibilityIn(Schema):
    contact_id: int
    channel: str | None = None
    language: str | None = None


class EligibilityOut(Schema):
    eligible: bool
    reason: str
    message: str


def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _version_out(version: ContentVersion) -> VersionOut:
    return VersionOut(
        id=version.pk,
        item_id=version.item_id,
        number=version.number,
        status=version.status,
        based_on_id=version.based_on_id,
        bodies=[
            BodySchema(
                channel=b.channel, language=b.language, text=b.text, subject=b.subject, html=b.html
            )
            for b in version.bodies.all()
        ],
        media_url=version.media_url,
        promotional=version.promotional,
        brand_name=version.brand_name,
        generic_name=version.generic_name,
        serious_risks=version.serious_risks,
        safety_info_url=version.safety_info_url,
        contact_kinds=version.contact_kinds,
        specialties=version.specialties,
        pediatric=version.pediatric,
        languages=version.languages,
        territories=version.territories,
        created_by=_name(version.created_by),
        created_at=version.created_at,
        submitted_by=_name(version.submitted_by),
        submitted_at=version.submitted_at,
        reviewer=_name(version.reviewer),
        review_code=version.review_code,
        review_comments=version.review_comments,
        reviewed_at=version.reviewed_at,
        valid_from=version.valid_from,
        valid_until=version.valid_until,
        retired_at=version.retired_at,
        retired_reason=version.retired_reason,
        phi_channels=version.phi_channels,
    )


def _summary(item: ContentItem) -> ItemSummary:
    versions = list(item.versions.all())
    latest = max(versions, key=lambda v: v.number) if versions else None
    return ItemSummary(
        id=item.pk,
        code=item.code,
        title=item.title,
        kind=item.kind,
        program=item.program.code if item.program else None,
        series=item.series.code if item.series else None,
        episode_number=item.episode_number,
        latest_version=latest.number if latest else None,
        latest_status=latest.status if latest else None,
    )


def _item_out(item: ContentItem) -> ItemOut:
    return ItemOut(
        id=item.pk,
        code=item.code,
        title=item.title,
        kind=item.kind,
        program=item.program.code if item.program else None,
        series=item.series.code if item.series else None,
        episode_number=item.episode_number,
        versions=[_version_out(v) for v in item_versions(item=item)],
    )


def _program(code: str | None) -> Program | None:
    if not code:
        return None
    program = program_get(code=code)
    if program is None:
        raise ValidationError(f"Unknown program {code!r}.", field="program")
    return program


def _series(code: str | None) -> Series | None:
    if not code:
        return None
    series = Series.objects.filter(code=code).first()
    if series is None:
        raise ValidationError(f"Unknown series {code!r}.", field="series")
    return series


def _version(version_id: int) -> ContentVersion:
    return version_get(version_id=version_id)


@router.get("/content/items", response=list[ItemSummary], auth=requires(Capability.AUTHOR_CONTENT))
def list_items(
    request: HttpRequest, q: str = "", status: str = "", kind: str = ""
) -> list[ItemSummary]:
    return [_summary(item) for item in items_for_library(text=q, status=status, kind=kind)[:500]]


@router.post("/content/items", response={201: ItemOut}, auth=requires(Capability.AUTHOR_CONTENT))
def create_item(request: HttpRequest, payload: ItemIn) -> Status[ItemOut]:
    """A new item with its first draft version."""
    item = item_create(
        code=payload.code,
        title=payload.title,
        kind=payload.kind,
        program=_program(payload.program),
        series=_series(payload.series),
        episode_number=payload.episode_number,
        data=payload.version.to_input(),
        actor=acting_user(request),
    )
    return Status(201, _item_out(item))


@router.get("/content/items/{item_id}", response=ItemOut, auth=requires(Capability.AUTHOR_CONTENT))
def get_item(request: HttpRequest, item_id: int) -> ItemOut:
    return _item_out(item_get(item_id=item_id))


@router.get(
    "/content/items/{item_id}/diff",
    response=list[DiffSectionOut],
    auth=requires(Capability.AUTHOR_CONTENT),
)
def diff_versions(request: HttpRequest, item_id: int, a: int, b: int) -> list[DiffSectionOut]:
    """Two versions of the item side by side: rows of (left line, right line, kind)."""
    item = item_get(item_id=item_id)
    versions = {v.pk: v for v in item_versions(item=item)}
    if a not in versions or b not in versions:
        raise NotFoundError("Both versions must belong to the item.")
    sections = version_diff(version_text(versions[a]), version_text(versions[b]))
    return [
        DiffSectionOut(
            title=s.title,
            changed=s.changed,
            rows=[DiffRowOut(**row.__dict__) for row in s.rows],
        )
        for s in sections
    ]


@router.get(
    "/content/versions/{version_id}", response=VersionOut, auth=requires(Capability.AUTHOR_CONTENT)
)
def get_version(request: HttpRequest, version_id: int) -> VersionOut:
    return _version_out(_version(version_id))


@router.put(
    "/content/versions/{version_id}", response=VersionOut, auth=requires(Capability.AUTHOR_CONTENT)
)
def save_version(request: HttpRequest, version_id: int, payload: VersionIn) -> VersionOut:
    """Change a draft; for an approved (or retired) version this makes the next draft."""
    version = version_save(
        version=_version(version_id), data=payload.to_input(), actor=acting_user(request)
    )
    return _version_out(version_get(version_id=version.pk))


@router.post(
    "/content/versions/{version_id}/submit",
    response=VersionOut,
    auth=requires(Capability.AUTHOR_CONTENT),
)
def submit_version(request: HttpRequest, version_id: int) -> VersionOut:
    version = version_submit(version=_version(version_id), actor=acting_user(request))
    return _version_out(version_get(version_id=version.pk))


@router.post(
    "/content/versions/{version_id}/recall",
    response=VersionOut,
    auth=requires(Capability.AUTHOR_CONTENT),
)
def recall_version(request: HttpRequest, version_id: int) -> VersionOut:
    version = version_recall(version=_version(version_id), actor=acting_user(request))
    return _version_out(version_get(version_id=version.pk))


@router.post(
    "/content/versions/{version_id}/preview",
    response=PreviewOut,
    auth=requires(Capability.AUTHOR_CONTENT),
)
def preview_version(request: HttpRequest, version_id: int, payload: PreviewIn) -> PreviewOut:
    """The version rendered for a sample recipient (nothing is stored; links are placeholders)."""
    sample = dict(SAMPLE_RECIPIENTS.get(payload.recipient, SAMPLE_RECIPIENTS["hcp"]))
    sample.pop("label")
    rendered = content_preview(
        version=_version(version_id),
        channel=payload.channel,
        language=payload.language,
        values={**sample, **payload.values},
    )
    return PreviewOut(
        channel=rendered.channel,
        language=rendered.language,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        links=[link.url for link in rendered.links],
        sms=rendered.sms.as_dict() if rendered.sms else None,
    )


@router.get("/content/review", response=list[VersionOut], auth=requires(Capability.REVIEW_CONTENT))
def review_queue(request: HttpRequest) -> list[VersionOut]:
    """Versions waiting for review, oldest submission first."""
    return [_version_out(version_get(version_id=v.pk)) for v in versions_in_review()]


@router.post(
    "/content/versions/{version_id}/approve",
    response=VersionOut,
    auth=requires(Capability.REVIEW_CONTENT),
)
def approve_version(request: HttpRequest, version_id: int, payload: ApproveIn) -> VersionOut:
    version = version_approve(
        version=_version(version_id),
        actor=acting_user(request),
        review_code=payload.review_code,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        comments=payload.comments,
        supersede=payload.supersede,
    )
    return _version_out(version_get(version_id=version.pk))


@router.post(
    "/content/versions/{version_id}/request-changes",
    response=VersionOut,
    auth=requires(Capability.REVIEW_CONTENT),
)
def request_changes(request: HttpRequest, version_id: int, payload: CommentsIn) -> VersionOut:
    version = version_request_changes(
        version=_version(version_id), actor=acting_user(request), comments=payload.comments
    )
    return _version_out(version_get(version_id=version.pk))


@router.post(
    "/content/versions/{version_id}/withdraw",
    response=WithdrawOut,
    auth=requires(Capability.REVIEW_CONTENT),
)
def withdraw_version(request: HttpRequest, version_id: int, payload: WithdrawIn) -> WithdrawOut:
    """Withdraw an approved version: queued messages are cancelled, its links stop working."""
    retirement = version_withdraw(
        version=_version(version_id), actor=acting_user(request), reason=payload.reason
    )
    return WithdrawOut(
        version=_version_out(version_get(version_id=retirement.version.pk)),
        cancelled=retirement.cancelled,
    )


@router.post(
    "/content/versions/{version_id}/eligibility",
    response=EligibilityOut,
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def check_eligibility(
    request: HttpRequest, version_id: int, payload: EligibilityIn
) -> EligibilityOut:
    """May this version go to this contact now (on this channel), and if not, why."""
    contact = contact_get_for_user(user=acting_user(request), contact_id=payload.contact_id)
    result = content_eligibility(
        version=_version(version_id),
        contact=contact,
        channel=payload.channel,
        language=payload.language,
    )
    return EligibilityOut(eligible=result.eligible, reason=result.reason, message=result.message)


@router.post("/content/sms-info", response=SmsInfoOut, auth=requires(Capability.AUTHOR_CONTENT))
def sms_info(request: HttpRequest, payload: TextIn) -> SmsInfoOut:
    """Encoding, segments, units and the characters forcing UCS-2; and the text with GSM-7
    look-alikes swapped in."""
    replaced = gsm_replace(payload.text)
    return SmsInfoOut(
        analysis=analyze(payload.text).as_dict(),
        replaced_text=replaced,
        replaced=analyze(replaced).as_dict(),
    )


def _series_out(series: Series) -> SeriesOut:
    return SeriesOut(
        id=series.pk,
        code=series.code,
        name=series.name,
        description=series.description,
        program=series.program.code if series.program else None,
        episodes=[_summary(item) for item in series_episodes(series=series)],
    )


@router.get("/content/series", response=list[SeriesOut], auth=requires(Capability.AUTHOR_CONTENT))
def list_series(request: HttpRequest) -> list[SeriesOut]:
    return [_series_out(series) for series in series_all()]


@router.post("/content/series", response={201: SeriesOut}, auth=requires(Capability.AUTHOR_CONTENT))
def create_series(request: HttpRequest, payload: SeriesIn) -> Status[SeriesOut]:
    series = series_save(
        code=payload.code,
        name=payload.name,
        description=payload.description,
        program=_program(payload.program),
        actor=acting_user(request),
    )
    return Status(201, _series_out(series))


@router.put(
    "/content/series/{series_id}/order",
    response=SeriesOut,
    auth=requires(Capability.AUTHOR_CONTENT),
)
def order_series(request: HttpRequest, series_id: int, payload: OrderIn) -> SeriesOut:
    """Number the episodes 1, 2, 3… in the order of `items` (every episode's id, once)."""
    series = series_get(series_id=series_id)
    series_reorder(series=series, item_ids=payload.items, actor=acting_user(request))
    return _series_out(series)


def _rules_out(program: Program) -> RulesOut:
    policy = policy_for(program)
    return RulesOut(
        program=program.code,
        saved=policy.saved,
        sms_footer_required=policy.sms_footer_required,
        sms_segment_limit=policy.sms_segment_limit,
        postal_address=policy.postal_address,
        phi_to_accepted_channels=policy.phi_to_accepted_channels,
    )


def _program_or_404(code: str) -> Program:
    program = program_get(code=code)
    if program is None:
        raise NotFoundError("No such program.")
    return program


@router.get(
    "/content/programs/{code}/rules",
    response=RulesOut,
    auth=requires(Capability.MANAGE_PROGRAMS),
)
def get_rules(request: HttpRequest, code: str) -> RulesOut:
    return _rules_out(_program_or_404(code))


@router.put(
    "/content/programs/{code}/rules",
    response=RulesOut,
    auth=requires(Capability.MANAGE_PROGRAMS),
)
def put_rules(request: HttpRequest, code: str, payload: RulesIn) -> RulesOut:
    program = _program_or_404(code)
    policy_save(program=program, actor=acting_user(request), **payload.dict())
    return _rules_out(program)


@router.get(
    "/content/phi-terms", response=list[PhiTermOut], auth=requires(Capability.REVIEW_CONTENT)
)
def list_phi_terms(request: HttpRequest) -> list[PhiTermOut]:
    return [PhiTermOut(id=t.pk, term=t.term, category=t.category) for t in phi_terms_all()]


@router.post(
    "/content/phi-terms", response={201: PhiTermOut}, auth=requires(Capability.REVIEW_CONTENT)
)
def add_phi_term(request: HttpRequest, payload: PhiTermIn) -> Status[PhiTermOut]:
    term = phi_term_add(term=payload.term, category=payload.category, actor=acting_user(request))
    return Status(201, PhiTermOut(id=term.pk, term=term.term, category=term.category))


@router.delete(
    "/content/phi-terms/{term_id}", response={204: None}, auth=requires(Capability.REVIEW_CONTENT)
)
def remove_phi_term(request: HttpRequest, term_id: int) -> Status[None]:
    phi_term_remove(term_id=term_id, actor=acting_user(request))
    return Status(204, None)
