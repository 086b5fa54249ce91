"""`carereach sms-info TEXT` prints the analysis as JSON."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import call_command


def _run(*args: str) -> dict[str, object]:
    out = io.StringIO()
    call_command("sms_info", *args, stdout=out)
    data: dict[str, object] = json.loads(out.getvalue())
    return data


def test_prints_json() -> None:
    data = _run("It\u2019s time for your refill")
    assert data["encoding"] == "UCS-2"
    assert data["segments"] == 1
    assert data["units"] == 25
    assert data["non_gsm"] == ["\u2019"]
    assert _run("x" * 161)["segments"] == 2


def test_replace_option_and_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _run("\u201cHi\u201d", "--replace")
    assert data["replaced"] == {**data["replaced"], "text": '"Hi"', "encoding": "GSM-7"}  # type: ignore[dict-item]
    monkeypatch.setattr(sys, "stdin", io.StringIO("€€\n"))
    assert _run("-")["units"] == 4


def test_cli_entry_point_takes_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    from carereach.cli import main

    main(["sms-info", "hello"])
    assert json.loads(capsys.readouterr().out)["encoding"] == "GSM-7"
