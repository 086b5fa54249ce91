"""Consent import: a CSV file of acts of consent with their evidence, every row or none.

`consent_import` reads a UTF-8 CSV of acts of consent, one a row (columns in `COLUMNS`):
- it streams the file (`csvfiles`) in batches of `BATCH_SIZE` rows, so memory stays bounded;
- each batch is checked with the same rules as `services.consent_record` (`act_times_check`,
  `act_pair_check`), with the contacts, their addresses and the users named found by one query
  per key for the batch;
- a marketing grant needs evidence (a typed name, a signature file, the IP, a source document,
  as its method requires) and the disclosure version shown;
- rows are written set-based: one insert of the batch's entries, then the states of the
  (address, channel) pairs it touched are replayed (`consent_states_rebuild`), so the state table
  stays equal to a replay of the ledger;
- any problem, in any row, rolls everything back; every problem names its row (spreadsheet
  numbering: the header is row 1), its column and the reason.

Contacts are found by `contact_id`, `npi` or `mrn` (MRNs by their blind index), among the contacts
the importing user may see: a field rep imports only for their territories.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from carereach.audience.identifiers import email_normalize, npi_check, phone_normalize
from carereach.audience.models import Contact, ContactStatus, Email, Phone
from carereach.audience.selectors import contacts_for_user
from carereach.consent.csvfiles import (
    Problems,
    blank,
    file_refused,
    moment,
    read_rows,
)
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    Program,
    ProgramType,
)
from carereach.consent.services import (
    act_pair_check,
    act_times_check,
    consent_states_rebuild,
    written_evidence_keys,
)
from carereach.errors import PermissionDeniedError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.fields import blind_index_lookup, normalize_for_index
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability
from carereach.vocabulary import Channel

BATCH_SIZE = 1000

CONTACT_COLUMNS = ("contact_id", "npi", "mrn")
EVIDENCE_COLUMNS = (
    "typed_name",
    "signature_file",
    "ip",
    "user_agent",
    "source_file",
    "inbound_message_id",
)
COLUMNS = (
    *CONTACT_COLUMNS,
    "address",
    "channel",
    "program",
    "action",
    "method",
    "occurred_at",
    "expires_at",
    "captured_by",
    "disclosure_version",
    "reason",
    *EVIDENCE_COLUMNS,
)
REQUIRED = ("address", "channel", "program", "action", "occurred_at")
ALIASES = {
    "contact": "contact_id",
    "id": "contact_id",
    "program_code": "program",
    "source_document": "source_file",
    "signature": "signature_file",
    "user-agent": "user_agent",
    "ip_address": "ip",
}
IMPORT_CHANNELS = (Channel.SMS.value, Channel.VOICE.value, Channel.EMAIL.value)
EVERY_PROGRAM = "*"
# Values shown back in problems; the rest (MRN, names, addresses, evidence) may be PHI.
SHOWN = frozenset(
    {"contact_id", "npi", "channel", "program", "action", "method", "occurred_at", "expires_at"}
) | {"disclosure_version"}
# consent_record's field names → the file's columns.
_FIELD_COLUMNS = {
    "programs": "program",
    "channels": "channel",
    "address": "address",
    "action": "action",
    "method": "method",
    "occurred_at": "occurred_at",
    "expires_at": "expires_at",
}


def _header(cells: list[str]) -> list[str]:
    names = []
    for position, cell in enumerate(cells, start=1):
        name = cell.strip().lower().replace(" ", "_")
        name = ALIASES.get(name, name)
        if not name:
            raise file_refused(f"column {position} of the header has no name")
        if name not in COLUMNS:
            raise file_refused(
                f"unknown column {cell.strip()!r} (column {position}); "
                f"known columns: {', '.join(COLUMNS)}"
            )
        if name in names:
            raise file_refused(f"the header names {name!r} twice")
        names.append(name)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise file_refused(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if not any(name in names for name in CONTACT_COLUMNS):
        raise file_refused(f"name the contact: add a column {' or '.join(CONTACT_COLUMNS)}")
    return names


def _batches(
    rows: Iterator[tuple[int, list[str]]], header: list[str], problems: Problems
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    batch: list[tuple[int, dict[str, str]]] = []
    for number, cells in rows:
        if blank(cells):
            continue
        if len(cells) != len(header):
            problems.add(number, "", "", f"has {len(cells)} fields, the header has {len(header)}")
            continue
        batch.append(
            (number, {name: cell.strip() for name, cell in zip(header, cells, strict=True)})
        )
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


# --- consent import --------------------------------------------------------------------------


@dataclass
class _Act:
    row: int
    keys: dict[str, str]  # contact column → value as given (normalized)
    address: str = ""
    channel: str = ""
    program: Program | None = None
    action: str = ""
    method: str = ""
    occurred_at: datetime | None = None
    expires_at: datetime | None = None
    captured_by: str = ""
    disclosure_version: str = ""
    reason: str = ""
    evidence: dict[str, str] = field(default_factory=dict)
    contact_id: int | None = None


@dataclass(frozen=True)
class ImportOutcome:
    rows: int  # data rows read
    entries: int  # ledger entries written (0 in a dry run)
    dry_run: bool
    batch: str  # the entries' batch id, to find them in the ledger


def _require_capture(actor: User | None) -> None:
    """Importers need to be allowed to record consent; None is the operator at the CLI."""
    if actor is not None and not has_capability(actor, Capability.CAPTURE_CONSENT):
        raise PermissionDeniedError(
            "Your role may not record consent: it needs the capture_consent capability.",
            code="forbidden",
        )


def _visible(actor: User | None) -> QuerySet[Contact]:
    if actor is None:
        return Contact.objects.exclude(status=ContactStatus.MERGED)
    return contacts_for_user(user=actor)


def _parse(
    number: int, values: dict[str, str], programs: dict[str, Program], problems: Problems
) -> _Act | None:
    before = problems.total

    def fail(column: str, reason: str) -> None:
        problems.add(number, column, values.get(column, ""), reason)

    keys: dict[str, str] = {}
    raw_id = values.get("contact_id", "")
    if raw_id:
        if raw_id.isascii() and raw_id.isdigit() and int(raw_id) > 0:
            keys["contact_id"] = str(int(raw_id))
        else:
            fail("contact_id", "expected a contact's number, e.g. 42")
    if values.get("npi"):
        try:
            keys["npi"] = npi_check(values["npi"])
        except ValidationError as error:
            fail("npi", error.message)
    if values.get("mrn"):
        keys["mrn"] = values["mrn"]
    if not keys and not any(values.get(c) for c in CONTACT_COLUMNS):
        problems.add(number, "contact_id", "", "name the contact: a contact_id, NPI or MRN")
    act = _Act(row=number, keys=keys)

    channel = values["channel"].lower()
    if channel not in IMPORT_CHANNELS:
        fail("channel", f"expected {', '.join(IMPORT_CHANNELS)}")
    act.channel = channel
    address = values["address"]
    if not address:
        fail("address", "the address is empty")
    elif channel == Channel.EMAIL:
        try:
            act.address = email_normalize(address).lower()
        except ValidationError as error:
            fail("address", error.message)
    elif channel in IMPORT_CHANNELS:
        try:
            act.address = phone_normalize(address).e164
        except ValidationError as error:
            fail("address", error.message)

    code = values["program"]
    if code == EVERY_PROGRAM:
        act.program = None
    elif code in programs:
        act.program = programs[code]
    else:
        fail("program", "no program has this code" if code else "the program is empty")
    act.action = values["action"].lower()
    if act.action not in ConsentAction.values:
        fail("action", f"expected {', '.join(ConsentAction.values)}")
    act.method = values.get("method", "").lower() or ConsentMethod.IMPORT
    if act.method not in ConsentMethod.values:
        fail("method", f"expected one of {', '.join(ConsentMethod.values)}")
    for column in ("occurred_at", "expires_at"):
        raw = values.get(column, "")
        if not raw:
            if column == "occurred_at":
                fail(column, "give when the person acted, e.g. 2025-03-01T14:00:00-05:00")
            continue
        try:
            setattr(act, column, moment(raw))
        except ValueError as error:
            fail(column, str(error))
    act.captured_by = values.get("captured_by", "")[:150]
    act.disclosure_version = values.get("disclosure_version", "")
    if len(act.disclosure_version) > 40:
        fail("disclosure_version", "longer than 40 characters")
    act.reason = values.get("reason", "")
    if len(act.reason) > 200:
        fail("reason", "longer than 200 characters")
    for column in EVIDENCE_COLUMNS:
        value = values.get(column, "")
        if not value:
            continue
        if len(value) > 300:
            fail(column, "longer than 300 characters")
        elif column == "ip":
            try:
                act.evidence[column] = str(ipaddress.ip_address(value))
            except ValueError:
                fail(column, "not an IP address")
        else:
            act.evidence[column] = value
    return act if problems.total == before else None


def _resolve(acts: list[_Act], visible: QuerySet[Contact], problems: Problems) -> None:
    """Find each act's contact: one query per key for the batch; a row whose keys disagree, or
    name nobody the importer may see, is a problem."""
    ids = {int(a.keys["contact_id"]) for a in acts if "contact_id" in a.keys}
    npis = {a.keys["npi"] for a in acts if "npi" in a.keys}
    hashes: dict[str, str] = {}
    for act in acts:
        if "mrn" in act.keys:
            normalized = normalize_for_index(act.keys["mrn"])
            hashes.update(dict.fromkeys(blind_index_lookup(act.keys["mrn"]), normalized))
    by_id = set(visible.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    by_npi = dict(visible.filter(hcp__npi__in=npis).values_list("hcp__npi", "pk")) if npis else {}
    by_mrn: dict[str, set[int]] = {}
    if hashes:
        for digest, pk in visible.filter(patient__mrn_index__in=list(hashes)).values_list(
            "patient__mrn_index", "pk"
        ):
            if digest is not None:
                by_mrn.setdefault(hashes[digest], set()).add(pk)
    for act in acts:
        found: dict[str, int] = {}
        for column, value in act.keys.items():
            if column == "contact_id":
                if int(value) in by_id:
                    found[column] = int(value)
            elif column == "npi":
                if value in by_npi:
                    found[column] = by_npi[value]
            else:
                owners = by_mrn.get(normalize_for_index(value), set())
                if len(owners) > 1:
                    problems.add(act.row, "mrn", "", "the MRN belongs to several patients")
                    break
                if owners:
                    found[column] = next(iter(owners))
        else:
            missing = [c for c in act.keys if c not in found]
            if missing:
                problems.add(
                    act.row, missing[0], act.keys[missing[0]], "no contact you may see has this"
                )
            elif len(set(found.values())) > 1:
                problems.add(
                    act.row, "contact_id", "", "the contact columns name different contacts"
                )
            else:
                act.contact_id = next(iter(found.values()))


def _owned(acts: list[_Act]) -> dict[tuple[int, str], set[str]]:
    """(contact id, channel) → the contact's addresses on it, for every contact of the batch."""
    ids = {a.contact_id for a in acts if a.contact_id is not None}
    owned: dict[tuple[int, str], set[str]] = {}
    for contact_id, e164 in Phone.objects.filter(contact_id__in=ids).values_list(
        "contact_id", "e164"
    ):
        owned.setdefault((contact_id, Channel.SMS), set()).add(e164)
        owned.setdefault((contact_id, Channel.VOICE), set()).add(e164)
    for contact_id, address in Email.objects.filter(contact_id__in=ids).values_list(
        "contact_id", "address"
    ):
        owned.setdefault((contact_id, Channel.EMAIL), set()).add(address)
    return owned


def _evidence_columns(method: str) -> str:
    needed = [k for k in written_evidence_keys(method) if k in EVIDENCE_COLUMNS]
    return ", ".join(needed)


def _check(act: _Act, owned: set[str], now: datetime, problems: Problems) -> None:
    try:
        act_times_check(
            action=act.action,
            method=act.method,
            occurred_at=act.occurred_at,
            expires_at=act.expires_at,
            now=now,
        )
        act_pair_check(
            address=act.address,
            owned=owned,
            channel=act.channel,
            program=act.program,
            action=act.action,
            method=act.method,
            evidence=act.evidence,
        )
    except ValidationError as error:
        if error.field == "evidence":
            columns = _evidence_columns(act.method)
            reason = (
                f"a marketing grant by {act.method} needs evidence: fill {columns}"
                if columns
                else f"a marketing grant cannot be given by {act.method}"
            )
            problems.add(act.row, "evidence", "", reason)
        elif error.field == "method":
            problems.add(act.row, "method", act.method, error.message)
        else:
            column = _FIELD_COLUMNS.get(error.field or "", "")
            problems.add(act.row, column, "", error.message)
        return
    program = act.program
    if (
        program is not None
        and program.type == ProgramType.MARKETING
        and act.action == ConsentAction.GRANT
        and not act.disclosure_version
    ):
        problems.add(
            act.row,
            "disclosure_version",
            "",
            "a marketing grant must name the disclosure version the person was shown",
        )


def consent_import(
    *, file: IO[bytes], filename: str, actor: User | None, dry_run: bool = False
) -> ImportOutcome:
    """Import a CSV of acts of consent: every row written, or none (raises ImportRefused)."""
    _require_capture(actor)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1][:120] or "consent.csv"
    problems = Problems(shown=SHOWN)
    rows = read_rows(file)
    first = next((item for item in rows if not blank(item[1])), None)
    if first is None:
        raise file_refused("the file is empty: expected a header row, then one act a row")
    header = _header(first[1])
    programs = {p.code: p for p in Program.objects.all()}
    visible = _visible(actor)
    users = get_user_model()
    label = actor.get_username() if actor is not None else "system"
    batch = secrets.token_hex(8)
    now = timezone.now()
    counted = written = 0
    with transaction.atomic():
        for chunk in _batches(rows, header, problems):
            counted += len(chunk)
            acts = [a for a in (_parse(n, v, programs, problems) for n, v in chunk) if a]
            _resolve(acts, visible, problems)
            acts = [a for a in acts if a.contact_id is not None]
            owned = _owned(acts)
            valid: list[tuple[_Act, int, datetime]] = []
            for act in acts:
                before = problems.total
                _check(act, owned.get((act.contact_id or 0, act.channel), set()), now, problems)
                if problems.total == before and act.contact_id and act.occurred_at:
                    valid.append((act, act.contact_id, act.occurred_at))
            if problems.total or dry_run:
                continue  # keep checking the rest of the file; write nothing
            named = {a.captured_by for a, _, _ in valid if a.captured_by}
            known = {u.get_username(): u for u in users.objects.filter(username__in=named)}
            entries = [
                ConsentEntry(
                    contact_id=contact_id,
                    address=act.address,
                    channel=act.channel,
                    program=act.program,
                    action=act.action,
                    method=act.method,
                    captured_by=known.get(act.captured_by),
                    captured_by_label=act.captured_by or label,
                    disclosure_version=act.disclosure_version
                    or (act.program.disclosure_version if act.program else ""),
                    evidence={**act.evidence, "import_file": name, "import_row": act.row},
                    reason=act.reason,
                    batch=batch,
                    occurred_at=occurred_at,
                    recorded_at=now,
                    expires_at=act.expires_at if act.action == ConsentAction.GRANT else None,
                )
                for act, contact_id, occurred_at in valid
            ]
            ConsentEntry.objects.bulk_create(entries, batch_size=500)
            consent_states_rebuild(pairs={(e.address, e.channel) for e in entries})
            written += len(entries)
        if problems.total:
            raise problems.refuse()
        if not counted:
            raise file_refused("the file has a header but no rows")
        if written:
            audit_record(
                actor=actor,
                action=AuditAction.CREATE,
                object_type="consent_import",
                note=f"{counted} rows, {written} entries, batch {batch}",
            )
    return ImportOutcome(rows=counted, entries=written, dry_run=dry_run, batch=batch)
