"""Log filters: every line carries the request id, and nothing that looks like PHI gets out.

Code must not log PHI in the first place (a test scans for it); the redaction filter is the
second wall, scrubbing e-mail addresses, phone numbers and dates from the final message.
"""

from __future__ import annotations

import logging
import re

from carereach.security.context import current_request_id

_PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b(?!T\d)"), "[date]"),
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "[date]"),
    # E.164, North American formatted numbers, and bare 10-11 digit runs; plain counts stay.
    (re.compile(r"\+\d[\d\s.-]{6,17}\d"), "[phone]"),
    (re.compile(r"\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"), "[phone]"),
    (re.compile(r"\b1?\d{10}\b"), "[phone]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs after the middleware has returned; its record carries the
            # request, which carries the id.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or current_request_id()
        return True


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
