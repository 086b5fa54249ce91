"""Programs and consented contacts for consent tests."""

from __future__ import annotations

from typing import Any

from carereach.consent.models import Program
from carereach.consent.services import program_save


def program(code: str = "podcast", **overrides: Any) -> Program:
    fields: dict[str, Any] = {
        "code": code,
        "name": f"{code.title()} program",
        "type": "informational",
        "channels": ["sms", "voice", "email"],
        "sender_numbers": ["+18005550100"],
        "frequency": "up to 4 msgs/mo",
        "help_contact": "help@example.org",
        "keywords": [code.upper()],
        "double_opt_in": True,
        "disclosure_text": "You agree to receive recurring messages. Consent is not a condition "
        "of purchase. Msg & data rates may apply. Reply STOP to opt out, HELP for help.",
        "disclosure_version": "v1",
        "replies": {"en": {"confirmation": "Thanks!", "help": "Help", "stop": "Stopped"}},
    }
    fields.update(overrides)
    return program_save(fields=fields, actor=None)
