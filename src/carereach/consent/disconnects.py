"""Disconnected numbers from a reassigned-numbers report: older consents on them become void.

`consent_disconnects_import` reads `number,date` rows (a header row is allowed), streaming, and
hands them to `services.consent_void_reassigned`; every row must be valid, or nothing is voided.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import IO

from django.contrib.auth.models import User
from django.db import transaction

from carereach.audience.identifiers import phone_normalize
from carereach.consent.csvfiles import Problems, blank, file_refused, moment, read_rows
from carereach.consent.services import consent_void_reassigned
from carereach.errors import PermissionDeniedError, ValidationError
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability

_NUMBER_HEADERS = {"number", "phone", "phone_number", "e164", "telephone"}


def _disconnected_at(value: str) -> datetime:
    """A date (`2025-06-01`: the start of that day, UTC) or a time with its offset."""
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        except ValueError:
            raise ValueError("expected a date like 2025-06-01") from None
    return moment(value)


@dataclass(frozen=True)
class DisconnectOutcome:
    rows: int
    voided: int
    dry_run: bool


def consent_disconnects_import(
    *, file: IO[bytes], actor: User | None, dry_run: bool = False
) -> DisconnectOutcome:
    """Void consents on numbers a reassigned-numbers report lists (`number,date` rows, with or
    without a header); every row valid or nothing voided (raises ImportRefused)."""
    if actor is not None and not has_capability(actor, Capability.MANAGE_PROGRAMS):
        raise PermissionDeniedError(
            "Your role may not void consent: it needs the manage_programs capability.",
            code="forbidden",
        )
    problems = Problems(shown=frozenset({"number", "date"}))
    counted = 0

    def disconnects() -> Iterator[tuple[str, datetime]]:
        nonlocal counted
        first = True
        for number, cells in read_rows(file):
            if blank(cells):
                continue
            if first and cells[0].strip().lower() in _NUMBER_HEADERS:
                first = False
                continue  # the header
            first = False
            if len(cells) != 2:
                problems.add(number, "", "", f"expected 2 fields (number,date), found {len(cells)}")
                continue
            counted += 1
            raw_number, raw_date = (cell.strip() for cell in cells)
            try:
                e164 = phone_normalize(raw_number).e164
            except ValidationError as error:
                problems.add(number, "number", raw_number, error.message)
                continue
            try:
                when = _disconnected_at(raw_date)
            except ValueError as error:
                problems.add(number, "date", raw_date, str(error))
                continue
            if problems.total:
                continue  # a bad row was seen: keep checking, void nothing more
            yield e164, when

    with transaction.atomic():
        voided = consent_void_reassigned(disconnects=disconnects(), actor=actor)
        if problems.total:
            raise problems.refuse()
        if not counted:
            raise file_refused("the file has no rows: expected number,date a row")
        if dry_run:
            transaction.set_rollback(True)
    return DisconnectOutcome(rows=counted, voided=voided, dry_run=dry_run)
