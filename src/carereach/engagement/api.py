"""REST API of engagement: series releases and their progress, logged visits and calls with
their follow-ups, result-ready notices, surveys and their results.

| operation | capability |
|---|---|
| `GET /series/{id}/releases`, `POST /series/releases` `{"version"}` | `run_campaigns` |
| `GET /contacts/{id}/interactions`, `POST /interactions` | `use_inbox` (reps: own territory) |
| `POST /result-notices` | `view_phi` |
| `GET /surveys`, `POST /surveys`, `POST /surveys/{id}/send` | `run_campaigns` |
| `GET /surveys/{id}/results` | `view_analytics` |
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from carereach.consent.models import Program
from carereach.consent.selectors import program_get
from carereach.content.models import ContentVersion
from carereach.content.selectors import series_get, version_get
from carereach.engagement.models import Interaction, SeriesRelease, Survey
from carereach.engagement.selectors import (
    interactions_for_contact,
    release_progress,
    series_releases,
    series_subscriber_count,
    survey_get,
    survey_results,
    surveys_all,
)
from carereach.engagement.services.followups import InteractionInput, interaction_log
from carereach.engagement.services.results import result_notice_send
from carereach.engagement.services.series import series_release_create, series_release_kick
from carereach.engagement.services.surveys import SurveyInput, survey_create, survey_send
from carereach.errors import NotFoundError, ValidationError
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["engagement"])


def _program(code: str | None, field: str = "program") -> Program | None:
    if not code:
        return None
    program = program_get(code=code)
    if program is None:
        raise ValidationError(f"No program {code!r}.", field=field)
    return program


def _version(version_id: int | None, field: str) -> ContentVersion | None:
    if version_id is None:
        return None
    try:
        return version_get(version_id=version_id)
    except NotFoundError:
        raise ValidationError(f"No content version {version_id}.", field=field) from None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a time without an offset is taken as UTC
    return value


# -- series ------------------------------------------------------------------------------------


class ReleaseOut(Schema):
    id: int
    series: int
    version: int
    episode: str
    status: str
    begins_at: datetime
    planned: int
    skip_reasons: dict[str, int]
    progress: dict[str, int]
    note: str


class ReleasesOut(Schema):
    subscribers: int
    releases: list[ReleaseOut]


class ReleaseIn(Schema):
    version: int = Field(description="An approved version of an episode of a series")


def _release_out(release: SeriesRelease) -> ReleaseOut:
    return ReleaseOut(
        id=release.pk,
        series=release.series_id,
        version=release.version_id,
        episode=release.version.item.title,
        status=release.status,
        begins_at=release.begins_at,
        planned=release.planned,
        skip_reasons=dict(release.skip_reasons or {}),
        progress=release_progress(release=release).as_dict(),
        note=release.note,
    )


@router.get(
    "/series/{series_id}/releases",
    response=ReleasesOut,
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def list_releases(request: HttpRequest, series_id: int) -> ReleasesOut:
    """The series' subscriber count and each published episode's progress (from the outbox)."""
    series = series_get(series_id=series_id)
    return ReleasesOut(
        subscribers=series_subscriber_count(series=series),
        releases=[_release_out(r) for r in series_releases(series=series)],
    )


@router.post(
    "/series/releases", response={201: ReleaseOut}, auth=requires(Capability.RUN_CAMPAIGNS)
)
def create_release(request: HttpRequest, payload: ReleaseIn) -> Status[ReleaseOut]:
    """Send an episode approved before subscriptions existed (publishing does it by itself);
    the same version twice returns the first release."""
    version = version_get(version_id=payload.version)
    release = series_release_create(version=version, actor=acting_user(request))
    series_release_kick(release_id=release.pk)
    release.refresh_from_db()
    return Status(201, _release_out(release))


# -- visits, calls and follow-ups ----------------------------------------------------------------


class InteractionIn(Schema):
    contact: int
    kind: str = Field(description="visit or call")
    occurred_at: datetime | None = None
    notes: str = ""
    program: str | None = Field(None, description="Consent program code (default: the content's)")
    follow_up: int | None = Field(None, description="An approved content version for this HCP")
    channel: str = Field("", description="sms, email or voice; empty: the HCP's preferred")
    notify_by_text: bool = False
    meeting_at: datetime | None = None
    meeting_link: str = ""


class InteractionOut(Schema):
    id: int
    contact: int
    kind: str
    rep: str
    occurred_at: datetime
    follow_up: int | None
    meeting_at: datetime | None
    meeting_link: str
    meeting_status: str
    sent: dict[str, str] = {}


def _interaction_out(
    interaction: Interaction, sent: dict[str, str] | None = None
) -> InteractionOut:
    return InteractionOut(
        id=interaction.pk,
        contact=interaction.contact_id,
        kind=interaction.kind,
        rep=interaction.rep_name,
        occurred_at=interaction.occurred_at,
        follow_up=interaction.follow_up_id,
        meeting_at=interaction.meeting_at,
        meeting_link=interaction.meeting_link,
        meeting_status=interaction.meeting_status,
        sent=sent or {},
    )


@router.post("/interactions", response={201: InteractionOut}, auth=requires(Capability.USE_INBOX))
def log_interaction(request: HttpRequest, payload: InteractionIn) -> Status[InteractionOut]:
    """Log a visit or call with an HCP of your territory; its follow-up goes under your name."""
    logged = interaction_log(
        actor=acting_user(request),
        data=InteractionInput(
            contact_id=payload.contact,
            kind=payload.kind,
            occurred_at=_aware(payload.occurred_at),
            notes=payload.notes,
            program=_program(payload.program),
            follow_up=_version(payload.follow_up, "follow_up"),
            channel=payload.channel,
            notify_by_text=payload.notify_by_text,
            meeting_at=_aware(payload.meeting_at),
            meeting_link=payload.meeting_link,
        ),
    )
    return Status(201, _interaction_out(logged.interaction, logged.sent))


@router.get(
    "/contacts/{contact_id}/interactions",
    response=list[InteractionOut],
    auth=requires(Capability.USE_INBOX),
)
def list_interactions(request: HttpRequest, contact_id: int) -> list[InteractionOut]:
    rows = interactions_for_contact(user=acting_user(request), contact_id=contact_id)
    return [_interaction_out(i) for i in rows[:200]]


# -- result-ready notices ------------------------------------------------------------------------


class ResultNoticeIn(Schema):
    contact: int = Field(description="The patient's contact id")
    program: str = Field(description="A transactional or healthcare-exempt program's code")
    portal_url: str = Field(description="https link to the portal; no query string")
    reference: str = Field(description="The lab order's reference: the same one twice sends once")


class ResultNoticeOut(Schema):
    key: str
    message: int | None
    status: str
    channel: str
    reasons: list[dict[str, str]]
    created: bool


@router.post(
    "/result-notices", response={201: ResultNoticeOut, 200: ResultNoticeOut},
    auth=requires(Capability.VIEW_PHI),
)  # fmt: skip
def send_result_notice(request: HttpRequest, payload: ResultNoticeIn) -> Status[ResultNoticeOut]:
    """Tell a patient their results are ready in the portal: no test, no value, only the link.
    201 when a message was decided now (sent, held or skipped: see `status` and `reasons`),
    200 when this reference was asked for before."""
    program = _program(payload.program)
    if program is None:
        raise ValidationError("Name the program.", field="program")
    notice = result_notice_send(
        actor=acting_user(request),
        contact_id=payload.contact,
        program=program,
        portal_url=payload.portal_url,
        reference=payload.reference,
    )
    out = ResultNoticeOut(
        key=notice.key,
        message=notice.message_id,
        status=notice.status,
        channel=notice.channel,
        reasons=notice.reasons,
        created=notice.created,
    )
    return Status(201 if notice.created else 200, out)


# -- surveys -----------------------------------------------------------------------------------


class SurveyIn(Schema):
    code: str
    name: str
    kind: str = Field(description="nps (0-10) or csat (1-5)")
    program: str
    question: str
    follow_up: str = ""


class SurveyOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    program: str
    question: str
    follow_up: str


class SendIn(Schema):
    query: str = Field(description='A segment query, e.g. kind = hcp and state = "CA"')


class SendOut(Schema):
    planned: int
    queued: int
    held: int
    skipped: int
    existing: int
    skip_reasons: dict[str, int]


def _survey_out(survey: Survey) -> SurveyOut:
    return SurveyOut(
        id=survey.pk,
        code=survey.code,
        name=survey.name,
        kind=survey.kind,
        program=survey.program.code,
        question=survey.question,
        follow_up=survey.follow_up,
    )


@router.get("/surveys", response=list[SurveyOut], auth=requires(Capability.RUN_CAMPAIGNS))
def list_surveys(request: HttpRequest) -> list[SurveyOut]:
    return [_survey_out(s) for s in surveys_all()[:200]]


@router.post("/surveys", response={201: SurveyOut}, auth=requires(Capability.RUN_CAMPAIGNS))
def create_survey(request: HttpRequest, payload: SurveyIn) -> Status[SurveyOut]:
    survey = survey_create(
        data=SurveyInput(
            code=payload.code,
            name=payload.name,
            kind=payload.kind,
            program=_program(payload.program),
            question=payload.question,
            follow_up=payload.follow_up,
        ),
        actor=acting_user(request),
    )
    return Status(201, _survey_out(survey))


@router.post("/surveys/{survey_id}/send", response=SendOut, auth=requires(Capability.RUN_CAMPAIGNS))
def send_survey(request: HttpRequest, survey_id: int, payload: SendIn) -> SendOut:
    """Ask the contacts the query selects (among those you may see), by text; those asked
    before are not asked again."""
    report = survey_send(
        survey=survey_get(survey_id=survey_id), query=payload.query, actor=acting_user(request)
    )
    return SendOut(
        planned=report.planned,
        queued=report.queued,
        held=report.held,
        skipped=report.skipped,
        existing=report.existing,
        skip_reasons=report.skip_reasons,
    )


@router.get(
    "/surveys/{survey_id}/results",
    response=dict[str, object],
    auth=requires(Capability.VIEW_ANALYTICS),
)
def get_survey_results(request: HttpRequest, survey_id: int) -> dict[str, object]:
    """Aggregates only: asked, answered, the distribution per score, NPS or satisfaction."""
    return survey_results(survey=survey_get(survey_id=survey_id)).as_dict()
