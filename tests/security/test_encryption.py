"""PHI fields are ciphertext at rest, searchable by blind index, and survive key rotation."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from carereach.security.crypto import DecryptionError
from carereach.security.fields import blind_index_for, blind_index_lookup
from carereach.security.models import AuditEntry
from carereach.security.services import field_keys_rotate
from tests.testapp.models import SecretNote

pytestmark = pytest.mark.django_db

KEY_A = bytes([10]) * 32
KEY_B = bytes([20]) * 32
KEY_C = bytes([30]) * 32


def _raw(column: str, pk: int) -> str:
    table = SecretNote._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def _note(mrn: str, diagnosis: str) -> SecretNote:
    return SecretNote.objects.create(mrn=mrn, mrn_index=blind_index_for(mrn), diagnosis=diagnosis)


def test_value_is_ciphertext_in_the_raw_row() -> None:
    note = _note("MRN-004217", "type 2 diabetes")
    raw = _raw("diagnosis", note.pk)
    assert "diabetes" not in raw
    assert raw.startswith("v1:")
    assert SecretNote.objects.get(pk=note.pk).diagnosis == "type 2 diabetes"


def test_same_value_encrypts_differently_each_time() -> None:
    first, second = _note("A1", "asthma"), _note("A1", "asthma")
    assert _raw("diagnosis", first.pk) != _raw("diagnosis", second.pk)


def test_blind_index_finds_by_equality_ignoring_case_and_spaces() -> None:
    note = _note("MRN-77", "x")
    _note("MRN-78", "y")
    found = SecretNote.objects.filter(mrn_index__in=blind_index_lookup("  mrn-77 "))
    assert list(found) == [note]


def test_lookups_on_ciphertext_are_refused() -> None:
    with pytest.raises(FieldError):
        list(SecretNote.objects.filter(mrn="MRN-77"))


def test_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    note = _note("MRN-1", "secret")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SecretNote._meta.db_table} SET mrn = diagnosis WHERE id = %s",  # noqa: S608
            [note.pk],
        )
    with pytest.raises(DecryptionError, match="integrity"):
        SecretNote.objects.get(pk=note.pk)


def test_tampered_ciphertext_fails_with_a_clear_error() -> None:
    note = _note("MRN-2", "hypertension-stage-2")
    raw = _raw("diagnosis", note.pk)
    tampered = raw[:-6] + ("A" if raw[-6] != "A" else "B") + raw[-5:]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SecretNote._meta.db_table} SET diagnosis = %s WHERE id = %s",  # noqa: S608
            [tampered, note.pk],
        )
    with pytest.raises(DecryptionError) as excinfo:
        SecretNote.objects.get(pk=note.pk)
    assert "hypertension" not in str(excinfo.value)
    assert "MRN-2" not in str(excinfo.value)


def test_rotation_keeps_every_row_readable_and_moves_them_to_the_new_key() -> None:
    with override_settings(FIELD_KEYS=[KEY_A]):
        notes = [_note(f"MRN-{i}", f"diagnosis {i}") for i in range(23)]
        notes.append(SecretNote.objects.create(mrn=None, diagnosis=None))
        old_prefix = _raw("diagnosis", notes[0].pk)[:12]
    with override_settings(FIELD_KEYS=[KEY_B, KEY_A]):
        # Readable before rotation with the old key still configured; found by the old index.
        assert SecretNote.objects.get(pk=notes[5].pk).diagnosis == "diagnosis 5"
        assert SecretNote.objects.filter(mrn_index__in=blind_index_lookup("MRN-5")).count() == 1
        report = field_keys_rotate(batch_size=5)
        assert report.rows == 23
        assert field_keys_rotate(batch_size=5).rows == 0  # nothing left to do
        new_prefix = _raw("diagnosis", notes[0].pk)[:12]
        assert new_prefix != old_prefix
    with override_settings(FIELD_KEYS=[KEY_B]):  # the old key is gone now
        for i, note in enumerate(notes[:-1]):
            loaded = SecretNote.objects.get(pk=note.pk)
            assert (loaded.mrn, loaded.diagnosis) == (f"MRN-{i}", f"diagnosis {i}")
            assert _raw("mrn", note.pk).startswith(new_prefix)
        assert SecretNote.objects.get(pk=notes[-1].pk).diagnosis is None
        assert SecretNote.objects.filter(mrn_index__in=blind_index_lookup("MRN-7")).count() == 1
    assert AuditEntry.objects.filter(action="rotate").exists()


def test_rows_under_a_removed_key_say_which_key_is_missing() -> None:
    with override_settings(FIELD_KEYS=[KEY_A]):
        note = _note("MRN-9", "x")
    with override_settings(FIELD_KEYS=[KEY_C]), pytest.raises(DecryptionError, match="not in"):
        SecretNote.objects.get(pk=note.pk)


def test_keys_rotate_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with override_settings(FIELD_KEYS=[KEY_A]):
        _note("MRN-10", "x")
    with override_settings(FIELD_KEYS=[KEY_B, KEY_A]):
        call_command("keys", "rotate")
    assert "re-encrypted 1 rows" in capsys.readouterr().out


def test_field_keys_setting_parses_base64() -> None:
    from carereach.config import field_keys

    encoded = ",".join(base64.b64encode(k).decode() for k in (KEY_A, KEY_B))
    assert field_keys({"CARE_FIELD_KEYS": encoded}) == [KEY_A, KEY_B]
