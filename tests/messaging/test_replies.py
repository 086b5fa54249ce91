"""Apps above messaging claim answers to their messages; consent keywords always come first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from carereach.consent.models import Program
from carereach.messaging import replies
from carereach.messaging.models import InboundMessage
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen() -> Iterator[list[replies.InboundReply]]:
    offered: list[replies.InboundReply] = []

    def confirm_handler(reply: replies.InboundReply) -> str | None:
        offered.append(reply)
        return "appointment" if reply.body.strip().upper() == "C" else None

    replies.reply_handler_register("test-confirm", confirm_handler)
    yield offered
    replies._HANDLERS[:] = [h for h in replies._HANDLERS if h[0] != "test-confirm"]


def _texts(body: str) -> InboundMessage:
    sandbox_text_in(from_number=messaging.PHONE, to=messaging.SENDER, body=body)
    worker_tick("w1")
    return InboundMessage.objects.order_by("-id").first()  # type: ignore[return-value]


def test_a_handler_takes_the_answer_it_knows(
    texting: Program, seen: list[replies.InboundReply]
) -> None:
    taken = _texts("C")
    passed = _texts("what time is it?")
    assert (taken.handled_by, passed.handled_by) == ("appointment", "")
    assert [(r.inbound_id, r.body, r.from_number) for r in seen] == [
        (taken.pk, "C", messaging.PHONE),
        (passed.pk, "what time is it?", messaging.PHONE),
    ]


def test_consent_keywords_are_never_offered(
    texting: Program, seen: list[replies.InboundReply]
) -> None:
    stop = _texts("STOP")
    assert stop.category == "opt_out"
    assert (stop.handled_by, seen) == ("", [])


def test_registering_twice_replaces() -> None:
    before = len(replies._HANDLERS)
    replies.reply_handler_register("test-twice", lambda reply: None)
    replies.reply_handler_register("test-twice", lambda reply: "x")
    try:
        assert len(replies._HANDLERS) == before + 1
    finally:
        replies._HANDLERS[:] = [h for h in replies._HANDLERS if h[0] != "test-twice"]
