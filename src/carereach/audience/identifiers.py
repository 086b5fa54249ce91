"""Checking and normalizing the identifiers a contact carries: NPI, phone, e-mail, zone, language.

Pure functions (no database, no Django) so importers can check a million rows cheaply and the
rules are tested without fixtures. Each check returns the canonical form or raises
`ValidationError` naming the field and one specific reason. Reasons never repeat the value:
callers already hold it (the draft validator shows it next to the reason), and phone numbers and
e-mail addresses are PHI that must not travel into logs through an exception message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as phone_timezone

from carereach.errors import ValidationError

# --- NPI -----------------------------------------------------------------------------------------

NPI_PREFIX = "80840"  # ISO 7812 card-issuer prefix for US health; part of the Luhn payload


def luhn_check_digit(payload: str) -> int:
    """The Luhn (mod 10) digit that makes `payload` + digit pass; doubles from the right."""
    backwards = payload[::-1]
    total = sum(map(_LUHN_DOUBLED.__getitem__, map(int, backwards[0::2])))
    total += sum(map(int, backwards[1::2]))
    return (10 - total % 10) % 10


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def npi_check_digit(base: str) -> int:
    """Check digit for a 9-digit NPI base: Luhn over the base with the 80840 prefix (CMS rule)."""
    if len(base) != 9 or not (base.isascii() and base.isdigit()):
        raise ValueError("an NPI base is 9 ASCII digits")
    return luhn_check_digit(NPI_PREFIX + base)


def npi_check(value: str) -> str:
    """Return the 10-digit NPI, or raise naming which CMS rule it breaks.

    Surrounding whitespace is dropped (spreadsheets pad cells); anything else, including dashes
    or a missing leading digit, is refused rather than guessed at.
    """
    npi = value.strip()
    if len(npi) != 10 or not (npi.isascii() and npi.isdigit()):
        raise ValidationError("an NPI is exactly 10 digits", field="npi")
    if npi[0] not in "12":
        raise ValidationError("an NPI starts with 1 or 2", field="npi")
    if npi_check_digit(npi[:9]) != int(npi[9]):
        raise ValidationError("NPI check digit does not match (mistyped digit?)", field="npi")
    return npi


# --- Phone ---------------------------------------------------------------------------------------


class LineType(StrEnum):
    MOBILE = "mobile"  # can receive texts
    LANDLINE = "landline"  # fixed line: voice, never SMS
    VOIP = "voip"  # internet number; texts only if the carrier enables them
    UNKNOWN = "unknown"  # the numbering plan does not say (most of North America; see below)


# libphonenumber reports FIXED_LINE_OR_MOBILE for almost every NANP (+1) number: blocks are not
# allocated by service type and numbers port between wireline and wireless, so the metadata
# cannot tell. Guessing "mobile" would text landlines and guessing "landline" would suppress
# valid SMS, so it stays unknown until a carrier lookup answers. Toll-free, pager, personal and
# shared-cost numbers are also unknown: they route to whatever the owner chose.
_LINE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: LineType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
    phonenumbers.PhoneNumberType.VOIP: LineType.VOIP,
}

_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "missing or unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the dialing prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    phonenumbers.NumberParseException.TOO_LONG: "too long to be a phone number",
}

_POSSIBLE_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short for its country",
    phonenumbers.ValidationResult.TOO_LONG: "too long for its country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
}


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number in E.164 with what its numbering plan says about it."""

    e164: str  # +14155552671
    region: str | None  # ISO 3166 region the number belongs to; None for non-geographic
    line_type: LineType
    extension: str | None = None  # kept apart: E.164 has no extensions, voice may dial them


def phone_normalize(value: str, *, default_region: str = "US") -> PhoneNumber:
    """Parse a phone number as typed (national or international form) into E.164.

    `default_region` applies only to numbers written without a country code. Numbers that parse
    but are not assigned in their country's plan (for example US area code 200) are refused:
    sending to them can only fail. North American numbers written the usual ways take a
    shorter road to the same answer (see `_nanp_shape`).
    """
    text = value.strip()
    if not text:
        raise ValidationError("phone number is empty", field="phone")
    if text[0] == "+" or default_region.upper() == "US":
        shape = _NANP_SHAPE.fullmatch(text)  # a leading "+" can only match as "+1"
        if shape is not None:
            return _nanp_number((shape[2] or shape[3]) + shape[4] + shape[5])
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as error:
        reason = _PARSE_REASONS.get(error.error_type, "not a phone number")
        raise ValidationError(reason, field="phone") from None
    return _judge(number)


def _judge(number: phonenumbers.PhoneNumber) -> PhoneNumber:
    """What the numbering plan says about a parsed number, or the reason it refuses it."""
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        raise ValidationError(_POSSIBLE_REASONS.get(possible, "not a phone number"), field="phone")
    # is_valid_number would look the region up itself; it is the costly step for +1 numbers
    # (25 regions share the code), so look it up once and validate against it.
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise ValidationError(f"not a valid number for region {where}", field="phone")
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=region if region and region.isalpha() and region != "ZZ" else None,
        line_type=_LINE_TYPES.get(phonenumbers.number_type(number), LineType.UNKNOWN),
        extension=number.extension or None,
    )


# The North American shortcut. A number of country code 1 written as 10 digits whose area code
# starts with 2-9, alone or after "1" or "+1", with at most one space, dot or hyphen between the
# groups and the area code optionally in parentheses ("+14155550123", "(415) 555-0123",
# "1-415-555-0123"), is what phonenumbers.parse reads as country code 1 with those 10 digits:
# the regex stands in for it. What the plan says about such a number (possible, valid, region,
# line type, time zones) depends only on its first NANP_DECIDING_DIGITS digits: every pattern
# of the 25 regions sharing the code ends in at least 3 digits that may each be anything (the
# tightest are Barbados and Jamaica, which decide on the 7th digit), and the time zone table
# has no prefix longer than the area code and exchange. So the verdict on the first number
# with those digits is kept and reused. tests/audience/test_identifiers.py recomputes that
# property from the installed metadata and compares both roads on random numbers in every
# accepted shape and on the conformance cases.
NANP_DECIDING_DIGITS = 7
_NANP_SHAPE = re.compile(
    r"(?:(\+)?1[ .\-]?)?"  # "1" or "+1", then maybe a separator
    r"(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .\-]?"  # area code, maybe in parentheses
    r"([0-9]{3})[ .\-]?([0-9]{4})",  # exchange and line
    re.ASCII,
)
_NANP_CACHE_LIMIT = 1 << 16  # verdicts kept; the cache starts over when full
_NANP_VERDICTS: dict[str, PhoneNumber | ValidationError] = {}
_NANP_ZONES: dict[str, str | None] = {}


def _nanp_number(digits: str) -> PhoneNumber:
    """The verdict on +1 `digits` (10 digits, area code 2-9), from the cache when it can."""
    head = digits[:NANP_DECIDING_DIGITS]
    verdict = _NANP_VERDICTS.get(head)
    if verdict is None:
        try:
            verdict = _judge(phonenumbers.PhoneNumber(country_code=1, national_number=int(digits)))
        except ValidationError as error:
            verdict = error
        if len(_NANP_VERDICTS) >= _NANP_CACHE_LIMIT:
            _NANP_VERDICTS.clear()
        _NANP_VERDICTS[head] = verdict
    if isinstance(verdict, ValidationError):
        raise ValidationError(verdict.message, field="phone")
    return PhoneNumber(
        e164="+1" + digits, region=verdict.region, line_type=verdict.line_type, extension=None
    )


# --- E-mail --------------------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# The ASCII characters for which str.isspace() is true or whose Unicode category is C (control).
_ASCII_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def email_normalize(value: str) -> str:
    """Return the address with its domain lower-cased, or raise with what is wrong.

    The local part keeps its case (RFC 5321 lets servers treat it as case-sensitive). Quoted
    local parts and IP-literal domains are refused: legal, but in contact data they are typos.
    Internationalized domains are accepted and checked through their IDNA (xn--) form.
    """
    address = value.strip()
    if not address:
        raise ValidationError("e-mail address is empty", field="email")
    if len(address) > 254:
        raise ValidationError("e-mail address is longer than 254 characters", field="email")
    if address.isascii():  # the common case, without a call per character
        spaced = _ASCII_SPACE_OR_CONTROL.search(address) is not None
    else:
        spaced = any(char.isspace() or unicodedata.category(char)[0] == "C" for char in address)
    if spaced:
        raise ValidationError("e-mail address contains a space or control character", field="email")
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValidationError("e-mail address needs a name before an @", field="email")
    if len(local) > 64:
        raise ValidationError("the part before the @ is longer than 64 characters", field="email")
    if not _LOCAL.fullmatch(local):
        raise ValidationError("the part before the @ has a character not allowed", field="email")
    domain = _domain_check(domain)
    return f"{local}@{domain}"


@lru_cache(maxsize=4096)  # a file has few distinct domains; a refused one is not kept
def _domain_check(domain: str) -> str:
    """The domain of an address, lower-cased, or raise: a host name of two labels or more."""
    domain = domain.lower().rstrip(".")
    if domain.isascii():
        # The IDNA codec returns an ASCII name as it is (refusing only empty or over-long labels,
        # which the label check below refuses with the same reason).
        ascii_domain = domain
    else:
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError("the domain is not a valid host name", field="email") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValidationError("the domain is not a valid host name", field="email")
    if labels[-1].isdigit():
        raise ValidationError("the domain has no top-level name", field="email")
    return domain


# --- Time zone and language ----------------------------------------------------------------------

# Names the zone database ships that are not places: they would silently mean "server time".
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _zones() -> dict[str, str]:
    """Every IANA zone name, keyed case-insensitively so "america/chicago" finds its spelling."""
    return {
        name.lower(): name
        for name in available_timezones()
        if name not in _NOT_PLACES and not name.startswith(("posix/", "right/"))
    }


def timezone_check(value: str) -> str:
    """Return the IANA zone name in its canonical spelling, or raise."""
    name = _zones().get(value.strip().lower())
    if name is None:
        raise ValidationError("not an IANA time zone (e.g. America/Chicago)", field="time_zone")
    return name


_LANGUAGE_TAG = re.compile(
    r"(?P<language>[a-z]{2,3})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)"
)


def language_check(value: str) -> str:
    """Return a BCP 47 language tag in canonical case, or raise (see `_language_check`)."""
    return _language_check(value.strip())


@lru_cache(maxsize=1024)  # a file has few distinct tags; a refused one is not kept
def _language_check(value: str) -> str:
    """Return a BCP 47 language tag in canonical case (en, es-MX, zh-Hant-TW), or raise.

    Only the shape is checked (language, script, region, variants); extensions and private-use
    tags are refused because messaging picks content by language and region only. Underscores
    (en_US, as POSIX locales write them) are read as hyphens.
    """
    match = _LANGUAGE_TAG.fullmatch(value.strip().replace("_", "-").lower())
    if match is None:
        raise ValidationError("not a language tag (e.g. en, es-MX)", field="language")
    parts = [match["language"]]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts.extend(variant for variant in match["variants"].split("-") if variant)
    return "-".join(parts)


# --- Time zone inference -------------------------------------------------------------------------

# USPS state and territory code -> the zone most of its people live in.
_STATE_ZONES = {
    "AL": "America/Chicago",
    "AK": "America/Anchorage",  # the western Aleutians (America/Adak) share ZIP prefix 995
    "AZ": "America/Phoenix",  # no DST; the Navajo Nation's DST is not separable by ZIP prefix
    "AR": "America/Chicago",
    "CA": "America/Los_Angeles",
    "CO": "America/Denver",
    "CT": "America/New_York",
    "DE": "America/New_York",
    "DC": "America/New_York",
    "FL": "America/New_York",
    "GA": "America/New_York",
    "HI": "Pacific/Honolulu",
    "ID": "America/Boise",
    "IL": "America/Chicago",
    "IN": "America/Indiana/Indianapolis",
    "IA": "America/Chicago",
    "KS": "America/Chicago",  # four western counties are Mountain; they share prefixes
    "KY": "America/New_York",
    "LA": "America/Chicago",
    "ME": "America/New_York",
    "MD": "America/New_York",
    "MA": "America/New_York",
    "MI": "America/Detroit",  # four Upper Peninsula counties are Central; they share prefixes
    "MN": "America/Chicago",
    "MS": "America/Chicago",
    "MO": "America/Chicago",
    "MT": "America/Denver",
    "NE": "America/Chicago",
    "NV": "America/Los_Angeles",
    "NH": "America/New_York",
    "NJ": "America/New_York",
    "NM": "America/Denver",
    "NY": "America/New_York",
    "NC": "America/New_York",
    "ND": "America/Chicago",
    "OH": "America/New_York",
    "OK": "America/Chicago",
    "OR": "America/Los_Angeles",
    "PA": "America/New_York",
    "RI": "America/New_York",
    "SC": "America/New_York",
    "SD": "America/Chicago",
    "TN": "America/Chicago",
    "TX": "America/Chicago",
    "UT": "America/Denver",
    "VT": "America/New_York",
    "VA": "America/New_York",
    "WA": "America/Los_Angeles",
    "WV": "America/New_York",
    "WI": "America/Chicago",
    "WY": "America/Denver",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan",
    "AS": "Pacific/Pago_Pago",
    "FM": "Pacific/Chuuk",  # Pohnpei and Kosrae are an hour ahead; Chuuk is the most populous
    "MH": "Pacific/Majuro",
    "PW": "Pacific/Palau",
}

# States split between zones where whole 3-digit ZIP prefixes (sectional centers) fall on the
# minority side. Prefixes that straddle a line are left to the state's majority zone.
_ZIP_PREFIX_ZONES = {
    "FL": {"324": "America/Chicago", "325": "America/Chicago"},  # Panama City, Pensacola
    "ID": {"835": "America/Los_Angeles", "838": "America/Los_Angeles"},  # Lewiston, panhandle
    "IN": dict.fromkeys(("463", "464", "476", "477"), "America/Chicago"),  # Gary, Evansville
    "KY": dict.fromkeys(("420", "421", "422", "423", "424"), "America/Chicago"),  # western KY
    "ND": {"586": "America/Denver"},  # Dickinson
    "NE": {"693": "America/Denver"},  # Alliance, Scottsbluff (panhandle)
    "OR": {"979": "America/Boise"},  # Ontario (Malheur County)
    "SD": {"577": "America/Denver"},  # Rapid City (West River)
    "TN": dict.fromkeys(("373", "374", "376", "377", "378", "379"), "America/New_York"),  # East
    "TX": dict.fromkeys(("798", "799", "885"), "America/Denver"),  # El Paso
}

_ZIP = re.compile(r"(\d{5})(?:-?\d{4})?")


def zone_from_us_postal(state: str, zip_code: str | None) -> str | None:
    """Best IANA zone for a US postal address, or None for an unknown state (or AA/AE/AP).

    Used only when the person has not stated a zone, to keep sends inside local quiet hours.
    """
    code = state.strip().upper()
    zone = _STATE_ZONES.get(code)
    if zone is None:
        return None
    match = _ZIP.fullmatch(zip_code.strip()) if zip_code else None
    if match:
        zone = _ZIP_PREFIX_ZONES.get(code, {}).get(match[1][:3], zone)
    return zone


_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}", re.ASCII)


def zone_from_phone(e164: str) -> str | None:
    """The zone a number's prefix places it in, when the prefix names exactly one zone.

    Area codes that span zones, mobile ranges and non-geographic numbers give None: a guess
    here decides when a text lands, so no answer beats a wrong one. A North American number's
    answer depends on its first digits only (see `NANP_DECIDING_DIGITS`) and is kept.
    """
    if _NANP_E164.fullmatch(e164):
        head = e164[2 : 2 + NANP_DECIDING_DIGITS]
        if head in _NANP_ZONES:
            return _NANP_ZONES[head]
        zone = _zone_from_phone(e164)
        if len(_NANP_ZONES) >= _NANP_CACHE_LIMIT:
            _NANP_ZONES.clear()
        _NANP_ZONES[head] = zone
        return zone
    return _zone_from_phone(e164)


def _zone_from_phone(e164: str) -> str | None:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    zones = phone_timezone.time_zones_for_number(number)
    if len(zones) != 1:
        return None
    zone: str = zones[0]
    return zone if zone.lower() in _zones() else None
