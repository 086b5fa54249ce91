"""Fixtures shared by the messaging tests."""

from __future__ import annotations

import pytest

from carereach.consent.models import Program
from tests.consent import factories
from tests.messaging import factories as messaging


@pytest.fixture
def texting() -> Program:
    """The podcast program on the default sender, with one HCP consented on PHONE."""
    found = factories.program("podcast", sender_numbers=[messaging.SENDER])
    messaging.consented(messaging.PHONE, found)
    return found
