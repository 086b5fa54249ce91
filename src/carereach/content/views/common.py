"""Helpers the content pages share: sample recipients, SMS counts for the composer, htmx."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from carereach.content.encoding import Analysis, analyze

# What one SMS segment costs, for the composer's estimate (US long-code list price).
DEFAULT_SEGMENT_PRICE = Decimal("0.0083")


def segment_price() -> Decimal:
    return Decimal(str(getattr(settings, "CARE_SMS_SEGMENT_PRICE", DEFAULT_SEGMENT_PRICE)))


def is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.history_restore_request


@dataclass(frozen=True)
class Run:
    text: str
    marked: bool  # forced UCS-2


def highlight(text: str, analysis: Analysis) -> list[Run]:
    """The text in runs, the characters that forced UCS-2 marked."""
    bad = set(analysis.non_gsm)
    runs: list[Run] = []
    for char in text:
        marked = char in bad
        if runs and runs[-1].marked == marked:
            runs[-1] = Run(runs[-1].text + char, marked)
        else:
            runs.append(Run(char, marked))
    return runs


def count_context(text: str, *, slot: str, field: str, limit: int | None = None) -> dict[str, Any]:
    """What the composer's counter shows for one SMS text."""
    analysis = analyze(text)
    price = segment_price()
    return {
        "analysis": analysis,
        "runs": highlight(text, analysis) if analysis.non_gsm else [],
        "cost": analysis.cost(price),
        "price": price,
        "slot": slot,
        "field": field,
        "limit": limit,
        "over_limit": limit is not None and analysis.segments > limit,
        "show_names": [_name(char) for char in analysis.non_gsm],
    }


def attach_sms(slots: list[dict[str, Any]], *, limit: int | None) -> list[dict[str, Any]]:
    """Give each SMS slot of the composer its live counter."""
    for row in slots:
        slot = row["slot"]
        if slot.is_sms:
            field = f"body-{slot.key}-text"
            row["sms"] = {
                "slot": slot.key,
                "field": field,
                "text": row["text"],
                "label": "Text",
                **count_context(row["text"], slot=slot.key, field=field, limit=limit),
            }
    return slots


def _name(char: str) -> str:
    import unicodedata

    code = f"U+{ord(char):04X}"
    return f"{char} {code} {unicodedata.name(char, '').title()}".strip()
