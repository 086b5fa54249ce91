"""Reads of engagement: series subscribers and release progress, a contact's interactions,
survey results with their distribution. Progress is read from the outbox by key prefix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Count, QuerySet

from carereach.audience.selectors import contacts_for_user
from carereach.consent.selectors import program_subscribers
from carereach.content.models import Series
from carereach.engagement.models import (
    SCALES,
    AnswerStatus,
    Interaction,
    SeriesRelease,
    Survey,
    SurveyAnswer,
    SurveyKind,
)
from carereach.errors import NotFoundError
from carereach.messaging.services.triggers import trigger_status_counts

PROGRESS_ORDER = (
    "queued",
    "held",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "skipped",
    "cancelled",
    "expired",
)


@dataclass
class ReleaseProgress:
    release: SeriesRelease
    counts: dict[str, int]  # every status in PROGRESS_ORDER, zeros included

    @property
    def waiting(self) -> int:
        return self.counts["queued"] + self.counts["held"] + self.counts["sending"]

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def release_progress(*, release: SeriesRelease) -> ReleaseProgress:
    found = trigger_status_counts(trigger_key=release.trigger_key)
    return ReleaseProgress(release, {status: found.get(status, 0) for status in PROGRESS_ORDER})


def series_releases(*, series: Series) -> QuerySet[SeriesRelease]:
    return SeriesRelease.objects.filter(series=series).select_related("version", "version__item")


def release_get(*, release_id: int) -> SeriesRelease:
    release = (
        SeriesRelease.objects.select_related("version", "version__item", "series", "program")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        raise NotFoundError("No such release.")
    return release


def series_subscriber_count(*, series: Series) -> int:
    if series.program is None:
        return 0
    return program_subscribers(program=series.program).count()


def interactions_for_contact(*, user: User, contact_id: int) -> QuerySet[Interaction]:
    """The visits and calls logged with a contact the user may see (none otherwise)."""
    visible = contacts_for_user(user=user).filter(pk=contact_id)
    return (
        Interaction.objects.filter(contact__in=visible)
        .select_related("follow_up", "follow_up__item", "program")
        .order_by("-occurred_at", "-id")
    )


def surveys_all() -> QuerySet[Survey]:
    return Survey.objects.select_related("program").annotate(answer_count=Count("answers"))


def survey_get(*, survey_id: int) -> Survey:
    survey = Survey.objects.select_related("program").filter(pk=survey_id).first()
    if survey is None:
        raise NotFoundError("No such survey.")
    return survey


@dataclass
class SurveyResults:
    survey: Survey
    asked: int  # survey texts queued, held or sent (not skipped)
    answered: int  # a score in the scale
    unreadable: int  # no usable answer after asking twice
    distribution: dict[int, int]  # score -> how many, every score of the scale
    comments: int  # follow-up answers
    summary: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "survey": self.survey.code,
            "kind": self.survey.kind,
            "asked": self.asked,
            "answered": self.answered,
            "unreadable": self.unreadable,
            "response_rate": round(self.answered / self.asked, 3) if self.asked else None,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            "comments": self.comments,
            **self.summary,
        }


def _summary(kind: str, distribution: dict[int, int]) -> dict[str, float | None]:
    total = sum(distribution.values())
    if not total:
        return {"mean": None, "nps": None} if kind == SurveyKind.NPS else {"mean": None}
    mean = round(sum(k * v for k, v in distribution.items()) / total, 2)
    if kind == SurveyKind.NPS:
        promoters = sum(v for k, v in distribution.items() if k >= 9)
        detractors = sum(v for k, v in distribution.items() if k <= 6)
        return {
            "mean": mean,
            "nps": round(100 * (promoters - detractors) / total, 1),
            "promoters": promoters,
            "passives": total - promoters - detractors,
            "detractors": detractors,
        }
    satisfied = sum(v for k, v in distribution.items() if k >= 4)
    return {"mean": mean, "satisfied_pct": round(100 * satisfied / total, 1)}


def survey_results(*, survey: Survey) -> SurveyResults:
    """Aggregates only: counts per score, never who answered what."""
    low, high = SCALES[survey.kind]
    answers = SurveyAnswer.objects.filter(survey=survey)
    scores = Counter(
        dict(
            answers.filter(score__isnull=False)
            .values("score")
            .annotate(n=Count("id"))
            .values_list("score", "n")
        )
    )
    distribution = {score: int(scores.get(score, 0)) for score in range(low, high + 1)}
    statuses = trigger_status_counts(trigger_key=f"{survey.trigger_key}:ask")
    asked = sum(n for status, n in statuses.items() if status not in ("skipped", "cancelled"))
    return SurveyResults(
        survey=survey,
        asked=asked,
        answered=sum(distribution.values()),
        unreadable=answers.filter(status=AnswerStatus.UNREADABLE).count(),
        distribution=distribution,
        comments=answers.filter(status=AnswerStatus.DONE).count() if survey.follow_up else 0,
        summary=_summary(survey.kind, distribution),
    )
