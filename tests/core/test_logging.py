"""Log lines carry the request id, and PHI-shaped values never reach the output."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from carereach.security.context import request_id_scope
from carereach.security.log_filters import RedactFilter, RequestIdFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent to +14155552671", "sent to [phone]"),
        ("sent to +1 415 555 2671 ok", "sent to [phone] ok"),
        ("call (415) 555-2671", "call [phone]"),
        ("number 4155552671", "number [phone]"),
        ("mail jane.doe@example.org", "mail [email]"),
        ("born 1980-02-03", "born [date]"),
        ("born 2/3/1980", "born [date]"),
        ("imported 1000000 rows in 12.5 s", "imported 1000000 rows in 12.5 s"),
        ("at 2026-01-01T10:00:00Z", "at 2026-01-01T10:00:00Z"),
        ("contact 42 entry #17", "contact 42 entry #17"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)


def test_filters_add_request_id_and_scrub_arguments() -> None:
    record = _record("texted %s about %s", "+14155552671", "refill")
    with request_id_scope("abc123def456"):
        RequestIdFilter().filter(record)
    RedactFilter().filter(record)
    assert record.request_id == "abc123def456"  # type: ignore[attr-defined]
    assert record.getMessage() == "texted [phone] about refill"


@pytest.mark.django_db
def test_django_request_log_lines_carry_the_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="django.request")
    caplog.handler.addFilter(RequestIdFilter())
    response = client.get("/api/v1/me")  # a 401, which django.request logs
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records
    assert records[-1].request_id == response["X-Request-ID"]  # type: ignore[attr-defined]
