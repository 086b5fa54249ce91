"""Validating a large file in a second process, so that two cores work on an import.

The field rules (`validation.check_rows`, phone numbers above all) cost as much CPU per row as
matching and writing together. On a thread they share one core with them (Python runs one
thread at a time) and every return from the database waits for the validating thread to let
go. For a file of `PROCESS_MIN_ROWS` rows or more, a fresh interpreter (nothing of this
process is inherited, least of all its database connection) reads the stored file itself and
validates it batch by batch, one batch ahead of the writer, so memory stays bounded. It needs
no database and no Django setup: `validation` imports neither.

Drafts cross as tuples (`encode_draft`), not as pickled dataclasses: those cost more to pickle
and unpickle than the validation they carry; an accepted row's cells cross as one string
(`validation.CELL_SEPARATOR`), split only if the row is refused later. For a pass that writes,
the child also encrypts the PHI it accepts (`validation.PhiSealer`): the field keys reach it
through its stdin, with its other arguments, never on its command line.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from carereach.audience.drafts import ContactDraft, PostalDraft
from carereach.audience.identifiers import LineType, PhoneNumber
from carereach.audience.imports.reading import read_batches
from carereach.audience.imports.validation import CELL_SEPARATOR, Checked, PhiSealer, check_rows
from carereach.errors import CarereachError

PROCESS_MIN_ROWS = 20_000  # below this, starting a process costs more than it saves
CHILD_COMMAND = [sys.executable, "-m", __name__]  # this module's `__main__` block

_FIELDS = tuple(f.name for f in dataclasses.fields(ContactDraft))
_PHONES = _FIELDS.index("phones")
_POSTAL = _FIELDS.index("postal")
_LINE_TYPES = {line_type.value: line_type for line_type in LineType}


class ValidatorFailed(CarereachError):
    """The validating process stopped before the end of the file."""

    code = "import_validator_failed"
    status = 500


def encode_draft(draft: ContactDraft) -> tuple[Any, ...]:
    """The draft's fields in declaration order, phones and postal address as tuples."""
    values = [getattr(draft, name) for name in _FIELDS]
    values[_PHONES] = [(p.e164, p.region, p.line_type.value, p.extension) for p in draft.phones]
    postal = draft.postal
    if postal is not None:
        values[_POSTAL] = (
            postal.line1,
            postal.line2,
            postal.city,
            postal.state,
            postal.postal_code,
            postal.country,
        )
    return tuple(values)


def decode_draft(values: tuple[Any, ...]) -> ContactDraft:
    fields = list(values)
    fields[_PHONES] = [
        PhoneNumber(e164, region, _LINE_TYPES[line_type], extension)
        for e164, region, line_type, extension in fields[_PHONES]
    ]
    if fields[_POSTAL] is not None:
        fields[_POSTAL] = PostalDraft(*fields[_POSTAL])
    return ContactDraft(*fields)


def _encode(checked: Checked) -> tuple[Any, ...]:
    join = CELL_SEPARATOR.join
    valid = [
        (number, cells if isinstance(cells, str) else join(cells), encode_draft(draft), sealed)
        for number, cells, draft, sealed in checked.valid
    ]
    return ("batch", checked.size, valid, checked.refused)


def _decode(message: tuple[Any, ...]) -> Checked:
    _, size, valid, refused = message
    drafts = [
        (number, cells, decode_draft(values), sealed) for number, cells, values, sealed in valid
    ]
    return Checked(size=size, valid=drafts, refused=refused)


def _frame(payload: Any) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "big") + data


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        return None
    data = stream.read(int.from_bytes(head, "big"))
    return pickle.loads(data)  # noqa: S301 - frames written by our own child process


def _validate_file(arguments: IO[bytes], out: IO[bytes]) -> int:
    """The child's whole life: every batch of the file, then "done" (or the error)."""
    gc.disable()  # see services._cyclic_gc_paused: nothing here is in a cycle
    try:
        path, columns, size, sealer = _read_frame(arguments)
        for rows in read_batches(Path(path), size=size):
            out.write(_frame(_encode(check_rows(rows, columns, sealer))))
            out.flush()
        out.write(_frame(("done",)))
    except BaseException:
        out.write(_frame(("error", traceback.format_exc(limit=5))))
        return 1
    finally:
        out.flush()
    return 0


class ProcessValidator:
    """`batches()` yields the file's batches validated by the child process, in order.

    The child is `python -m carereach.audience.imports.workers`: a fresh interpreter that
    imports only the validation modules (multiprocessing's spawn would import this process's
    main module again, which a script without a main guard does not survive). It reads its
    arguments from stdin and writes length-prefixed pickles to stdout; the pipe's back-pressure
    keeps it at most a batch ahead.
    """

    def __init__(
        self,
        path: Path,
        columns: tuple[tuple[int, str], ...],
        size: int,
        sealer: PhiSealer | None = None,
    ) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            CHILD_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None  # noqa: S101 - PIPE was asked for
        assert self._process.stdout is not None  # noqa: S101
        self._stdout = self._process.stdout
        # The sealer carries the field keys: through the pipe, never on the command line.
        self._process.stdin.write(_frame((str(path), columns, size, sealer)))
        self._process.stdin.close()

    def batches(self) -> Iterator[Checked]:
        while True:
            message = _read_frame(self._stdout)
            if message is None:
                code = self._process.wait()
                raise ValidatorFailed(
                    f"the validating process ended without a word (exit code {code})"
                )
            if message[0] == "done":
                return
            if message[0] == "error":
                raise ValidatorFailed(f"the validating process failed: {message[1]}")
            yield _decode(message)

    def close(self) -> None:
        """Stop the child (it may still be reading ahead when the writer stops early)."""
        if self._process.poll() is None:
            self._process.terminate()
        self._stdout.close()
        self._process.wait(timeout=30)


if __name__ == "__main__":  # pragma: no cover - the child process (see ProcessValidator)
    sys.exit(_validate_file(sys.stdin.buffer, sys.stdout.buffer))
