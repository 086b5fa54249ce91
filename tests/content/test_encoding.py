"""SMS encoding against every case of the shared conformance data, and properties of analyze().

tests/content/conformance/ holds copies of shared/conformance/sms_segments.json,
sms_gsm7_charset.json and sms_smart_encoding_map.json, with their `_source` keys naming where each
case comes from (Twilio's message-segment-calculator, smsutil, sms-counter-php, gsm0338; MIT).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carereach.content.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    REPLACEMENT_OVERRIDES,
    GsmEncodeError,
    analyze,
    gsm7_decode,
    gsm7_encode,
    gsm_replace,
    is_gsm7,
    septets,
    ucs2_encode,
    utf16_units,
)

CONFORMANCE = Path(__file__).resolve().parent / "conformance"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))
    return data


SEGMENTS = _load("sms_segments.json")
CHARSET = _load("sms_gsm7_charset.json")
SMART = _load("sms_smart_encoding_map.json")
KNOWN_ENCODINGS = {"GSM-7", "UCS-2"}


def test_sources_are_kept() -> None:
    assert SEGMENTS["_sources"]
    assert CHARSET["_source"]
    assert SMART["_source"]
    assert len(SEGMENTS["cases"]) == 95


@pytest.mark.parametrize("case", SEGMENTS["cases"], ids=lambda case: case["id"])
def test_segments_conformance(case: dict[str, Any]) -> None:
    body = case["body"]
    result = analyze(body)
    expected_encoding = case.get("expected_encoding")
    if expected_encoding in KNOWN_ENCODINGS:
        assert result.encoding == expected_encoding
    elif expected_encoding is not None:
        # A national shift table (Turkish) is opt-in for sms-counter-php; with the default
        # GSM-7 tables we, like Twilio and the carriers we use, send 'ç' as UCS-2.
        assert "shift table" in expected_encoding
        assert result.encoding == "UCS-2"
    if "expected_segments" in case:
        assert result.segments == case["expected_segments"]
    if "expected_number_of_characters" in case:
        assert result.characters == case["expected_number_of_characters"]
    if "graphemes" in case:
        assert result.characters == case["graphemes"]
    if "utf16_units" in case and result.encoding == "UCS-2":
        assert result.units == case["utf16_units"]
    if "gsm7_septets_derived" in case:
        assert result.units == case["gsm7_septets_derived"]
    if expected_encoding in KNOWN_ENCODINGS:
        if "length" in case:
            assert result.units == case["length"]
        if "remaining" in case:
            assert result.remaining == case["remaining"]
    if "per_message" in case:
        assert result.per_segment == case["per_message"]
    if "expected_non_gsm_characters" in case:
        assert list(result.non_gsm) == case["expected_non_gsm_characters"]
    if "expected_is_gsm7" in case:
        assert (result.encoding == "GSM-7") is case["expected_is_gsm7"]
    if "expected_gsm7_bytes_hex" in case:
        assert gsm7_encode(body).hex() == case["expected_gsm7_bytes_hex"]
    if "expected_ucs2_bytes_hex" in case:
        assert ucs2_encode(body).hex() == case["expected_ucs2_bytes_hex"]
    if "expected_length_units" in case:
        assert sum(utf16_units(char) for char in body) == case["expected_length_units"]
    if "expected_sanitized" in case:
        assert gsm_replace(body) == case["expected_sanitized"]
    if "smart_encoded_body" in case:
        replaced = gsm_replace(body)
        assert replaced == case["smart_encoded_body"]
        assert analyze(replaced).encoding == case["smart_encoded_expected_encoding"]
        if "smart_encoded_expected_segments" in case:
            assert analyze(replaced).segments == case["smart_encoded_expected_segments"]
    expected_parts = case.get("parts", [])
    if expected_parts:
        assert len(result.parts) == len(expected_parts)
    for got, expected in zip(result.parts, expected_parts, strict=False):
        if "length" in expected:
            assert got.length == expected["length"]
        if "septets" in expected:
            assert got.units == expected["septets"]
        if "bytes" in expected:
            assert got.units * 2 == expected["bytes"]
        if "content_slice" in expected:
            assert [got.start, got.end] == expected["content_slice"]
    if "layout" in case["id"]:
        # Twilio's 3-segment layouts end on one character each: 153 + 153 + 1 / 67 + 67 + 1.
        assert result.parts[-1].length == 1


@pytest.mark.parametrize("row", CHARSET["rows"], ids=lambda row: row["codepoint"])
def test_gsm7_charset_conformance(row: dict[str, Any]) -> None:
    char = row["char"]
    assert is_gsm7(char)
    assert septets(char) == row["septets"]
    assert gsm7_encode(char).hex() == row["gsm7_hex"]
    assert gsm7_decode(bytes.fromhex(row["gsm7_hex"])) == char
    table = GSM7_BASIC if row["table"] == "basic" else GSM7_EXTENSION
    assert char in table
    assert analyze(char * 3).encoding == "GSM-7"


def test_charset_has_nothing_we_lack_and_we_have_nothing_extra() -> None:
    rows = {row["char"] for row in CHARSET["rows"]}
    assert rows == set(GSM7_BASIC) | set(GSM7_EXTENSION)
    assert not is_gsm7("`")  # backtick: not representable (DOMAIN.md 4)


@pytest.mark.parametrize(
    "case", CHARSET["codec_cases"], ids=lambda case: f"{case['op']}-{case.get('errors', '')}"
)
def test_gsm7_codec_conformance(case: dict[str, Any]) -> None:
    errors = case.get("errors", "strict")
    if case["op"] == "encode":
        if "expected_error" in case:
            with pytest.raises(GsmEncodeError, match=r"character not mapped at position 2"):
                gsm7_encode(case["input"], errors)
        else:
            assert gsm7_encode(case["input"], errors).hex() == case["expected_hex"]
    else:
        data = bytes.fromhex(case["input_hex"])
        if "expected_error" in case:
            with pytest.raises(GsmEncodeError) as raised:
                gsm7_decode(data, errors)
            assert str(raised.value) == case["expected_error"]
        else:
            assert gsm7_decode(data, errors) == case["expected"]


@pytest.mark.parametrize(
    "mapping", SMART["mappings"], ids=lambda mapping: mapping["input_codepoints"]
)
def test_smart_encoding_map(mapping: dict[str, str]) -> None:
    """Each of Twilio's replacements, or our override of it; the result is always GSM-7."""
    char = mapping["input"]
    expected = REPLACEMENT_OVERRIDES.get(char, mapping["expected"])
    assert gsm_replace(f"a{char}b") == f"a{expected}b"
    assert analyze(gsm_replace(f"a{char}b")).encoding == "GSM-7"


def test_domain_examples_and_what_forced_ucs2() -> None:
    rsquo, ldquo, rdquo, ndash = "\u2019", "\u201c", "\u201d", "\u2013"
    text = f"It{rsquo}s {ldquo}time{rdquo} {ndash} now 💊"
    result = analyze(text)
    assert result.encoding == "UCS-2"
    assert result.non_gsm == (rsquo, ldquo, rdquo, ndash, "💊")
    assert result.replaceable == (rsquo, ldquo, rdquo, ndash)
    replaced = gsm_replace(text)
    assert replaced == 'It\'s "time" - now 💊'
    assert analyze(replaced).non_gsm == ("💊",)
    assert analyze(gsm_replace("Café — más")).encoding == "GSM-7"
    assert analyze("").segments == 0


def test_cost_and_dict() -> None:
    result = analyze("x" * 161)
    assert result.cost(Decimal("0.01")) == Decimal("0.02")
    data = result.as_dict()
    assert data["encoding"] == "GSM-7"
    assert data["parts"] == [
        {"start": 0, "end": 153, "units": 153},
        {"start": 153, "end": 161, "units": 8},
    ]
    json.dumps(data)


@given(st.text(max_size=400))
def test_parts_cover_the_text_and_never_exceed_capacity(text: str) -> None:
    result = analyze(text)
    assert sum(part.units for part in result.parts) == result.units
    if result.parts:
        assert result.parts[0].start == 0
        assert result.parts[-1].end == len(text)
        for before, after in zip(result.parts, result.parts[1:], strict=False):
            assert before.end == after.start
    capacity = result.per_segment
    assert all(part.units <= capacity for part in result.parts)
    assert 0 <= result.remaining <= capacity


@given(st.text(alphabet=st.sampled_from(sorted(set(GSM7_BASIC) | set(GSM7_EXTENSION)))))
def test_gsm7_round_trip(text: str) -> None:
    assert gsm7_decode(gsm7_encode(text)) == text
    assert analyze(text).encoding == "GSM-7"


@given(st.text(max_size=200))
def test_replacing_never_adds_non_gsm(text: str) -> None:
    before = set(analyze(text).non_gsm)
    assert set(analyze(gsm_replace(text)).non_gsm) <= before
