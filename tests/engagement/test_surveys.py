"""Surveys by text: asked through the pipeline, answers read tolerantly, one re-ask, a
follow-up question, and results with their distribution."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from carereach.engagement.models import AnswerStatus, Survey, SurveyAnswer
from carereach.engagement.selectors import survey_results
from carereach.engagement.services.surveys import SurveyInput, survey_create, survey_send
from carereach.errors import ValidationError
from carereach.messaging.models import InboundMessage, Message
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.roles import Role
from tests.engagement.factories import SENDER, Podcast

pytestmark = pytest.mark.django_db

ANA, BEN = "+12125550101", "+12125550102"


def nps(world: Podcast, follow_up: str = "") -> Survey:
    return survey_create(
        data=SurveyInput(
            code="podcast-nps", name="Podcast NPS", kind="nps", program=world.program,
            question="How likely are you to recommend Heart Matters to a colleague?",
            follow_up=follow_up,
        ),
        actor=world.author,
    )  # fmt: skip


def reply(number: str, body: str) -> InboundMessage:
    sandbox_text_in(from_number=number, to=SENDER, body=body)
    worker_tick("w1")
    return InboundMessage.objects.order_by("-id").first()  # type: ignore[return-value]


def asked(world: Podcast, survey: Survey, users: dict[Role, User]) -> None:
    report = survey_send(survey=survey, query="kind = hcp", actor=users[Role.MARKETER])
    # Ana, Ben (by text: surveys go by text only) and Cy (held: 07:00 in Honolulu); Di opted
    # out, Ed never consented.
    assert (report.queued, report.held, report.skipped) == (2, 1, 2)
    worker_tick("w1")


def test_answers_in_words_and_digits_are_scored_and_thanked(
    world: Podcast, users: dict[Role, User]
) -> None:
    survey = nps(world)
    asked(world, survey, users)
    ask = Message.objects.get(key=f"survey:{survey.pk}:ask:{world.people['ana'].pk}")
    assert ask.body == (
        "Heart Matters: How likely are you to recommend Heart Matters to a colleague? "
        "Reply with a number from 0 to 10. Reply STOP to opt out."
    )
    assert reply(ANA, "Nine!").handled_by == "survey"
    assert reply(BEN, "10/10").handled_by == "survey"
    answers = {a.contact_id: a.score for a in SurveyAnswer.objects.all()}
    assert answers == {world.people["ana"].pk: 9, world.people["ben"].pk: 10}
    thanks = Message.objects.get(key=f"survey:{survey.pk}:thanks:{world.people['ana'].pk}")
    assert thanks.body == "Thank you for your answer!"
    results = survey_results(survey=survey).as_dict()
    assert results["asked"] == 3
    assert results["answered"] == 2
    assert results["nps"] == 100.0
    assert results["distribution"] == {str(n): (1 if n in (9, 10) else 0) for n in range(11)}
    # Sending again asks nobody twice.
    again = survey_send(survey=survey, query="kind = hcp", actor=users[Role.MARKETER])
    assert (again.planned, again.existing) == (0, 5)


def test_out_of_range_is_asked_again_once(world: Podcast, users: dict[Role, User]) -> None:
    survey = nps(world)
    asked(world, survey, users)
    assert reply(ANA, "11").handled_by == "survey"
    answer = SurveyAnswer.objects.get()
    assert answer.status == AnswerStatus.REASKED
    reask = Message.objects.get(key=f"survey:{survey.pk}:reask:{world.people['ana'].pk}")
    assert "number from 0 to 10" in reask.body
    worker_tick("w1")
    reply(ANA, "eight")
    answer.refresh_from_db()
    assert (answer.status, answer.score) == (AnswerStatus.DONE, 8)


def test_a_second_miss_gives_up_without_a_third_text(
    world: Podcast, users: dict[Role, User]
) -> None:
    survey = nps(world)
    asked(world, survey, users)
    reply(ANA, "pretty good")
    worker_tick("w1")
    reply(ANA, "still good")
    answer = SurveyAnswer.objects.get()
    assert (answer.status, answer.score) == (AnswerStatus.UNREADABLE, None)
    assert Message.objects.filter(key__startswith=f"survey:{survey.pk}:reask:").count() == 1
    assert survey_results(survey=survey).unreadable == 1


def test_the_follow_up_question_and_its_answer(world: Podcast, users: dict[Role, User]) -> None:
    survey = nps(world, follow_up="What is the main reason for your score?")
    asked(world, survey, users)
    reply(ANA, "7")
    follow = Message.objects.get(key=f"survey:{survey.pk}:followup:{world.people['ana'].pk}")
    assert follow.body == "What is the main reason for your score?"
    worker_tick("w1")
    assert reply(ANA, "Episodes are too long").handled_by == "survey"
    answer = SurveyAnswer.objects.get()
    assert (answer.status, answer.score, answer.comment) == (
        AnswerStatus.DONE, 7, "Episodes are too long",
    )  # fmt: skip
    assert survey_results(survey=survey).comments == 1
    # Anything after that is for a person to read.
    worker_tick("w1")
    assert reply(ANA, "8").handled_by == ""


def test_stop_is_an_opt_out_not_an_answer(world: Podcast, users: dict[Role, User]) -> None:
    survey = nps(world)
    asked(world, survey, users)
    assert reply(ANA, "STOP").category == "opt_out"
    assert not SurveyAnswer.objects.exists()


def test_bad_surveys_are_refused_by_field(world: Podcast) -> None:
    with pytest.raises(ValidationError) as error:
        survey_create(
            data=SurveyInput(
                code="x", name="X", kind="stars", program=world.program, question="Q?"
            ),
            actor=None,
        )
    assert error.value.field == "kind"


def test_console_api_and_cli(
    world: Podcast,
    users: dict[Role, User],
    signed_in: Callable[[Role], Client],
    api: Callable[[Role], Client],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = signed_in(Role.MARKETER)
    created = client.post(
        "/engagement/surveys/",
        {"code": "csat-1", "name": "Satisfaction", "kind": "csat", "program": world.program.pk,
         "question": "How satisfied are you with Heart Matters?"},
    )  # fmt: skip
    assert created.status_code == 302
    survey = Survey.objects.get(code="csat-1")
    bad = client.post(f"/engagement/surveys/{survey.pk}/send/", {"query": "kind = = hcp"})
    assert bad.status_code == 400
    sent = client.post(f"/engagement/surveys/{survey.pk}/send/", {"query": "kind = hcp"})
    assert sent.status_code == 302
    worker_tick("w1")
    reply(ANA, "cinco")
    reply(BEN, "3")
    page = client.get(f"/engagement/surveys/{survey.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="score-5">1<' in html
    assert 'data-testid="satisfied">50.0%<' in html

    results = api(Role.ANALYST).get(f"/api/v1/surveys/{survey.pk}/results")
    assert results.status_code == 200
    assert results.json()["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert api(Role.FIELD_REP).get(f"/api/v1/surveys/{survey.pk}/results").status_code == 403
    made = api(Role.MARKETER).post(
        "/api/v1/surveys",
        {"code": "nps-2", "name": "NPS", "kind": "nps", "program": world.program.code,
         "question": "Recommend us?"},
        content_type="application/json",
    )  # fmt: skip
    assert made.status_code == 201
    send = api(Role.MARKETER).post(
        f"/api/v1/surveys/{made.json()['id']}/send",
        {"query": "kind = hcp"},
        content_type="application/json",
    )
    assert send.json()["queued"] == 2
    assert (
        api(Role.ANALYST).post("/api/v1/surveys", {}, content_type="application/json").status_code
        == 403
    )
    assert signed_in(Role.ANALYST).get("/engagement/surveys/").status_code == 403
    assert signed_in(Role.ANALYST).get(f"/engagement/surveys/{survey.pk}/").status_code == 200

    call_command("survey_results", "csat-1")
    out = capsys.readouterr().out
    assert "answered: 2" in out
    assert "distribution: 1=0 2=0 3=1 4=0 5=1" in out
