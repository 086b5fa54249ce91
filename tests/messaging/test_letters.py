"""Letters end to end: fan-out on the letter channel → dispatch to the letters provider → the
daily batch (CLI, scheduler task, console download): one PDF, one letter from each page, and
a CSV manifest the mail house works from."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.channels.models import LetterBatch, LetterItem
from carereach.channels.types.letter.printing import Letter, letters_print
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from carereach.messaging.services.letters import letters_batch, letters_batch_due
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def program() -> Program:
    return factories.program("adherence", channels=["sms", "email", "letter"])


def _addressee(program: Program, **fields: str) -> Contact:
    values = {
        "kind": "patient",
        "first_name": "Zoë",
        "last_name": "Ortiz",
        "address_line1": "12 Elm Street",
        "address_line2": "Apt 4",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "time_zone": "America/Chicago",
    } | fields
    person = audience.contact(**values)
    postal = person.postal_addresses.get()
    consent_record(
        contact=person,
        address=f"postal:{postal.pk}",
        channels=["letter"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    return person


def _send(program: Program, key: str = "refill:1") -> None:
    fanout(
        trigger=Trigger(key=key, origin="campaign", program=program, channel="letter"),
        contacts=Contact.objects.all(),
        render=lambda c, k, lang: Rendered(
            body="Your refill is due. Call us at 800-555-0100.", subject="Your prescription"
        ),
    )
    dispatch_due(worker="w1")


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_letters_are_collected_then_printed_one_per_page_with_a_manifest(
    program: Program, tmp_path: Path
) -> None:
    zoe = _addressee(program)
    big = _addressee(program, first_name="Ada", last_name="Park", large_print="yes")
    _send(program)

    sent = list(Message.objects.order_by("contact_id"))
    assert [(m.channel, m.status, m.provider) for m in sent] == [("letter", "sent", "letters")] * 2
    assert sent[0].address == f"postal:{zoe.postal_addresses.get().pk}"
    assert LetterItem.objects.filter(batch__isnull=True).count() == 2

    today = timezone.now().date().isoformat()
    out = io.StringIO()
    call_command("letters", "batch", "--date", today, "--out", str(tmp_path), stdout=out)
    assert f"letters {today}: 2 letters, 2 pages" in out.getvalue()

    pdf = (tmp_path / f"letters-{today}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert _pages(pdf) == 2
    rows = list(csv.DictReader((tmp_path / f"letters-{today}.csv").open(encoding="utf-8")))
    assert [row["message_id"] for row in rows] == [str(m.pk) for m in sent]
    assert rows[0] | {"message_id": ""} == {
        "message_id": "",
        "name": "Zoë Ortiz",
        "address_line_1": "12 Elm Street",
        "address_line_2": "Apt 4",
        "address_line_3": "Springfield, IL 62701",
        "address_line_4": "",
        "pages": "1",
        "first_page": "1",
        "large_print": "no",
    }
    assert (rows[1]["name"], rows[1]["large_print"], rows[1]["first_page"]) == (
        "Ada Park",
        "yes",
        "2",
    )
    for message in sent:
        message.refresh_from_db()
        assert message.reasons[-1]["code"] == "letter_batched"
    big_message = Message.objects.get(contact=big)
    assert "page 2 (large print)" in big_message.reasons[-1]["text"]
    assert LetterItem.objects.filter(batch__isnull=True).count() == 0

    # Asked again: the same batch, nothing printed twice.
    again = io.StringIO()
    call_command("letters", "batch", "--date", today, stdout=again)
    assert "2 letters" in again.getvalue()
    assert LetterBatch.objects.count() == 1


def test_the_scheduler_prints_yesterdays_letters_once(program: Program) -> None:
    _addressee(program)
    _send(program)
    tomorrow = timezone.now() + timedelta(days=1)

    batch = letters_batch_due(now=tomorrow)
    assert batch is not None
    assert (batch.date, batch.letters) == (timezone.now().date(), 1)
    assert letters_batch_due(now=tomorrow) == batch
    assert letters_batch(day=timezone.now().date() - timedelta(days=3)) is None


def test_a_letter_whose_address_went_fails_with_the_reason(program: Program) -> None:
    person = _addressee(program)
    _send(program)
    person.postal_addresses.all().delete()

    batch = letters_batch(day=timezone.now().date())
    assert batch is not None
    assert batch.letters == 0
    message = Message.objects.get()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "address_gone")
    assert message.reasons[-1]["code"] == "address_gone"


def test_bad_dates_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        call_command("letters", "batch", "--date", "23/11/2026")
    assert stopped.value.code == 2
    assert "error (date): not a date: '23/11/2026'" in capsys.readouterr().err
    later = (timezone.now() + timedelta(days=2)).date().isoformat()
    with pytest.raises(SystemExit):
        call_command("letters", "batch", "--date", later)


def test_operators_download_the_files_and_each_download_is_audited(
    program: Program, signed_in: Callable[[Role], Client]
) -> None:
    _addressee(program)
    _send(program)
    batch = letters_batch(day=timezone.now().date())
    assert batch is not None
    day = batch.date.isoformat()

    admin = signed_in(Role.ADMIN)
    page = admin.get("/letters/")
    assert page.status_code == 200
    assert f"/letters/{day}/pdf/" in page.content.decode()
    pdf = admin.get(f"/letters/{day}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]).startswith(b"%PDF")
    manifest = admin.get(f"/letters/{day}/csv/")
    assert "Zoë Ortiz" in manifest.content.decode()
    assert AuditEntry.objects.filter(object_type="letter_batch", action="export").count() == 2
    assert admin.get("/letters/1999-01-01/pdf/").status_code == 404

    marketer = signed_in(Role.MARKETER)  # runs campaigns, may not see patients' data
    assert marketer.get("/letters/").status_code == 200
    assert marketer.get(f"/letters/{day}/pdf/").status_code == 403
    assert signed_in(Role.ANALYST).get("/letters/").status_code == 403


def test_long_letters_take_more_pages_and_formulas_are_defused() -> None:
    printed = letters_print(
        [
            Letter(1, "=HYPERLINK(1)", ("1 Main St", "Austin, TX 78701"), "", "word " * 3000),
            Letter(2, "Ann Lee", ("2 Main St", "Austin, TX 78701"), "Hi", "Short.", True),
        ],
        day=timezone.now().date(),
    )
    rows = list(csv.DictReader(io.StringIO(printed.manifest)))
    assert rows[0]["name"] == "'=HYPERLINK(1)"
    assert int(rows[0]["pages"]) > 1
    assert rows[1]["first_page"] == str(int(rows[0]["pages"]) + 1)
    assert printed.pages == _pages(printed.pdf)
