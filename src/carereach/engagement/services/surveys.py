"""Surveys by text: ask, read the answer tolerantly, ask once more, the follow-up, thanks.

`survey_send` asks a segment (among the contacts the sender may see) through the pipeline, by
text only (the answer comes back by text): key `survey:<id>:ask:<contact>`. Answers arrive
through messaging's reply hook (`survey_reply`, registered at start-up), after consent has seen
them (a STOP is an opt-out, never an answer). The first reply to a survey text makes the
person's `SurveyAnswer`:

- a number in the scale (`answers.answer_parse`): the score; then the follow-up question if the
  survey has one (the next reply is its answer, stored encrypted), else thanks;
- a number outside the scale, or no number: asked once more; a second miss is recorded as no
  usable answer (no third message).

Every answer of ours is keyed on the survey, the step and the contact, so a carrier retrying a
text never sends two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import contacts_for_user
from carereach.consent.models import Program
from carereach.engagement import texts
from carereach.engagement.answers import Verdict, answer_parse
from carereach.engagement.models import (
    SCALES,
    AnswerStatus,
    Survey,
    SurveyAnswer,
    SurveyKind,
)
from carereach.engagement.services.delivery import (
    PersonTrigger,
    fanout_by_preference,
    fixed_text,
    report_merge,
)
from carereach.errors import ConflictError, ValidationError
from carereach.messaging.models import Lane
from carereach.messaging.replies import InboundReply
from carereach.messaging.services.fanout import FanoutReport
from carereach.messaging.services.outbox import Reason, message_enqueue
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

STALE_AFTER = timedelta(days=2)
HANDLER = "survey"


@dataclass(frozen=True)
class SurveyInput:
    code: str
    name: str
    kind: str
    program: Program | None
    question: str
    follow_up: str = ""


@transaction.atomic
def survey_create(*, data: SurveyInput, actor: User | None) -> Survey:
    code, name, question = data.code.strip(), data.name.strip(), data.question.strip()
    if not code or not code.replace("-", "").isalnum() or len(code) > 60:
        raise ValidationError("A code of letters, digits and dashes.", field="code")
    if Survey.objects.filter(code=code).exists():
        raise ConflictError(f"A survey with code {code!r} exists already.", field="code")
    if not name:
        raise ValidationError("Give the survey a name.", field="name")
    if data.kind not in SurveyKind.values:
        raise ValidationError("Choose nps (0-10) or csat (1-5).", field="kind")
    if data.program is None or not data.program.active:
        raise ValidationError("Choose an active program.", field="program")
    if Channel.SMS not in data.program.channels:
        raise ValidationError("The program does not send texts.", field="program")
    if not question or len(question) > 300:
        raise ValidationError("Write the question (up to 300 characters).", field="question")
    if len(data.follow_up.strip()) > 300:
        raise ValidationError("Keep the follow-up under 300 characters.", field="follow_up")
    survey = Survey.objects.create(
        code=code,
        name=name,
        kind=data.kind,
        program=data.program,
        question=question,
        follow_up=data.follow_up.strip(),
        created_by=actor,
        created_at=timezone.now(),
    )
    audit_record(actor=actor, action=AuditAction.CREATE, object_type="survey", object_id=survey.pk)
    return survey


@transaction.atomic
def survey_send(*, survey: Survey, query: str, actor: User) -> FanoutReport:
    """Ask the contacts `query` selects (among those `actor` may see); asking again asks only
    those not asked yet."""
    if not query.strip():
        raise ValidationError("Write a query for who gets the survey.", field="query")
    audience = segment_filter(contacts_for_user(user=actor), query, default_contact_schema())
    now = timezone.now()
    low, high = survey.scale
    program = survey.program

    def words(contact: Contact, language: str) -> str:
        return texts.survey_question(
            program=program.name, question=survey.question, low=low, high=high, language=language
        )

    trigger = PersonTrigger(
        key=f"{survey.trigger_key}:ask",
        origin="survey",
        program=program,
        channel=Channel.SMS,
        step="ask",
        lane=Lane.BULK,
        expires_at=now + STALE_AFTER,
    )
    report = FanoutReport()
    ids = list(audience.order_by("pk").values_list("pk", flat=True).distinct())
    for start in range(0, len(ids), 2000):
        part = fanout_by_preference(
            trigger=trigger,
            contact_ids=ids[start : start + 2000],
            renderer_for=lambda channel, group: fixed_text(words),
            now=now,
            allowed=(Channel.SMS,),
        )
        report_merge(report, part)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="survey",
        object_id=survey.pk,
        note=f"sent: {report.queued} queued, {report.held} held, {report.skipped} skipped",
    )
    return report


def _answer_text(
    reply: InboundReply, survey: Survey, answer: SurveyAnswer, step: str, body: str
) -> None:
    """Our next text to the person, keyed on survey, step and contact (one of each, ever)."""
    message_enqueue(
        key=f"{survey.trigger_key}:{step}:{answer.contact_id}",
        origin="survey",
        origin_ref=survey.trigger_key,
        lane=Lane.CLINICAL,
        contact_id=answer.contact_id,
        program_id=survey.program_id,
        channel=Channel.SMS,
        address=reply.from_number,
        sender=reply.to_number,
        body=body,
        reasons=[Reason("survey_answer", f"Answers the person's reply to survey {survey.name}.")],
        expires_at=reply.received_at + STALE_AFTER,
        reply_to=reply.provider_message_id,
    )


def _parse_key(key: str | None) -> tuple[int, str] | None:
    parts = (key or "").split(":")
    if len(parts) != 4 or parts[0] != "survey" or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def survey_reply(reply: InboundReply) -> str | None:
    """Messaging's reply hook: takes a reply to one of our survey texts, else passes."""
    parsed = _parse_key(reply.in_reply_to_key)
    if parsed is None or reply.contact_id is None:
        return None
    survey_id, step = parsed
    survey = Survey.objects.select_related("program").filter(pk=survey_id).first()
    if survey is None or step not in ("ask", "reask", "followup"):
        return None
    now = reply.received_at
    answer = (
        SurveyAnswer.objects.select_for_update()
        .filter(survey=survey, contact_id=reply.contact_id)
        .first()
    )
    language = (
        Contact.objects.filter(pk=reply.contact_id).values_list("language", flat=True).first()
        or "en"
    )
    if answer is None:
        answer = SurveyAnswer(
            survey=survey, contact_id=reply.contact_id, status=AnswerStatus.REASKED, created_at=now
        )
    elif answer.status == AnswerStatus.FOLLOW_UP:
        answer.comment = reply.body.strip()[:1000]
        answer.status = AnswerStatus.DONE
        answer.save()
        _answer_text(reply, survey, answer, "thanks", texts.survey_thanks(language))
        return HANDLER
    elif answer.status != AnswerStatus.REASKED:
        return None  # answered already: a person reads anything more
    first_try = answer.pk is None
    low, high = SCALES[survey.kind]
    result = answer_parse(reply.body, low=low, high=high)
    if result.verdict == Verdict.OK:
        answer.score = result.value
        answer.answered_at = now
        answer.status = AnswerStatus.FOLLOW_UP if survey.follow_up else AnswerStatus.DONE
        answer.save()
        if survey.follow_up:
            body = texts.survey_follow_up(question=survey.follow_up)
            _answer_text(reply, survey, answer, "followup", body)
        else:
            _answer_text(reply, survey, answer, "thanks", texts.survey_thanks(language))
        return HANDLER
    if first_try:
        answer.save()
        body = texts.survey_reask(low=low, high=high, language=language)
        _answer_text(reply, survey, answer, "reask", body)
    else:
        answer.status = AnswerStatus.UNREADABLE
        answer.save()
    return HANDLER
