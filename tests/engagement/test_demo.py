"""`make demo` seeds a series with subscribers, a logged visit and a survey (once)."""

from __future__ import annotations

import pytest

from carereach.campaigns.models import Campaign
from carereach.console.demo import demo_seed
from carereach.engagement.models import Interaction, ReleaseStatus, SeriesRelease, SurveyAnswer
from carereach.messaging.models import Message
from tests.engagement.factories import NOON_NY, Clock

pytestmark = pytest.mark.django_db


def test_demo_seeds_engagement_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", Clock(NOON_NY))  # daytime everywhere but Hawaii
    first = demo_seed()
    notes = "\n".join(first.notes)
    assert "episode 3 published" in notes
    assert "demo visit" in notes
    assert "demo survey" in notes
    # Episodes 1 and 2 were published before anyone subscribed: their releases reached nobody.
    release = SeriesRelease.objects.get(version__item__code="heart-matters-3")
    assert release.status == ReleaseStatus.DONE
    assert release.planned >= 7  # the campaign's six HCPs and the rep's visit
    assert Message.objects.filter(key__startswith=f"series:{release.version_id}:").exists()
    visit = Interaction.objects.get()
    assert Message.objects.filter(key__startswith=f"rep:{visit.pk}:invite:").exists()
    assert SurveyAnswer.objects.get().score == 9
    names = set(Campaign.objects.values_list("name", flat=True))
    assert {"Health tip: walking", "Screening reminder"} <= names

    second = demo_seed()
    assert not any("demo survey" in note for note in second.notes)
    assert SeriesRelease.objects.count() == 3
