"""Series subscriptions: publishing an episode sends it to every subscriber once, on their
preferred consented channel, in their daytime; those who stopped get nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from carereach.content.models import ContentVersion
from carereach.content.services import (
    version_approve,
    version_input_of,
    version_save,
    version_withdraw,
)
from carereach.engagement.models import ReleaseStatus, SeriesRelease
from carereach.engagement.selectors import release_progress
from carereach.engagement.tasks import engagement_tick
from carereach.messaging.models import Message
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.roles import Role
from tests.content import factories as content
from tests.engagement.factories import Clock, Podcast, episode, in_review

pytestmark = pytest.mark.django_db


def version_save_draft(version: ContentVersion, author: User) -> ContentVersion:
    """The next draft of an approved version (saving it makes one), unchanged."""
    return version_save(version=version, data=version_input_of(version), actor=author)


def publish(world: Podcast, number: int = 1, **version: object) -> SeriesRelease:
    item = episode(world.series, author=world.author, number=number, **version)
    approved = content.approve(
        content.first_version(item), author=world.author, reviewer=world.reviewer
    )
    return SeriesRelease.objects.get(version=approved)


def by_person(world: Podcast, release: SeriesRelease) -> dict[str, Message]:
    names = {c.pk: name for name, c in world.people.items()}
    rows = Message.objects.filter(key__startswith=f"series:{release.version_id}:")
    return {names[m.contact_id]: m for m in rows}  # type: ignore[index]


def test_publishing_an_episode_sends_it_to_each_subscriber_once(
    world: Podcast, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        release = publish(world)
    release.refresh_from_db()
    assert release.status == ReleaseStatus.DONE
    sent = by_person(world, release)
    # Di opted out and Ed never consented: they are not subscribers, so nothing is planned.
    assert set(sent) == {"ana", "ben", "cy"}
    assert sent["ana"].key == f"series:{release.version_id}:{world.people['ana'].pk}"
    assert (sent["ana"].channel, sent["ana"].status) == ("sms", "queued")
    assert "Heart Matters: hi Ana" in sent["ana"].body
    # Ben prefers e-mail and consented to it: the episode goes there.
    assert (sent["ben"].channel, sent["ben"].subject) == ("email", "New episode")
    # Noon in New York is 07:00 in Honolulu: held until 08:00 there.
    assert sent["cy"].status == "held"
    assert sent["cy"].due_at.hour == 18  # 08:00 HST in UTC
    assert release_progress(release=release).counts["held"] == 1

    # Running the release again (a crash, a second scheduler) creates nothing more.
    release.status = ReleaseStatus.RUNNING
    release.cursor = 0
    release.save()
    engagement_tick()
    assert Message.objects.filter(key__startswith=f"series:{release.version_id}:").count() == 3


def test_the_scheduler_starts_a_release_when_its_window_opens(world: Podcast, clock: Clock) -> None:
    from datetime import timedelta

    item = episode(world.series, author=world.author, number=2)
    version = in_review(item, world.author)
    version_approve(
        version=version,
        actor=world.reviewer,
        review_code="MLR-1",
        valid_from=clock.now + timedelta(hours=2),
        valid_until=clock.now + timedelta(days=30),
    )
    release = SeriesRelease.objects.get(version=version)
    assert release.status == ReleaseStatus.SCHEDULED
    engagement_tick()
    assert Message.objects.filter(key__startswith="series:").count() == 0
    clock.advance(hours=2)
    engagement_tick()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.DONE
    assert release.planned == 3


def test_someone_who_texts_stop_gets_no_later_episode(world: Podcast) -> None:
    first = publish(world, 1)
    engagement_tick()
    worker_tick("w1")
    sandbox_text_in(from_number="+12125550101", to="+18005550100", body="STOP")
    worker_tick("w1")
    second = publish(world, 2)
    engagement_tick()
    assert "ana" in by_person(world, first)
    assert "ana" not in by_person(world, second)


def test_a_withdrawn_episode_stops_its_release_and_cancels_what_waits(world: Podcast) -> None:
    release = publish(world)
    engagement_tick()
    version_withdraw(version=release.version, actor=world.reviewer, reason="wrong audio")
    release.refresh_from_db()
    sent = by_person(world, release)
    assert {m.status for m in sent.values()} == {"cancelled"}
    assert release.status == ReleaseStatus.DONE  # it had fanned out before the withdrawal


def test_content_refusing_a_subscriber_is_a_skip_with_the_reason(world: Podcast) -> None:
    # Spanish-speaking Ana gets no text: the episode has English bodies only.
    ana = world.people["ana"]
    ana.language = "es"
    ana.save()
    release = publish(world)
    engagement_tick()
    sent = by_person(world, release)
    assert sent["ana"].status == "skipped"
    assert sent["ana"].reasons[0]["code"] == "ineligible"


def test_series_page_shows_progress_to_marketers_only(
    world: Podcast, signed_in: Callable[[Role], Client]
) -> None:
    release = publish(world)
    engagement_tick()
    url = f"/engagement/series/{world.series.pk}/"
    page = signed_in(Role.MARKETER).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Subscribers" in html
    assert 'data-testid="release-queued"' in html
    assert signed_in(Role.ANALYST).get(url).status_code == 403
    assert signed_in(Role.FIELD_REP).get(url).status_code == 403
    assert release.pk


def test_cli_releases_an_approved_episode(
    world: Podcast, capsys: pytest.CaptureFixture[str]
) -> None:
    release = publish(world)
    release.delete()
    call_command("series_release", str(release.version_id))
    out = capsys.readouterr().out
    assert "3 planned" in out
    with pytest.raises(SystemExit) as exit_info:
        call_command("series_release", "999999")
    assert exit_info.value.code == 2


def test_a_corrected_version_goes_only_to_those_who_did_not_get_the_first(
    world: Podcast, users: dict[Role, User]
) -> None:
    first = publish(world)
    engagement_tick()
    worker_tick("w1")  # Ana's text and Ben's mail go; Cy's waits for 08:00 in Honolulu
    version_withdraw(version=first.version, actor=world.reviewer, reason="typo")  # Cy's: cancelled
    fixed = version_save_draft(first.version, world.author)
    approved = content.approve(fixed, author=world.author, reviewer=world.reviewer)
    engagement_tick()
    second = SeriesRelease.objects.get(version=approved)
    assert set(by_person(world, second)) == {"cy"}


def test_api_lists_releases_and_releases_an_older_episode(
    world: Podcast, api: Callable[[Role], Client]
) -> None:
    older = publish(world)
    SeriesRelease.objects.all().delete()  # approved before subscriptions existed
    response = api(Role.MARKETER).post(
        "/api/v1/series/releases", {"version": older.version_id}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["planned"]) == ("done", 3)
    assert body["progress"]["queued"] == 2
    listed = api(Role.MARKETER).get(f"/api/v1/series/{world.series.pk}/releases").json()
    assert listed["subscribers"] == 3
    assert [r["version"] for r in listed["releases"]] == [older.version_id]
    again = api(Role.MARKETER).post(
        "/api/v1/series/releases", {"version": older.version_id}, content_type="application/json"
    )
    assert again.json()["id"] == body["id"]
    for role in (Role.FIELD_REP, Role.ANALYST, Role.COMPLIANCE):
        assert api(role).get(f"/api/v1/series/{world.series.pk}/releases").status_code == 403
    draft = episode(world.series, author=world.author, number=9)
    refused = api(Role.MARKETER).post(
        "/api/v1/series/releases",
        {"version": content.first_version(draft).pk},
        content_type="application/json",
    )
    assert refused.status_code == 409
    assert refused.json()["field"] == "version"
