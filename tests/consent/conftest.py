"""Consent tests capture the messages consent owes instead of handing them to messaging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from carereach.consent import notices as notices_module
from carereach.consent.notices import Notice


class SentNotices:
    """A notice sender that keeps what it is given, in order.

    `calls` is every `notice_send`; `messages` is what messaging would queue: one per
    idempotency key (the first), as the outbox's unique key makes it.
    """

    def __init__(self) -> None:
        self.calls: list[Notice] = []

    def __call__(self, notice: Notice) -> None:
        # messaging stores "notice:<key>" in a 200-character unique column
        assert len(f"notice:{notice.key}") <= 200, notice.key
        self.calls.append(notice)

    @property
    def messages(self) -> list[Notice]:
        first: dict[str, Notice] = {}
        for notice in self.calls:
            first.setdefault(notice.key, notice)
        return list(first.values())

    def of(self, kind: str) -> list[Notice]:
        return [notice for notice in self.messages if notice.kind == kind]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture(autouse=True)
def sent_notices() -> Iterator[SentNotices]:
    """Replaces the registered senders (messaging's, once it registers one) for the test."""
    sent = SentNotices()
    saved = list(notices_module._senders)
    notices_module._senders[:] = [sent]
    yield sent
    notices_module._senders[:] = saved
