"""Reading a number someone texted back: "9", "nine", "9/10", "Nine!", "nueve", "8 out of 10".

A pure function, tested with hypothesis. People answer surveys (and "reply 1 to confirm, 2 to
cancel") in many ways; what counts is one number, in digits or in words (English or Spanish),
possibly followed by its scale ("/10", "out of 10", "de 10"), with any case, accents, spaces and
punctuation around it. Two different numbers ("7 or 8"), none, or a fraction ("7.5") are
unreadable; one number outside the scale is out of range (the survey asks once more).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    OK = "ok"  # one number inside the scale
    OUT_OF_RANGE = "out_of_range"  # one number, outside the scale
    UNREADABLE = "unreadable"  # no number, or more than one


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    value: int | None = None  # the number read (also when out of range)


WORDS: dict[str, int] = {
    # English
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    # Spanish (accents are stripped before lookup)
    "cero": 0,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
}

# "<n> / 10", "<n> out of 10", "<n> de 10", "<n> of 10": the scale after the number is dropped.
_SCALE = re.compile(r"\s*(?:/|\bout\s+of\b|\bof\b|\bde\b)\s*(\d+|[a-z]+)\b")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+")


def _fold(text: str) -> str:
    """Lower case without accents: "Nueve!" -> "nueve!", "DIÉZ" -> "diez"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _number(token: str) -> int | float | None:
    if token[0].isdigit():
        if "." in token or "," in token:
            return float(token.replace(",", "."))
        return int(token) if len(token) <= 6 else None
    return WORDS.get(token)


def answer_parse(text: str, *, low: int, high: int) -> Answer:
    """The one number in `text`, judged against the scale `low`..`high` (inclusive)."""
    folded = _fold(text)[:200]
    folded = _SCALE.sub(" ", folded)
    found: set[int] = set()
    for token in _TOKEN.findall(folded):
        value = _number(token)
        if value is None:
            continue
        if isinstance(value, float):
            if not value.is_integer():
                return Answer(Verdict.UNREADABLE)
            value = int(value)
        found.add(value)
    if len(found) != 1:
        return Answer(Verdict.UNREADABLE)
    value = found.pop()
    if low <= value <= high:
        return Answer(Verdict.OK, value)
    return Answer(Verdict.OUT_OF_RANGE, value)
