"""The data one batch of an import passes between its steps: rows, problems, targets, plans.

`planning` fills a `BatchPlan` (validation, references, then `matching`); `writing` stores it;
`report` counts it. Row numbers are spreadsheet rows: the header is row 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carereach.audience.drafts import PHI_FIELDS, ContactDraft, PostalDraft
from carereach.audience.identifiers import PhoneNumber
from carereach.audience.imports.mapping import ColumnPlan
from carereach.audience.imports.reading import SourceRow
from carereach.audience.imports.validation import CELL_SEPARATOR, PhiSealer, Sealed
from carereach.audience.models import CaregiverProfile, Contact, HcpProfile, PatientProfile
from carereach.security.crypto import normalize_for_index

CONTACT_ATTRS = (
    "status",
    "language",
    "preferred_channels",
    "persona",
    "large_print",
    "spoken_messages",
    "interpreter_language",
    "time_zone",
)
PROFILE_FIELDS = {
    "hcp": ("first_name", "last_name", "credentials", "organization", "npi"),
    "patient": ("first_name", "last_name", "date_of_birth", "mrn"),
    "caregiver": ("first_name", "last_name"),
}
Profile = HcpProfile | PatientProfile | CaregiverProfile
PostalKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int  # spreadsheet row: the header is row 1
    field: str  # canonical field name
    column: str  # the CSV header (or the field name when no column feeds it)
    value: str  # "" for PHI fields
    reason: str


@dataclass(slots=True)
class Known:
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    specialties: set[str] = field(default_factory=set)
    postal: set[PostalKey] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class Target:
    """A contact rows merge into: one already stored (`contact` set) or one this batch creates."""

    kind: str
    values: dict[str, Any]  # canonical scalar fields → current value
    contact: Contact | None = None
    profile: Profile | None = None
    contact_id: int | None = None
    origin_row: int = 0  # the row that creates it (new targets)
    dirty: set[str] = field(default_factory=set)
    # What the contact has, stored and planned; for a contact this batch creates it is built
    # only when a second row merges in, so a contact made from one row costs no sets.
    known: Known | None = None
    new_phones: list[PhoneNumber] = field(default_factory=list)
    new_emails: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    new_specialties: list[str] = field(default_factory=list)
    new_postal: list[PostalDraft] = field(default_factory=list)
    phone_rank: int = 0
    email_rank: int = 0
    postal_rank: int = 0
    sealed: Sealed | None = None  # the creating row's PHI, encrypted (new targets)

    @property
    def is_new(self) -> bool:
        return self.contact is None

    @property
    def changed(self) -> bool:
        return bool(
            self.dirty
            or self.new_phones
            or self.new_emails
            or self.new_tags
            or self.new_specialties
            or self.new_postal
        )

    def describe(self) -> str:
        if self.contact_id is not None:
            return f"contact {self.contact_id}"
        return f"the contact of row {self.origin_row}"


@dataclass(slots=True)
class PlannedRow:
    number: int
    source: list[str] | str  # the cells, or joined by CELL_SEPARATOR (split on first use)
    draft: ContactDraft
    columns: tuple[tuple[int, str], ...]
    sealed: Sealed | None = None  # the draft's PHI encrypted, when the validator sealed it
    territory_id: int | None = None
    _values: dict[str, Any] | None = None
    _mrn_key: str | None = None

    @property
    def mrn_key(self) -> str:
        """The MRN as matching compares it (`normalize_for_index`); "" without one."""
        if self._mrn_key is None:
            mrn = self.draft.mrn
            self._mrn_key = normalize_for_index(mrn) if mrn else ""
        return self._mrn_key

    @property
    def cells(self) -> list[str]:
        if isinstance(self.source, str):
            self.source = self.source.split(CELL_SEPARATOR)
        return self.source

    @property
    def values(self) -> dict[str, Any]:
        """The scalar fields this row gives (non-empty cells only), as the draft has them.

        Only rows that meet a candidate need them, so they are worked out on first use."""
        if self._values is None:
            cells = self.cells
            given = [name for index, name in self.columns if cells[index].strip()]
            self._values = _given_values(self.draft, given, self.territory_id)
        return self._values


@dataclass(frozen=True, slots=True)
class MergeNote:
    row: int
    target: Target
    key: str  # npi | mrn | phone | email


@dataclass(frozen=True, slots=True)
class Conflict:
    row: int
    target: Target
    field: str
    column: str
    value: str  # the row's value; "" for PHI fields
    reason: str


@dataclass
class BatchPlan:
    size: int
    bad: list[tuple[SourceRow, list[RowProblem]]]
    new_targets: list[Target]
    changed_targets: list[Target]  # stored contacts this batch changes
    merges: list[MergeNote]
    conflicts: list[Conflict]
    created_rows: int = 0
    merged_rows: int = 0


@dataclass
class ImportContext:
    """What a pass over one file remembers between batches (all of it small and bounded,
    except the NPI set: about 60 bytes per distinct NPI, the price of catching duplicates
    across the whole file)."""

    columns: ColumnPlan
    territories: dict[str, int | None] = field(default_factory=dict)
    specialties: dict[str, int | None] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    npis: set[int] = field(default_factory=set)
    sealer: PhiSealer | None = None  # set by a pass that writes

    def __post_init__(self) -> None:
        self.field_columns = {name: self.columns.header[i] for i, name in self.columns.columns}

    def column_of(self, name: str) -> str:
        return self.field_columns.get(name, name)


def _given_values(
    draft: ContactDraft, given: list[str], territory_id: int | None
) -> dict[str, Any]:
    profile = PROFILE_FIELDS[draft.kind]
    values: dict[str, Any] = {}
    for name in given:
        if name == "territory":
            values[name] = territory_id
        elif name in CONTACT_ATTRS or name in profile or name == "external_id":
            values[name] = getattr(draft, name)
        elif name.startswith("custom."):
            key = name.removeprefix("custom.")
            if key in draft.custom_fields:
                values[name] = draft.custom_fields[key]
    return values


def add_problem(
    problems: dict[int, list[RowProblem]],
    ctx: ImportContext,
    row: PlannedRow,
    name: str,
    value: str,
    reason: str,
) -> None:
    """Record a problem found after validation; a PHI field's value is never kept."""
    shown = "" if name in PHI_FIELDS else value
    problems.setdefault(row.number, []).append(
        RowProblem(row.number, name, ctx.column_of(name), shown, reason)
    )
