"""CSV files of appointments and dispensings, checked whole before anything is written.

Every row is read into the same input the API uses; every problem is reported as
`row N: field: message`. With any problem nothing is written (unless the caller asks for the
valid rows only); the rows then go through the same services as the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.errors import CarereachError, ValidationError
from carereach.journeys.services.records import (
    AppointmentInput,
    DispenseInput,
    appointment_check,
    appointment_save,
    dispense_check,
    dispense_record,
    patient_get,
)

T = TypeVar("T")
APPOINTMENT_COLUMNS = ("external_id", "patient_id", "provider_name", "provider_phone", "start")
DISPENSE_COLUMNS = ("external_id", "patient_id", "drug_code", "handed_over", "days_supply")


@dataclass
class ImportReport(Generic[T]):
    rows: list[tuple[int, T]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    written: int = 0


def _int(value: str, name: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationError(f"“{value}” is not a whole number.", field=name)
    return int(value)


def _appointment_row(row: dict[str, str]) -> AppointmentInput:
    start = row.get("start", "").strip()
    try:
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"“{start}” is not an ISO 8601 date and time.", field="start"
        ) from None
    data = AppointmentInput(
        external_id=row.get("external_id", "").strip(),
        patient=patient_get(_int(row.get("patient_id", ""), "patient_id")),
        provider_name=row.get("provider_name", ""),
        provider_phone=row.get("provider_phone", ""),
        location=row.get("location", ""),
        start_at=start_at,
        status=row.get("status", "").strip() or "booked",
    )
    return data


def _dispense_row(row: dict[str, str]) -> DispenseInput:
    handed = row.get("handed_over", "").strip()
    try:
        handed_over = date.fromisoformat(handed) if handed else None
    except ValueError:
        raise ValidationError(
            f"“{handed}” is not a date (YYYY-MM-DD).", field="handed_over"
        ) from None
    quantity = row.get("quantity", "").strip()
    try:
        amount = Decimal(quantity) if quantity else None
    except InvalidOperation:
        raise ValidationError(f"“{quantity}” is not a number.", field="quantity") from None
    return DispenseInput(
        external_id=row.get("external_id", "").strip(),
        patient=patient_get(_int(row.get("patient_id", ""), "patient_id")),
        drug_code=row.get("drug_code", ""),
        drug_name=row.get("drug_name", ""),
        drug_system=row.get("drug_system", ""),
        handed_over=handed_over,
        days_supply=_int(row.get("days_supply", ""), "days_supply"),
        quantity=amount,
    )


def _read(
    text: str,
    columns: Iterable[str],
    parse: Callable[[dict[str, str]], T],
    check: Callable[[T], object],
) -> ImportReport[T]:
    report: ImportReport[T] = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(f"The file has no column {', '.join(missing)}.", field="file")
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        try:
            data = parse({k: v or "" for k, v in row.items() if k})
            check(data)
        except CarereachError as error:
            report.errors.append(f"row {number}: {error.field or 'row'}: {error.message}")
            continue
        report.rows.append((number, data))
    return report


def _write(
    report: ImportReport[T], save: Callable[[T], object], valid_only: bool
) -> ImportReport[T]:
    if report.errors and not valid_only:
        return report
    with transaction.atomic():
        for number, data in report.rows:
            try:
                with transaction.atomic():
                    save(data)
                report.written += 1
            except CarereachError as error:
                report.errors.append(f"row {number}: {error.field or 'row'}: {error.message}")
        if report.errors and not valid_only:
            transaction.set_rollback(True)
            report.written = 0
    return report


def appointments_import(
    *, text: str, actor: User | None, valid_only: bool = False
) -> ImportReport[AppointmentInput]:
    now = timezone.now()
    report = _read(
        text, APPOINTMENT_COLUMNS, _appointment_row, lambda d: appointment_check(d, now=now)
    )
    return _write(report, lambda d: appointment_save(data=d, actor=actor), valid_only)


def dispenses_import(
    *, text: str, actor: User | None, valid_only: bool = False
) -> ImportReport[DispenseInput]:
    today = timezone.now().date()
    report = _read(text, DISPENSE_COLUMNS, _dispense_row, lambda d: dispense_check(d, today=today))
    return _write(report, lambda d: dispense_record(data=d, actor=actor), valid_only)
