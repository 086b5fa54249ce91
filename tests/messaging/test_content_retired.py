"""Withdrawn content: what still waits is cancelled with the reason; what went stays as it was."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from carereach.content.services import version_withdraw
from carereach.messaging.models import EventKind, Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from carereach.security.roles import Role
from tests.content import factories as content
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db


def test_withdrawing_a_version_cancels_its_waiting_messages(users: dict[Role, User]) -> None:
    program = content.program("cardio", sender_numbers=["+14155550100"])
    item = content.item(actor=users[Role.MARKETER], program=program)
    version = content.approve(
        content.first_version(item), author=users[Role.MARKETER], reviewer=users[Role.COMPLIANCE]
    )
    person = messaging.consented("+14155550101", program)
    sent = messaging.queued(person, program, "c:1", "went", content_version_id=version.pk)
    dispatch_due(worker="w1")
    waiting = messaging.queued(person, program, "c:2", "waits", content_version_id=version.pk)
    held = messaging.queued(
        person, program, "c:3", "held", content_version_id=version.pk, held=True
    )
    other = messaging.queued(person, program, "c:4", "other content")

    retirement = version_withdraw(
        version=version, actor=users[Role.COMPLIANCE], reason="label update"
    )

    for message in (sent, waiting, held, other):
        message.refresh_from_db()
    assert sent.status == MessageStatus.DELIVERED
    assert waiting.status == MessageStatus.CANCELLED
    assert held.status == MessageStatus.CANCELLED
    assert other.status == MessageStatus.QUEUED
    assert waiting.reasons[-1]["code"] == "content_retired"
    assert "label update" in waiting.reasons[-1]["text"]
    assert waiting.events.filter(kind=EventKind.CANCELLED).count() == 1
    assert retirement.cancelled == 2  # what the reviewer is told
    assert Message.objects.filter(status=MessageStatus.CANCELLED).count() == 2
