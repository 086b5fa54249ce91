"""The audit log is hash-chained: edits and deletions through raw SQL are found and named."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from carereach.security.audit import audit_record, audit_verify
from carereach.security.models import AuditAction, AuditEntry
from carereach.security.roles import Role

pytestmark = pytest.mark.django_db


def _entries(count: int) -> list[AuditEntry]:
    return [
        audit_record(actor=None, action=AuditAction.UPDATE, object_type="thing", object_id=i)
        for i in range(count)
    ]


def test_chain_links_each_entry_to_the_previous() -> None:
    entries = _entries(5)
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.entry_hash
    assert audit_verify().ok


def test_entries_record_field_names_never_values(make_user: Callable[..., User]) -> None:
    user = make_user(Role.ADMIN)
    entry = audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="patient",
        object_id=7,
        changes=["date_of_birth", "name"],
    )
    assert entry.actor_label == user.username
    assert entry.changes == ["date_of_birth", "name"]


def test_raw_sql_edit_is_named_by_verify(capsys: pytest.CaptureFixture[str]) -> None:
    entries = _entries(6)
    target = entries[3]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE security_auditentry SET object_id = %s WHERE id = %s", ["forged", target.pk]
        )
    report = audit_verify()
    assert report.broken_id == target.pk
    assert "edited" in report.reason
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    assert f"entry #{target.pk}" in capsys.readouterr().err


def test_deleted_entry_is_found_at_the_next_one() -> None:
    entries = _entries(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_auditentry WHERE id = %s", [entries[1].pk])
    report = audit_verify()
    assert report.broken_id == entries[2].pk
    assert "removed" in report.reason


def test_model_refuses_nothing_but_verify_catches_orm_edits_too() -> None:
    entry = _entries(2)[0]
    AuditEntry.objects.filter(pk=entry.pk).update(actor_label="mallory")
    assert audit_verify().broken_id == entry.pk


def test_intact_log_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    _entries(3)
    call_command("audit", "verify")
    assert "intact" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the lock matters on PostgreSQL")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            _entries(15)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = audit_verify()
    assert report.ok, report.reason
    assert report.checked >= 60


def test_audit_command_is_on_the_carereach_cli() -> None:
    # The CLI's exit status is what operators script against; run it as they would.
    result = subprocess.run(
        [sys.executable, "-m", "carereach.cli", "audit", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "verify" in result.stdout
