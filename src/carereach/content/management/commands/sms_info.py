"""`carereach sms-info TEXT`: the encoding, segments and units of a text message, as JSON."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.content.encoding import analyze, gsm_replace
from carereach.errors import ValidationError


class Command(CarereachCommand):
    help = (
        "Print the SMS encoding (GSM-7 or UCS-2), segments, units and the characters that "
        "forced UCS-2, as JSON. TEXT '-' reads standard input."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("text", help="the message body; '-' reads it from standard input")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="also show the text with GSM-7 look-alikes swapped in, and its analysis",
        )

    def run(self, *args: Any, **options: Any) -> None:
        text: str = options["text"]
        if text == "-":
            text = sys.stdin.read()
            if text.endswith("\n"):
                text = text[:-1]
        if "\x00" in text:
            raise ValidationError("The text holds a NUL character.", field="text")
        data = analyze(text).as_dict()
        if options["replace"]:
            replaced = gsm_replace(text)
            data["replaced"] = {"text": replaced, **analyze(replaced).as_dict()}
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
