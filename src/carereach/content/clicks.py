"""Who followed a tracked link: a person, or a machine acting before one.

Mail security gateways, chat apps and link checkers open links as soon as a message arrives; they
must not count as clicks. A request is a machine's when it is a HEAD request, when its user agent
is a known scanner, previewer or HTTP library (or missing), or when it comes less than a second
after the message was delivered (or before the delivery receipt says it arrived).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from carereach.content.models import ClickKind

PREFETCH_WINDOW = timedelta(seconds=1)

# Substrings of user agents that are never a person reading a message (case-insensitive).
SCANNER_AGENTS = (
    "bot",
    "spider",
    "crawler",
    "slurp",
    "preview",
    "facebookexternalhit",
    "whatsapp",
    "skypeuripreview",
    "microsoft office",
    "ms-office",
    "outlook-ios-linkpreview",
    "barracuda",
    "proofpoint",
    "mimecast",
    "urldefense",
    "symantec",
    "messagelabs",
    "forcepoint",
    "trend micro",
    "sophos",
    "fireeye",
    "zscaler",
    "google-safety",
    "safebrowsing",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "curl/",
    "wget",
    "go-http-client",
    "libwww-perl",
    "java/",
    "apache-httpclient",
    "axios/",
    "node-fetch",
)
_SCANNER = re.compile("|".join(re.escape(agent) for agent in SCANNER_AGENTS), re.IGNORECASE)


def is_scanner_agent(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_SCANNER.search(user_agent))


def click_kind(
    *, method: str, user_agent: str, at: datetime, delivered_at: datetime | None
) -> ClickKind:
    """How to count one request for a tracked link."""
    if method.upper() == "HEAD":
        return ClickKind.HEAD
    if is_scanner_agent(user_agent):
        return ClickKind.SCANNER
    if delivered_at is not None and at < delivered_at + PREFETCH_WINDOW:
        return ClickKind.PREFETCH
    return ClickKind.HUMAN
