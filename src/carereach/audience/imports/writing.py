"""Writing a planned batch: a few statements per table, whatever the batch size.

New contacts get their ids up front (PostgreSQL: one `nextval` call for the batch; SQLite: the
next free ids, safe because its write transactions run one at a time), so every row of every
table is a plain tuple and each table is filled by one statement: `COPY … FROM STDIN` on
PostgreSQL, one `executemany` INSERT on SQLite. Building Django model instances and running
`bulk_create` cost more per row than validating it; this keeps the per-row work to a tuple.
Columns a batch does not set get the model field's default, so a new field with a default
needs no change here. Stored contacts that a row extends are updated with `bulk_update`.
PHI goes through `EncryptedTextField` (and the MRN's blind index) exactly as in the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii as _quote  # json.dumps' quoting of a str
from typing import Any

from django.conf import settings
from django.db import connection, models
from psycopg.types.json import Jsonb

from carereach.audience.imports.batch import PROFILE_FIELDS, ImportContext, Target
from carereach.audience.imports.validation import SEALED_FIELDS, PhiSealer
from carereach.audience.models import (
    CaregiverProfile,
    Contact,
    Email,
    HcpProfile,
    PatientProfile,
    Phone,
    PostalAddress,
)
from carereach.audience.services import tags_ensure
from carereach.security.crypto import keyring
from carereach.security.fields import EncryptedTextField, blind_index_for, normalize_for_index

Row = tuple[Any, ...]


class _Table:
    """Inserts tuples for `columns` (attribute names) into one model's table."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        self.model = model
        self.columns = tuple(fields[name].column for name in columns)
        self.rest = [
            f for f in model._meta.concrete_fields if f.attname not in columns and not f.primary_key
        ]

    def insert(self, rows: Iterable[Row]) -> None:
        rest = tuple(_once(f.get_db_prep_save(f.get_default(), connection)) for f in self.rest)
        quote = connection.ops.quote_name
        names = ", ".join(quote(name) for name in (*self.columns, *(f.column for f in self.rest)))
        table = quote(self.model._meta.db_table)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + rest if rest else row)
            else:
                marks = ", ".join(["%s"] * (len(self.columns) + len(rest)))
                cursor.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 - our names
                    [row + rest for row in rows] if rest else list(rows),
                )


def _once(value: Any) -> Any:
    """A default as the statement takes it: a JSON adapter (psycopg's `Jsonb`) becomes its text
    here, once, instead of being dumped again for every row COPY writes."""
    if isinstance(value, Jsonb):
        return (value.dumps or json.dumps)(value.obj)
    return value


def _json_text(value: Any) -> str:
    """`json.dumps(value)`, quicker for a string: the encoder's own quoting, no dispatch."""
    return _quote(value) if type(value) is str else json.dumps(value)


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        quote = connection.ops.quote_name
        used = "(SELECT seq FROM sqlite_sequence WHERE name = %s)"
        highest = f"(SELECT MAX({quote(column)}) FROM {quote(table)})"  # noqa: S608 - our names
        cursor.execute(f"SELECT MAX(COALESCE({used}, 0), COALESCE({highest}, 0))", [table])
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + count))


_CONTACTS = _Table(
    Contact,
    (
        "id",
        "kind",
        "status",
        "time_zone",
        "time_zone_source",
        "language",
        "preferred_channels",
        "large_print",
        "spoken_messages",
        "interpreter_language",
        "persona",
        "territory_id",
        "external_ids",
        "custom_fields",
        "created_at",
        "updated_at",
    ),
)
_HCPS = _Table(
    HcpProfile, ("contact_id", "npi", "first_name", "last_name", "credentials", "organization")
)
_PATIENTS = _Table(
    PatientProfile, ("contact_id", "first_name", "last_name", "date_of_birth", "mrn", "mrn_index")
)
_CAREGIVERS = _Table(CaregiverProfile, ("contact_id", "first_name", "last_name"))
_PHONES = _Table(Phone, ("contact_id", "e164", "line_type", "region", "use", "rank"))
_EMAILS = _Table(Email, ("contact_id", "address", "rank"))
_POSTAL = _Table(
    PostalAddress,
    ("contact_id", "line1", "line2", "city", "state", "postal_code", "country", "rank"),
)
_TAG_LINKS = _Table(Contact.tags.through, ("contact_id", "tag_id"))
_SPECIALTY_LINKS = _Table(HcpProfile.specialties.through, ("hcpprofile_id", "specialty_id"))


class _Sealer:
    """Encrypts values for one `EncryptedTextField` column as the field itself would (same
    keyring, same context), reading the keyring once per batch instead of once per value."""

    def __init__(self, model: type[models.Model], name: str) -> None:
        field = model._meta.get_field(name)
        assert isinstance(field, EncryptedTextField)  # noqa: S101 - PHI columns by construction
        self.context = field.crypto_context
        self.ring = keyring()

    def __call__(self, value: str | None) -> str | None:
        return None if value is None else self.ring.encrypt(str(value), context=self.context)

    def blind_index(self, value: str | None) -> str | None:
        """`fields.blind_index_for`, with this batch's keyring."""
        return None if value is None else self.ring.blind_index(normalize_for_index(value))


def write_batch(
    *, new: list[Target], changed: list[Target], ctx: ImportContext, now: datetime
) -> None:
    """Create the new contacts and extend the stored ones; ids land on the targets."""
    stamp = Contact._meta.get_field("created_at").get_db_prep_save(now, connection)
    if new:
        for target, contact_id in zip(new, _reserve_ids(Contact, len(new)), strict=True):
            target.contact_id = contact_id
        custom = tuple(name for _, name in ctx.columns.columns if name.startswith("custom."))
        _insert_contacts(new, stamp, custom)
        _insert_profiles(new)
    if changed:
        _update_stored(changed, now)
    targets = [*new, *changed]
    _insert_children(targets, ctx)


def _insert_contacts(targets: list[Target], stamp: Any, custom_fields: tuple[str, ...]) -> None:
    """One row per new contact; `custom_fields` are the file's `custom.<name>` columns."""
    dumps = json.dumps
    empty = "{}"
    channel_lists: dict[tuple[str, ...], str] = {}  # a file has few distinct ones
    # The JSON objects are put together from `_json_text` pieces: the text json.dumps makes.
    keys = [(name, _quote(name.removeprefix("custom.")) + ": ") for name in custom_fields]
    rows = []
    for t in targets:
        v = t.values
        external = f'{{"source": {_json_text(v["external_id"])}}}' if v["external_id"] else empty
        custom = empty
        if keys:
            given = [key + _json_text(v[name]) for name, key in keys if name in v]
            custom = "{" + ", ".join(given) + "}" if given else empty
        key = tuple(v["preferred_channels"])
        channels = channel_lists.get(key)
        if channels is None:
            channels = channel_lists[key] = dumps(list(key))
        rows.append(
            (
                t.contact_id,
                t.kind,
                v["status"],
                v["time_zone"],
                v["time_zone_source"],
                v["language"],
                channels,
                v["large_print"],
                v["spoken_messages"],
                v["interpreter_language"],
                v["persona"],
                v["territory"],
                external,
                custom,
                stamp,
                stamp,
            )
        )
    _CONTACTS.insert(rows)


def phi_sealer() -> PhiSealer:
    """The sealer a writing pass gives its validator: the field keys in force and the
    `EncryptedTextField` contexts of the profile columns it seals."""
    contexts = {
        kind: {name: _encrypted(model, name).crypto_context for name in SEALED_FIELDS[kind]}
        for kind, model in (("patient", PatientProfile), ("caregiver", CaregiverProfile))
    }
    return PhiSealer(tuple(settings.FIELD_KEYS), contexts)


def _encrypted(model: type[models.Model], name: str) -> EncryptedTextField:
    field = model._meta.get_field(name)
    assert isinstance(field, EncryptedTextField)  # noqa: S101 - PHI columns by construction
    return field


def _insert_profiles(targets: list[Target]) -> None:
    hcps: list[Row] = []
    patients: list[Row] = []
    caregivers: list[Row] = []
    seal_patient = {name: _Sealer(PatientProfile, name) for name in SEALED_FIELDS["patient"]}
    seal_caregiver = {name: _Sealer(CaregiverProfile, name) for name in SEALED_FIELDS["caregiver"]}
    for t in targets:
        v = t.values
        if t.kind == "hcp":
            hcps.append(
                (
                    t.contact_id,
                    v["npi"] or None,
                    v["first_name"],
                    v["last_name"],
                    v["credentials"],
                    v["organization"],
                )
            )
        elif t.kind == "patient":
            sealed = t.sealed
            if sealed is None or len(sealed) != 5 or t.dirty:
                mrn = v["mrn"] or None
                sealed = (
                    seal_patient["first_name"](v["first_name"] or None),
                    seal_patient["last_name"](v["last_name"] or None),
                    seal_patient["date_of_birth"](v["date_of_birth"] or None),
                    seal_patient["mrn"](mrn),
                    (seal_patient["mrn"].blind_index(mrn),) if mrn else (),
                )
            hashes = sealed[4]
            patients.append(
                (
                    t.contact_id,
                    sealed[0],
                    sealed[1],
                    sealed[2],
                    sealed[3],
                    hashes[0] if hashes else None,
                )
            )
        else:
            sealed = t.sealed
            if sealed is None or t.dirty:
                sealed = (
                    seal_caregiver["first_name"](v["first_name"] or None),
                    seal_caregiver["last_name"](v["last_name"] or None),
                )
            caregivers.append((t.contact_id, sealed[0], sealed[1]))
    for table, rows in ((_HCPS, hcps), (_PATIENTS, patients), (_CAREGIVERS, caregivers)):
        if rows:
            table.insert(rows)


def _update_stored(targets: list[Target], now: datetime) -> None:
    """Apply filled-in fields to stored contacts and profiles with one UPDATE per model."""
    contact_fields: set[str] = {"updated_at"}
    contacts: list[Contact] = []
    profile_fields: dict[type[Any], set[str]] = {}
    profiles: dict[type[Any], list[Any]] = {}
    missing: list[Target] = []
    for t in targets:
        contact = t.contact
        assert contact is not None  # noqa: S101 - stored targets carry their contact
        v = t.values
        for name in t.dirty:
            if name == "time_zone":
                contact.time_zone, contact.time_zone_source = v["time_zone"], v["time_zone_source"]
                contact_fields.update(("time_zone", "time_zone_source"))
            elif name in PROFILE_FIELDS[t.kind]:
                continue
            elif name == "territory":
                contact.territory_id = v["territory"]
                contact_fields.add("territory")
            elif name == "external_id":
                contact.external_ids = {**(contact.external_ids or {}), "source": v[name]}
                contact_fields.add("external_ids")
            elif name.startswith("custom."):
                key = name.removeprefix("custom.")
                contact.custom_fields = {**(contact.custom_fields or {}), key: v[name]}
                contact_fields.add("custom_fields")
            else:
                setattr(contact, name, v[name])
                contact_fields.add(name)
        contact.updated_at = now
        contacts.append(contact)
        dirty_profile = [name for name in PROFILE_FIELDS[t.kind] if name in t.dirty]
        if not dirty_profile:
            continue
        if t.profile is None:
            missing.append(t)
            continue
        for name in dirty_profile:
            setattr(t.profile, name, v[name])
        if "mrn" in dirty_profile and isinstance(t.profile, PatientProfile):
            dirty_profile.append("mrn_index")
            t.profile.mrn_index = blind_index_for(v["mrn"])
        model: type[Any] = type(t.profile)
        profile_fields.setdefault(model, set()).update(dirty_profile)
        profiles.setdefault(model, []).append(t.profile)
    Contact.objects.bulk_update(contacts, sorted(contact_fields))
    for model, objects in profiles.items():
        model._default_manager.bulk_update(objects, sorted(profile_fields[model]))
    if missing:
        _insert_profiles(missing)


def _insert_children(targets: list[Target], ctx: ImportContext) -> None:
    phones: list[Row] = []
    emails: list[Row] = []
    postal: list[Row] = []
    tag_names: list[str] = []
    for t in targets:
        for phone in t.new_phones:
            t.phone_rank += 1
            use = "mobile" if phone.line_type == "mobile" else "work"
            phones.append(
                (t.contact_id, phone.e164, phone.line_type, phone.region or "", use, t.phone_rank)
            )
        for address in t.new_emails:
            t.email_rank += 1
            emails.append((t.contact_id, address, t.email_rank))
        for p in t.new_postal:
            t.postal_rank += 1
            postal.append(
                (
                    t.contact_id,
                    p.line1,
                    p.line2,
                    p.city,
                    p.state,
                    p.postal_code,
                    p.country,
                    t.postal_rank,
                )
            )
        tag_names.extend(name for name in t.new_tags if name not in ctx.tags)
    for table, rows in ((_PHONES, phones), (_EMAILS, emails), (_POSTAL, postal)):
        if rows:
            table.insert(rows)
    if tag_names:
        names = list(dict.fromkeys(tag_names))
        ctx.tags.update((tag.name, tag.pk) for tag in tags_ensure(names=names))
    tags = ctx.tags
    links = [(t.contact_id, tags[name]) for t in targets for name in t.new_tags]
    if links:
        _TAG_LINKS.insert(links)
    specialties = ctx.specialties
    hcp_links = [(t.contact_id, specialties[code]) for t in targets for code in t.new_specialties]
    if hcp_links:
        _SPECIALTY_LINKS.insert(hcp_links)
    for t in targets:
        t.new_phones, t.new_emails, t.new_postal, t.new_tags, t.new_specialties = [], [], [], [], []
        t.dirty = set()
