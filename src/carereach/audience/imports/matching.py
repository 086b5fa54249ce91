"""Matching a batch's rows to contacts, and merging them in.

Matching, in order (the first key that finds someone wins):
1. NPI: the national identifier decides; the contact it names is the one.
2. MRN (patients), by its blind index: it decides too (an MRN on several patients is a problem).
3. phone (E.164), then 4. e-mail, among contacts of the same kind. A contact found by address
   whose NPI, MRN, birth date or last name differs from the row's is someone else (a practice
   line, a family phone): it is not merged and the report says so. Several remaining
   candidates make the row a problem (the import cannot choose).
Each key costs one query per batch (on PostgreSQL one index probe per value, see `_keyed`),
then the found contacts' state is loaded in bulk: never a query per row.

Merging fills empty fields and adds new phones, e-mails, postal addresses, tags and
specialties; a non-empty value that differs is kept and reported as a conflict. Rows of the
same batch match each other the same way, so a file that lists a person twice makes one
contact; across batches, an earlier batch's rows are already written when a run matches the
next one (a dry run, which writes nothing, plans each batch against the database alone).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Field, Lookup, Model

from carereach.audience.drafts import PHI_FIELDS
from carereach.audience.imports.batch import (
    CONTACT_ATTRS,
    PROFILE_FIELDS,
    BatchPlan,
    Conflict,
    ImportContext,
    Known,
    MergeNote,
    PlannedRow,
    PostalKey,
    Profile,
    RowProblem,
    Target,
    add_problem,
)
from carereach.audience.models import (
    CaregiverProfile,
    Contact,
    ContactStatus,
    Email,
    HcpProfile,
    PatientProfile,
    Phone,
    PostalAddress,
)
from carereach.security.fields import blind_index_lookup, normalize_for_index

# A contact found by address is someone else when one of these differs from the row's.
_IDENTITY = {
    "hcp": ("npi", "last_name"),
    "patient": ("mrn", "date_of_birth", "last_name"),
    "caregiver": ("last_name",),
}
_FIELD_LABELS = {"npi": "NPI", "mrn": "MRN", "e164": "phone"}


class _Index:
    """Match keys → targets for one batch: stored contacts found by the batch's queries, plus
    the contacts the batch's own rows create or extend."""

    def __init__(self) -> None:
        self.npi: dict[str, Target] = {}
        self.mrn: dict[str, list[Target]] = {}
        self.phone: dict[str, list[Target]] = {}
        self.email: dict[str, list[Target]] = {}

    @staticmethod
    def _add(index: dict[str, list[Target]], key: str, target: Target) -> None:
        found = index.setdefault(key, [])
        if target not in found:
            found.append(target)

    def register(self, target: Target, row: PlannedRow) -> None:
        draft = row.draft
        if draft.npi:
            self.npi[draft.npi] = target
        if draft.mrn:
            self._add(self.mrn, row.mrn_key, target)
        for phone in draft.phones:
            self._add(self.phone, phone.e164, target)
        for email in draft.emails:
            self._add(self.email, email, target)


def match_and_merge(
    rows: list[PlannedRow],
    ctx: ImportContext,
    plan: BatchPlan,
    problems: dict[int, list[RowProblem]],
) -> None:
    index = _load_candidates(rows)
    changed: dict[int, Target] = {}
    for row in rows:
        target, key = _find(row, index, ctx, plan, problems)
        if row.number in problems:
            continue
        if target is None:
            target = _new_target(row)
            plan.new_targets.append(target)
            plan.created_rows += 1
        else:
            _merge(target, row, ctx, plan)
            plan.merges.append(MergeNote(row.number, target, key))
            plan.merged_rows += 1
            if not target.is_new and target.changed and target.contact_id is not None:
                changed[target.contact_id] = target
        index.register(target, row)
    plan.changed_targets = list(changed.values())


def _find(
    row: PlannedRow,
    index: _Index,
    ctx: ImportContext,
    plan: BatchPlan,
    problems: dict[int, list[RowProblem]],
) -> tuple[Target | None, str]:
    draft = row.draft
    if draft.npi and draft.npi in index.npi:
        return index.npi[draft.npi], "npi"
    if draft.mrn:
        same_mrn = [t for t in index.mrn.get(row.mrn_key, ()) if t.kind == draft.kind]
        if len(same_mrn) == 1:
            return same_mrn[0], "mrn"
        if same_mrn:
            names = ", ".join(t.describe() for t in same_mrn[:5])
            add_problem(
                problems, ctx, row, "mrn", "", f"the MRN belongs to several contacts ({names})"
            )
            return None, ""
    stages: list[tuple[str, dict[str, list[Target]], list[str]]] = [
        ("phone", index.phone, [phone.e164 for phone in draft.phones]),
        ("email", index.email, list(draft.emails)),
    ]
    for key, keyed, values in stages:
        found: list[Target] = []
        shown = ""
        for value in values:
            for candidate in keyed.get(value, ()):
                if candidate.kind == draft.kind and candidate not in found:
                    found.append(candidate)
                    shown = shown or value
        if not found:
            continue
        accepted: list[Target] = []
        rejected: list[tuple[Target, str]] = []
        for candidate in found:
            differs = _differs(candidate, row)
            if differs:
                rejected.append((candidate, differs))
            else:
                accepted.append(candidate)
        if rejected:
            first, differs = rejected[0]
            others = f" and {len(rejected) - 1} more" if len(rejected) > 1 else ""
            label = differs.replace("_", " ")
            plan.conflicts.append(
                Conflict(
                    row.number,
                    first,
                    key,
                    ctx.column_of(key),
                    shown,
                    f"the {key} also belongs to {first.describe()}{others}, whose {label} "
                    f"differs: not merged",
                )
            )
        if len(accepted) == 1:
            return accepted[0], key
        if len(accepted) > 1:
            names = ", ".join(t.describe() for t in accepted[:5])
            add_problem(
                problems,
                ctx,
                row,
                key,
                shown,
                f"the {key} matches several contacts ({names}): give an NPI or MRN, "
                f"or merge them first",
            )
            return None, ""
    return None, ""


def _differs(candidate: Target, row: PlannedRow) -> str:
    for name in _IDENTITY[candidate.kind]:
        new, old = row.values.get(name), candidate.values.get(name)
        if not _blank(new) and not _blank(old) and not _same(old, new):
            return name
    return ""


def _blank(value: object) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def _same(old: object, new: object) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old == new or normalize_for_index(old) == normalize_for_index(new)
    return old == new


class _AnyOf(Lookup[Any]):
    """``lhs = ANY(%s)`` with the values as one array parameter on PostgreSQL (a list of 5,000
    placeholders costs more to send and parse than the lookup itself), ``IN (...)`` elsewhere.

    Used as an expression: ``Contact.objects.filter(_AnyOf(F("pk"), ids))``.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        if not values:
            return "0 = 1", tuple(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*lhs_params, *values)


def _owned(ids: list[int], column: str = "contact_id") -> _AnyOf:
    return _AnyOf(F(column), ids)


def _keyed(model: type[Model], column: str, values: list[str]) -> list[tuple[str, int]]:
    """(value, contact id) for every row of `model` whose `column` holds one of `values`.

    On PostgreSQL each value is probed through the column's index (a LATERAL subquery per
    array element): with ``IN``/``ANY`` over thousands of values the planner may scan the
    whole table instead, and during a large import, with statistics from when the table was
    small, it did (a parallel sequential scan of a million e-mails per batch).
    """
    if not values:
        return []
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        key, owner = quote(_column(model, column)), quote(_column(model, "contact"))
        # The values travel as one text parameter split on the server (psycopg would build a
        # 5,000-element array literal in Python, slowly). Validated keys hold no line feed.
        # OFFSET 0 keeps the planner from flattening the subquery into a join it could then
        # run as a scan of the whole table.
        joined = "\n".join(values)
        if joined.count("\n") != len(values) - 1:
            raise ValueError(f"a {column} to match holds a line feed")
        sql = (
            f"SELECT k.value, t.{owner} "  # noqa: S608 - quoted names of our own tables
            f"FROM unnest(string_to_array(%s, chr(10))) AS k(value) "
            f"CROSS JOIN LATERAL (SELECT {owner} FROM {table} WHERE {key} = k.value OFFSET 0) AS t"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [joined])
            return [(value, contact_id) for value, contact_id in cursor.fetchall()]
    found = model._base_manager.filter(**{f"{column}__in": values}).order_by()
    return list(found.values_list(column, "contact_id"))


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # noqa: S101 - concrete by construction
    return str(field.column)


def _load_candidates(rows: list[PlannedRow]) -> _Index:
    """One query per match key for the batch, then the found contacts' state in bulk."""
    index = _Index()
    if not rows:
        return index
    kinds = {row.draft.kind for row in rows}
    npis = [row.draft.npi for row in rows if row.draft.npi]
    mrn_hashes: dict[str, str] = {}
    for row in rows:
        mrn = row.draft.mrn
        if mrn:
            # The validator computed the hashes with the PHI it sealed (`validation.PhiSealer`).
            hashes = row.sealed[4] if row.sealed is not None and len(row.sealed) == 5 else None
            mrn_hashes.update(dict.fromkeys(hashes or blind_index_lookup(mrn), row.mrn_key))
    phones = list({phone.e164 for row in rows for phone in row.draft.phones})
    emails = list({email for row in rows for email in row.draft.emails})

    # Each key is looked up in its own table alone; the contacts found are then read once by
    # primary key for their kind and status (most batches of a new file find none).
    found_npi = _keyed(HcpProfile, "npi", npis)
    found_mrn = [
        (mrn_hashes[digest], contact_id)
        for digest, contact_id in _keyed(PatientProfile, "mrn_index", list(mrn_hashes))
    ]
    found_phone = _keyed(Phone, "e164", phones)
    found_email = _keyed(Email, "address", emails)
    found = {cid for _, cid in (*found_npi, *found_mrn, *found_phone, *found_email)}
    if not found:
        return index
    states = {
        pk: (kind, status, merged_into)
        for pk, kind, status, merged_into in Contact.objects.filter(_owned(list(found), "pk"))
        .order_by()
        .values_list("pk", "kind", "status", "merged_into_id")
    }
    merged = ContactStatus.MERGED
    by_npi: dict[str, int] = {}
    for npi, contact_id in found_npi:
        if contact_id in states:
            _, status, merged_into = states[contact_id]
            moved = status == merged and merged_into is not None
            by_npi[npi] = merged_into if moved and merged_into is not None else contact_id

    def live(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
        return [
            (value, cid)
            for value, cid in pairs
            if cid in states and states[cid][0] in kinds and states[cid][1] != merged
        ]

    by_mrn, by_phone, by_email = live(found_mrn), live(found_phone), live(found_email)
    ids = set(by_npi.values()) | {cid for _, cid in (*by_mrn, *by_phone, *by_email)}
    if not ids:
        return index
    targets = _load_targets(ids)
    for npi, contact_id in by_npi.items():
        if contact_id in targets:
            index.npi[npi] = targets[contact_id]
    for keyed, pairs in ((index.mrn, by_mrn), (index.phone, by_phone), (index.email, by_email)):
        for value, contact_id in pairs:
            if contact_id in targets:
                _Index._add(keyed, value, targets[contact_id])
    return index


def _load_targets(ids: set[int]) -> dict[int, Target]:
    id_list = list(ids)
    contacts = {c.pk: c for c in Contact.objects.filter(_owned(id_list, "pk"))}
    kinds = {contact.kind for contact in contacts.values()}
    profiles: dict[int, Profile] = {}
    for kind, model in (
        ("hcp", HcpProfile),
        ("patient", PatientProfile),
        ("caregiver", CaregiverProfile),
    ):
        if kind in kinds:
            for found in model.objects.filter(_owned(id_list)):
                profiles[found.contact_id] = found
    targets: dict[int, Target] = {}
    known: dict[int, Known] = {}
    for contact_id, contact in contacts.items():
        values: dict[str, Any] = {name: getattr(contact, name) for name in CONTACT_ATTRS}
        values["time_zone_source"] = contact.time_zone_source
        values["territory"] = contact.territory_id
        values["external_id"] = (contact.external_ids or {}).get("source", "")
        for key, value in (contact.custom_fields or {}).items():
            values[f"custom.{key}"] = value
        profile = profiles.get(contact_id)
        for name in PROFILE_FIELDS.get(contact.kind, ()):
            values[name] = getattr(profile, name, None) if profile is not None else None
        targets[contact_id] = Target(
            kind=contact.kind,
            values=values,
            contact=contact,
            profile=profile,
            contact_id=contact_id,
            known=known.setdefault(contact_id, Known()),
        )
    for contact_id, e164, rank in Phone.objects.filter(_owned(id_list)).values_list(
        "contact_id", "e164", "rank"
    ):
        target = targets[contact_id]
        known[contact_id].phones.add(e164)
        target.phone_rank = max(target.phone_rank, rank)
    for contact_id, address, rank in Email.objects.filter(_owned(id_list)).values_list(
        "contact_id", "address", "rank"
    ):
        target = targets[contact_id]
        known[contact_id].emails.add(address)
        target.email_rank = max(target.email_rank, rank)
    for contact_id, line1, city, postal_code, rank in PostalAddress.objects.filter(
        _owned(id_list)
    ).values_list("contact_id", "line1", "city", "postal_code", "rank"):
        target = targets[contact_id]
        known[contact_id].postal.add(_postal_key(line1, city, postal_code))
        target.postal_rank = max(target.postal_rank, rank)
    for contact_id, name in Contact.tags.through.objects.filter(_owned(id_list)).values_list(
        "contact_id", "tag__name"
    ):
        known[contact_id].tags.add(name)
    if "hcp" in kinds:
        for contact_id, code in HcpProfile.specialties.through.objects.filter(
            _owned(id_list, "hcpprofile_id")
        ).values_list("hcpprofile_id", "specialty__code"):
            known[contact_id].specialties.add(code)
    return targets


def _postal_key(line1: str, city: str, postal_code: str) -> PostalKey:
    return (
        normalize_for_index(line1),
        normalize_for_index(city),
        postal_code.replace(" ", "").casefold(),
    )


# --- Merging ------------------------------------------------------------------------------------


# The draft attributes a new target's values start from, per kind, read in one call.
_DRAFT_VALUES = {
    kind: (names, attrgetter(*names))
    for kind, names in (
        (kind, (*CONTACT_ATTRS, "time_zone_source", "external_id", *profile))
        for kind, profile in PROFILE_FIELDS.items()
    )
}


def _new_target(row: PlannedRow) -> Target:
    draft = row.draft
    names, read = _DRAFT_VALUES[draft.kind]
    values: dict[str, Any] = dict(zip(names, read(draft), strict=True))
    values["territory"] = row.territory_id
    for key, value in draft.custom_fields.items():
        values[f"custom.{key}"] = value
    return Target(
        kind=draft.kind,
        values=values,
        origin_row=row.number,
        new_phones=list(draft.phones),
        new_emails=list(draft.emails),
        new_tags=list(draft.tags),
        new_specialties=list(draft.specialties) if draft.kind == "hcp" else [],
        new_postal=[draft.postal] if draft.postal is not None else [],
        sealed=row.sealed,
    )


def _merge(target: Target, row: PlannedRow, ctx: ImportContext, plan: BatchPlan) -> None:
    """Fill empty fields, add new addresses and labels; report values that differ."""
    current = target.values
    for name, new in row.values.items():
        old = current.get(name)
        if _blank(old):
            if not _blank(new):
                current[name] = new
                target.dirty.add(name)
                if name == "time_zone":
                    current["time_zone_source"] = row.draft.time_zone_source
        elif not _same(old, new):
            plan.conflicts.append(
                Conflict(
                    row.number,
                    target,
                    name,
                    ctx.column_of(name),
                    ""
                    if name in PHI_FIELDS
                    else _text(row.draft.territory if name == "territory" else new),
                    f"{target.describe()} already has a different "
                    f"{_FIELD_LABELS.get(name, name.replace('_', ' '))}: kept it",
                )
            )
    draft = row.draft
    if "time_zone" not in row.values and draft.time_zone and _blank(current.get("time_zone")):
        current["time_zone"], current["time_zone_source"] = draft.time_zone, draft.time_zone_source
        target.dirty.add("time_zone")
    _add_many(target, row)


def _add_many(target: Target, row: PlannedRow) -> None:
    """Add the row's phones, e-mails, tags, specialties and postal address the target lacks."""
    known = target.known
    if known is None:  # a contact this batch creates: its first merge
        known = target.known = Known(
            phones={phone.e164 for phone in target.new_phones},
            emails=set(target.new_emails),
            tags=set(target.new_tags),
            specialties=set(target.new_specialties),
            postal={_postal_key(p.line1, p.city, p.postal_code) for p in target.new_postal},
        )
    draft = row.draft
    for phone in draft.phones:
        if phone.e164 not in known.phones:
            known.phones.add(phone.e164)
            target.new_phones.append(phone)
    for email in draft.emails:
        if email not in known.emails:
            known.emails.add(email)
            target.new_emails.append(email)
    for tag in draft.tags:
        if tag not in known.tags:
            known.tags.add(tag)
            target.new_tags.append(tag)
    if target.kind == "hcp":
        for code in draft.specialties:
            if code not in known.specialties:
                known.specialties.add(code)
                target.new_specialties.append(code)
    if draft.postal is not None:
        postal = draft.postal
        key = _postal_key(postal.line1, postal.city, postal.postal_code)
        if key not in known.postal:
            known.postal.add(key)
            target.new_postal.append(postal)


def _text(value: object) -> str:
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
