"""The shortcuts in `identifiers` give the answers of the roads they skip.

Phones: the North American shortcut in `phone_normalize` and `zone_from_phone` gives
phonenumbers' own answers.

Two claims make it exact (see `identifiers.NANP_DECIDING_DIGITS`): the shapes the regex accepts
are read by phonenumbers.parse as country code 1 with those ten digits, and the numbering plan's
verdict on such a number depends on its first seven digits only. The second is checked against
the installed metadata itself (a phonenumbers upgrade that breaks it fails here), and both are
checked by comparing the two roads on the conformance cases and on random numbers written in
every accepted shape, the random tails sharing heads so that cached verdicts are reused.

E-mail: an ASCII address skips the per-character Unicode check and the IDNA codec;
`email_normalize` is compared with the original, character by character version.
"""

from __future__ import annotations

import json
import re
import re._parser as sre
import unicodedata  # the regex parser: reads the metadata's patterns as trees
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, tzdata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from carereach.audience import identifiers
from carereach.audience.identifiers import (
    NANP_DECIDING_DIGITS,
    PhoneNumber,
    email_normalize,
    phone_normalize,
    zone_from_phone,
)
from carereach.errors import ValidationError

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
_DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
    "no_international_dialling",
)


def slow(text: str, region: str = "US") -> PhoneNumber | str:
    """phonenumbers' own reading: parse, then the same checks the slow road runs."""
    try:
        number = phonenumbers.parse(text.strip(), region)
        return identifiers._judge(number)
    except phonenumbers.NumberParseException as error:
        return identifiers._PARSE_REASONS.get(error.error_type, "not a phone number")
    except ValidationError as error:
        return error.message


def fast(text: str, region: str = "US") -> PhoneNumber | str:
    try:
        return phone_normalize(text, default_region=region)
    except ValidationError as error:
        return error.message


# -- the metadata: trailing digits the patterns never look at -----------------------------------


def _any_digit(item: tuple[Any, Any]) -> bool:
    op, av = item
    return op == sre.IN and av in (
        [(sre.CATEGORY, sre.CATEGORY_DIGIT)],
        [(sre.RANGE, (ord("0"), ord("9")))],
    )


def free_tail(items: Any) -> int:
    """How many trailing characters every match of the pattern takes with a bare digit class."""
    items = list(items)
    free = 0
    while items:
        op, av = items.pop()
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and len(av[2]) == 1 and _any_digit(av[2][0]):
            low, high, _ = av
            free += low
            if low != high:
                return free
        elif _any_digit((op, av)):
            free += 1
        elif op == sre.SUBPATTERN:
            return free + free_tail(av[-1])
        elif op == sre.BRANCH:
            return free + min(free_tail(branch) for branch in av[1])
        else:
            return free
    return free


def test_free_tail_reads_patterns() -> None:
    assert free_tail(sre.parse(r"246521[0369]\d{3}")) == 3
    assert free_tail(sre.parse(r"(?:2\d|3[0-4])\d{6}|4\d{2,5}")) == 2
    assert free_tail(sre.parse(r"1[2-9]")) == 0


def test_nanp_patterns_never_look_past_the_deciding_digits() -> None:
    regions = COUNTRY_CODE_TO_REGION_CODE[1]
    assert len(regions) > 20
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        assert metadata is not None
        for name in _DESCS:
            desc = getattr(metadata, name)
            if desc is None or desc.national_number_pattern is None:
                continue
            tail = free_tail(sre.parse(desc.national_number_pattern))
            assert 10 - tail <= NANP_DECIDING_DIGITS, (region, name)
        if metadata.leading_digits:  # matched at the start of the number
            _, widest = sre.parse(metadata.leading_digits).getwidth()
            assert widest <= NANP_DECIDING_DIGITS, region


def test_nanp_time_zones_are_keyed_by_short_prefixes() -> None:
    longest = max(len(prefix) for prefix in tzdata.TIMEZONE_DATA if prefix.startswith("1"))
    assert longest - 1 <= NANP_DECIDING_DIGITS


# -- both roads, case by case ----------------------------------------------------------------


def _conformance() -> list[dict[str, Any]]:
    data = json.loads((CONFORMANCE / "phone_e164_normalization.json").read_text("utf-8"))
    cases: list[dict[str, Any]] = data["cases"]
    return cases


@pytest.mark.parametrize("case", _conformance(), ids=lambda case: repr(case["input"]))
def test_conformance_cases_agree(case: dict[str, Any]) -> None:
    region = case.get("region") or "ZZ"
    assert fast(case["input"], region) == slow(case["input"], region)


SHAPES = [
    "{a}{e}{l}",
    "1{a}{e}{l}",
    "+1{a}{e}{l}",
    "({a}) {e}-{l}",
    "({a}){e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a} {e} {l}",
    "1-{a}-{e}-{l}",
    "1 ({a}) {e}-{l}",
    "+1 {a} {e} {l}",
    "+1-{a}-{e}-{l}",
    "+1.{a}.{e}.{l}",
    "+1 ({a}) {e}-{l}",
    "+1({a}){e}{l}",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_takes_the_shortcut(shape: str) -> None:
    text = shape.format(a="415", e="555", l="2671")
    assert identifiers._NANP_SHAPE.fullmatch(text), text
    assert (
        fast(text) == slow(text) == PhoneNumber("+14155552671", "US", identifiers.LineType.UNKNOWN)
    )


_heads = st.tuples(st.sampled_from("23456789"), st.text("0123456789", min_size=6, max_size=6)).map(
    "".join
)
_tails = st.text("0123456789", min_size=3, max_size=3)


@settings(max_examples=400, deadline=None)
@given(_heads, st.lists(_tails, min_size=1, max_size=4), st.sampled_from(SHAPES))
def test_random_nanp_numbers_agree(head: str, tails: list[str], shape: str) -> None:
    for tail in tails:
        digits = head + tail
        text = shape.format(a=digits[:3], e=digits[3:6], l=digits[6:])
        assert fast(text) == slow(text), text
        assert fast(text, "GB") == slow(text, "GB"), text  # only "+1" forms may take it there
        assert zone_from_phone("+1" + digits) == identifiers._zone_from_phone("+1" + digits)


@settings(max_examples=400, deadline=None)
@given(st.text("0123456789 .-()+", max_size=18))
def test_whatever_the_shortcut_accepts_parses_as_country_code_1(text: str) -> None:
    shape = identifiers._NANP_SHAPE.fullmatch(text)
    if shape is None:
        return
    number = phonenumbers.parse(text, "US")
    assert number.country_code == 1
    assert str(number.national_number) == (shape[2] or shape[3]) + shape[4] + shape[5]
    assert not number.extension
    assert fast(text) == slow(text)


def test_refusals_come_back_from_the_cache_the_same() -> None:
    for _ in range(2):
        with pytest.raises(ValidationError, match="not a valid number for region US") as caught:
            phone_normalize("+1 200 555 0123")
        assert caught.value.field == "phone"


# -- e-mail ------------------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def email_reference(value: str) -> str:
    """`email_normalize` as it was before its ASCII shortcut, kept here to compare with."""
    address = value.strip()
    if not address:
        return "e-mail address is empty"
    if len(address) > 254:
        return "e-mail address is longer than 254 characters"
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in address):
        return "e-mail address contains a space or control character"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "e-mail address needs a name before an @"
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters"
    if not _LOCAL.fullmatch(local):
        return "the part before the @ has a character not allowed"
    domain = domain.lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "the domain is not a valid host name"
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return "the domain is not a valid host name"
    if labels[-1].isdigit():
        return "the domain has no top-level name"
    return f"{local}@{domain}"


def email_now(value: str) -> str:
    try:
        return email_normalize(value)
    except ValidationError as error:
        return error.message


_email_parts = st.sampled_from(
    ["a", "Ann", "b.c", "x+y", "@", ".", "..", "-", "_", "1", "example", "com", "ORG", "Ex-Ample",
     " ", "\t", "\x00", "\x7f", "\x1f", "é", "ü", "münchen", "xn--mnchen-3ya", "a" * 63,
     "a" * 64, "\u200b", "\u00a0", "'", '"', "(", "[1.2.3.4]", "io", "2"]
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(_email_parts, max_size=10).map("".join))
def test_email_shortcut_agrees_with_the_original(value: str) -> None:
    assert email_now(value) == email_reference(value)


@pytest.mark.parametrize(
    "value",
    ["ann@example.org", "Ann@EXAMPLE.org.", "a@b", "a@-b.com", "a@" + "b" * 64 + ".com",
     "a@b..com", "a@b.123", "a b@c.com", "a@c.com\x7f", "ann@münchen.de", "ann@xn--mnchen-3ya.de",
     "ann@ex ample.com", "ann@.example.com", "@example.com", "x" * 255],
)  # fmt: skip
def test_email_cases_agree_with_the_original(value: str) -> None:
    assert email_now(value) == email_reference(value)
