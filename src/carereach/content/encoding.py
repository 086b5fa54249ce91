"""SMS encoding: GSM-7 or UCS-2, segments, units, and the characters that forced UCS-2.

One pure function, `analyze(text)`, answers for the composer, the renderer, the cost estimate and
`carereach sms-info`. The rules (3GPP TS 23.038 and 23.040; shared/DOMAIN.md section 4):

- GSM-7: 160 septets in one segment, 153 per segment when concatenated (a 6-octet header). The
  ten extension characters (form feed, ^ { } \\ [ ] ~ | and €) take two septets, an escape and
  the character, and the pair is never split across segments.
- Anything outside the GSM-7 tables turns the whole message into UCS-2: 70 UTF-16 code units in
  one segment, 67 per segment concatenated. Characters outside the Basic Multilingual Plane (most
  emoji) are surrogate pairs, two units, and a pair is never split either.

`gsm_replace(text)` swaps the characters that have a GSM-7 look-alike (curly quotes → straight,
en and em dashes → -, accented letters → the plain letter) so a message can go back to GSM-7;
the table comes from Twilio's smart encoding (data/gsm_replacements.json) with the overrides
named below.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# GSM 03.38 default alphabet, byte 0x00 to 0x7F in order; 0x1B is the escape to the extension.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
ESCAPE = 0x1B
GSM7_BASIC: dict[str, int] = {char: code for code, char in enumerate(_BASIC) if code != ESCAPE}
# The extension table: each costs the escape septet plus its own.
GSM7_EXTENSION: dict[str, int] = {
    "\x0c": 0x0A,  # form feed (page break)
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_BASIC_BY_CODE = {code: char for char, code in GSM7_BASIC.items()}
_EXTENSION_BY_CODE = {code: char for char, code in GSM7_EXTENSION.items()}

GSM7_SINGLE = 160  # septets in a message of one segment
GSM7_MULTI = 153  # septets per segment of a concatenated message
UCS2_SINGLE = 70  # UTF-16 code units in a message of one segment
UCS2_MULTI = 67  # UTF-16 code units per segment of a concatenated message

# Where we part from Twilio's table, and why: one space for any space (Twilio gives two for
# no-break spaces and seven for a tab), and the single angle quotes the right way round.
REPLACEMENT_OVERRIDES: dict[str, str] = {
    "\t": " ",
    "\u00a0": " ",
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u0080": " ",
    "\u008d": " ",
    "\u0090": " ",
    "\u009b": " ",
    "\u009f": " ",
    "\u2039": "<",
    "\u203a": ">",
}


def is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def septets(char: str) -> int:
    """GSM-7 septets of one character: 1 basic, 2 extension (escape + character)."""
    return 2 if char in GSM7_EXTENSION else 1


def utf16_units(char: str) -> int:
    """UTF-16 code units of one code point: 2 outside the Basic Multilingual Plane."""
    return 2 if ord(char) > 0xFFFF else 1


@dataclass(frozen=True)
class Part:
    """One segment: the slice of the text it carries and the units it uses."""

    start: int  # index of its first code point in the text
    end: int  # index after its last code point
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Analysis:
    encoding: Encoding
    segments: int  # 0 for an empty text
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2), all segments together
    characters: int  # what a person counts: grapheme clusters, CR LF as two (as Twilio does)
    per_segment: int  # capacity of each segment: 160/153 (GSM-7) or 70/67 (UCS-2)
    remaining: int  # units still free in the last segment
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, each once, in order of use
    replaceable: tuple[str, ...]  # those of them `gsm_replace` can swap for GSM-7 look-alikes
    parts: tuple[Part, ...] = field(default=())

    def cost(self, price_per_segment: Decimal) -> Decimal:
        return price_per_segment * self.segments

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["non_gsm"] = list(self.non_gsm)
        data["replaceable"] = list(self.replaceable)
        data["parts"] = [{"start": p.start, "end": p.end, "units": p.units} for p in self.parts]
        return data


def _split(costs: list[int], single: int, multi: int) -> tuple[Part, ...]:
    """Cut the per-character costs into segments without splitting a character's units."""
    total = sum(costs)
    if total == 0:
        return ()
    if total <= single:
        return (Part(0, len(costs), total),)
    parts: list[Part] = []
    start, used = 0, 0
    for index, cost in enumerate(costs):
        if used + cost > multi:
            parts.append(Part(start, index, used))
            start, used = index, 0
        used += cost
    parts.append(Part(start, len(costs), used))
    return tuple(parts)


_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)
_ZERO_WIDTH_JOINER = "\u200d"


def _extends(char: str) -> bool:
    """Does this code point belong to the cluster before it (marks, selectors, modifiers)?"""
    code = ord(char)
    return (
        unicodedata.category(char) in {"Mn", "Me", "Mc"}
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
        or char == _ZERO_WIDTH_JOINER
    )


def count_characters(text: str) -> int:
    """Characters as a person counts them: an approximation of Unicode grapheme clusters.

    Combining marks, variation selectors, skin-tone modifiers and zero-width-joined emoji join
    the character before them; two regional indicators make one flag. CR LF counts as two, as in
    Twilio's calculator.
    """
    count = 0
    previous = ""
    pending_flag = False
    for char in text:
        code = ord(char)
        if count and (_extends(char) or previous == _ZERO_WIDTH_JOINER):
            previous = char
            continue
        if code in _REGIONAL_INDICATORS:
            if pending_flag:
                pending_flag = False
                previous = char
                continue
            pending_flag = True
        else:
            pending_flag = False
        count += 1
        previous = char
    return count


def analyze(text: str) -> Analysis:
    """Encoding, segments, units and the characters that forced UCS-2, for one message body."""
    chars = list(text)
    non_gsm = tuple(dict.fromkeys(char for char in chars if not is_gsm7(char)))
    if non_gsm:
        encoding: Encoding = UCS2
        costs = [utf16_units(char) for char in chars]
        single, multi = UCS2_SINGLE, UCS2_MULTI
    else:
        encoding = GSM7
        costs = [septets(char) for char in chars]
        single, multi = GSM7_SINGLE, GSM7_MULTI
    parts = _split(costs, single, multi)
    units = sum(costs)
    per_segment = single if len(parts) <= 1 else multi
    remaining = per_segment - parts[-1].units if parts else single
    replaceable = tuple(char for char in non_gsm if _replacement(char) is not None)
    return Analysis(
        encoding=encoding,
        segments=len(parts),
        units=units,
        characters=count_characters(text),
        per_segment=per_segment,
        remaining=remaining,
        non_gsm=non_gsm,
        replaceable=replaceable,
        parts=parts,
    )


@cache
def _table() -> dict[str, str]:
    path = Path(__file__).resolve().parent / "data" / "gsm_replacements.json"
    mappings: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["mappings"]
    return {**mappings, **REPLACEMENT_OVERRIDES}


def _replacement(char: str) -> str | None:
    """A GSM-7 stand-in for one character, "" to drop it, or None when there is none."""
    if is_gsm7(char):
        return char
    table = _table()
    if char in table and all(is_gsm7(c) for c in table[char]):
        return table[char]
    if unicodedata.combining(char):
        return ""  # a stray accent mark: the letter it sat on stays
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
    )
    if stripped and stripped != char and all(is_gsm7(c) for c in stripped):
        return stripped
    return None


def gsm_replace(text: str) -> str:
    """`text` with every character that has a GSM-7 look-alike swapped for it.

    Characters with no look-alike (emoji, most scripts) stay, so the result may still be UCS-2;
    `analyze(result).non_gsm` names them.
    """
    out = []
    for char in text:
        replacement = _replacement(char)
        out.append(char if replacement is None else replacement)
    return "".join(out)


class GsmEncodeError(ValueError):
    pass


def gsm7_encode(text: str, errors: Literal["strict", "replace", "ignore"] = "strict") -> bytes:
    """Unpacked GSM-7 septets, one byte each (an extension character is ESC + its code)."""
    out = bytearray()
    for position, char in enumerate(text):
        if char in GSM7_BASIC:
            out.append(GSM7_BASIC[char])
        elif char in GSM7_EXTENSION:
            out += bytes((ESCAPE, GSM7_EXTENSION[char]))
        elif errors == "replace":
            out.append(GSM7_BASIC["?"])
        elif errors == "strict":
            raise GsmEncodeError(f"character not mapped at position {position} ({char!r})")
    return bytes(out)


def gsm7_decode(data: bytes, errors: Literal["strict", "replace", "ignore"] = "strict") -> str:
    """The text of unpacked GSM-7 septets; bytes above 0x7F or unknown escapes are invalid."""
    out: list[str] = []
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == ESCAPE and index + 1 < len(data):
            char = _EXTENSION_BY_CODE.get(data[index + 1])
            where = f"positions {index}-{index + 1}"
            index += 2
        else:
            char = _BASIC_BY_CODE.get(byte)
            where = f"position {index}"
            index += 1
        if char is not None:
            out.append(char)
        elif errors == "strict":
            raise GsmEncodeError(f"invalid sequence at {where}")
        elif errors == "replace":
            out.append("\ufffd")
    return "".join(out)


def ucs2_encode(text: str) -> bytes:
    """UTF-16 big-endian, as UCS-2 messages carry it (surrogate pairs for non-BMP)."""
    return text.encode("utf-16-be")
