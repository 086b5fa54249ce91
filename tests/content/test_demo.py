"""The demo content seeds approved, sendable items once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from carereach.console.demo import demo_programs_seed
from carereach.content.demo import demo_content_seed
from carereach.content.models import ContentItem, VersionStatus
from carereach.content.selectors import item_current_version
from tests.audience import factories as audience

pytestmark = pytest.mark.django_db


def test_demo_content(author: User, reviewer: User, users: dict[object, User]) -> None:
    audience.specialties()
    assert demo_content_seed(author=author, reviewer=reviewer) == []  # no programs yet
    demo_programs_seed(actor=author)
    notes = demo_content_seed(author=author, reviewer=reviewer)
    assert notes
    live = [item for item in ContentItem.objects.all() if item_current_version(item=item)]
    assert len(live) == 3
    promo = ContentItem.objects.get(code="heartwell-launch").versions.get()
    assert promo.status == VersionStatus.IN_REVIEW
    assert demo_content_seed(author=author, reviewer=reviewer) == []
