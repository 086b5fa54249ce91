"""X-Twilio-Signature against every case of the shared conformance data.

tests/channels/conformance/twilio_webhook_signature.json is a copy of
shared/conformance/twilio_webhook_signature.json: vectors from twilio/twilio-python
(tests/unit/test_request_validator.py) and twilio/twilio-node (spec/validation.spec.js,
spec/unit/webhooks/webhooks.spec.js), MIT, Copyright (C) 2023 Twilio, Inc.; `derived` entries
were computed by the researcher with plain HMAC-SHA1. Each case keeps its `source`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from carereach.channels.types.twilio.transport import (
    TwilioTransport,
    body_sha256,
    compute_signature,
    signature_valid,
    url_variants,
)

DATA = json.loads(
    (Path(__file__).resolve().parent / "conformance" / "twilio_webhook_signature.json").read_text()
)
TOKEN = DATA["auth_token"]
CASES: list[dict[str, Any]] = DATA["cases"]
NODE = DATA["node_webhooks_spec_behaviour"]
SID = "AC" + "0" * 32


def _params(case: dict[str, Any]) -> dict[str, Any]:
    if "params_multi" in case:
        merged: dict[str, list[str]] = {}
        for name, value in case["params_multi"]:
            merged.setdefault(name, []).append(value)
        return merged
    return dict(case.get("params", {}))


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["id"] for case in cases]


def test_every_case_is_covered_below() -> None:
    covered = {c["id"] for c in COMPUTED + VALIDATED + HASHED + BODY_MISMATCH}
    assert covered == {c["id"] for c in CASES}
    assert all("source" in c or c.get("derived") for c in CASES)


COMPUTED = [c for c in CASES if "expected_signature" in c]


@pytest.mark.parametrize("case", COMPUTED, ids=_ids(COMPUTED))
def test_compute_signature(case: dict[str, Any]) -> None:
    assert compute_signature(TOKEN, case["url"], _params(case)) == case["expected_signature"]


VALIDATED = [c for c in CASES if "signature" in c]


@pytest.mark.parametrize("case", VALIDATED, ids=_ids(VALIDATED))
def test_validate(case: dict[str, Any]) -> None:
    body = case["body"].encode() if "body" in case else None
    assert (
        signature_valid(TOKEN, case["url"], _params(case), case["signature"], body=body)
        is case["valid"]
    )
    # The same through the transport, with the header as a carrier sends it.
    transport = TwilioTransport(account_sid=SID, auth_token=TOKEN)
    headers = {"X-Twilio-Signature": case["signature"]}
    assert transport.verify(case["url"], _params(case), headers, body=body) is case["valid"]


HASHED = [c for c in CASES if "expected_sha256_hex" in c]


@pytest.mark.parametrize("case", HASHED, ids=_ids(HASHED))
def test_body_hash(case: dict[str, Any]) -> None:
    assert body_sha256(case["body"].encode()) == case["expected_sha256_hex"]


BODY_MISMATCH = [c for c in CASES if "bodySHA256" in c]


@pytest.mark.parametrize("case", BODY_MISMATCH, ids=_ids(BODY_MISMATCH))
def test_a_body_that_does_not_match_its_hash_fails(case: dict[str, Any]) -> None:
    url = f"https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256={case['bodySHA256']}"
    signed = compute_signature(TOKEN, url, {})  # the URL itself is correctly signed
    assert signature_valid(TOKEN, url, {}, signed, body=case["body"].encode()) is case["valid"]


def test_a_json_body_url_without_the_body_fails() -> None:
    case = next(c for c in CASES if c["id"] == "json_body_with_bodySHA256")
    assert not signature_valid(TOKEN, case["url"], {}, case["signature"])


@pytest.mark.parametrize(
    "case", NODE["cases"], ids=[f"node-{n}" for n in range(len(NODE["cases"]))]
)
def test_node_webhooks_behaviour(case: dict[str, Any]) -> None:
    """Signed over one spelling of the URL, checked against another (twilio-node's spec)."""
    params = case.get("params", {})
    signature = compute_signature(NODE["auth_token"], case["sign_url"], params)
    assert (
        signature_valid(NODE["auth_token"], case["validate_url"], params, signature)
        is case["valid"]
    )


def test_missing_or_garbled_headers_fail() -> None:
    transport = TwilioTransport(account_sid=SID, auth_token=TOKEN)
    case = VALIDATED[0]
    assert not transport.verify(case["url"], _params(case), {})
    assert not transport.verify(case["url"], _params(case), {"X-Twilio-Signature": ""})
    assert not transport.verify(case["url"], _params(case), {"X-Twilio-Signature": "ü≠"})
    # Header names are case-insensitive on the wire.
    assert transport.verify(case["url"], _params(case), {"x-twilio-signature": case["signature"]})


def test_ipv6_and_credentials_keep_their_shape() -> None:
    assert set(url_variants("http://[::1]:8001/hooks?x=1")) == {
        "http://[::1]/hooks?x=1",
        "http://[::1]:8001/hooks?x=1",
    }
    assert url_variants("https://h.example/p?")[0] == "https://h.example/p?"
    assert set(url_variants("https://u:p@h.example/p")) == {
        "https://u:p@h.example/p",
        "https://u:p@h.example:443/p",
    }


fields = st.dictionaries(
    st.text(min_size=1, max_size=12), st.text(max_size=30), min_size=0, max_size=6
)


@given(params=fields, token=st.text(min_size=1, max_size=40))
def test_signed_forms_verify_and_any_change_breaks_them(params: dict[str, str], token: str) -> None:
    assume(params.get("Tampered") != "1")
    url = "https://care.example.org/hooks/twilio/status"
    signature = compute_signature(token, url, params)
    assert signature_valid(token, url, params, signature)
    assert not signature_valid(token, url, {**params, "Tampered": "1"}, signature)
    assert not signature_valid(token + "x", url, params, signature)
