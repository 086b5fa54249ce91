"""Reading an uploaded CSV file: storing it, refusing what is not UTF-8 CSV, streaming rows.

A file is checked once, when it is uploaded, in two streaming passes: its bytes (signature, NUL
bytes, UTF-8) and then its CSV shape (a header of distinct names, the same number of fields on
every row). Later passes read it with `csv.reader` over a strict `utf-8-sig` text stream and
hand out rows in batches, so memory stays bounded whatever the file's size.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2, a blank
line still counts as a row, and a quoted field that spans lines stays one row.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import uuid4

from carereach.errors import ValidationError

ENCODING = "utf-8-sig"
CHUNK_BYTES = 1 << 20
# A row is its spreadsheet row number and its cells, exactly as the file has them.
SourceRow = tuple[int, list[str]]

_SIGNATURES = (
    (b"\xff\xfe", "the file is UTF-16 text, not UTF-8: save it as “CSV UTF-8”"),
    (b"\xfe\xff", "the file is UTF-16 text, not UTF-8: save it as “CSV UTF-8”"),
    (b"PK\x03\x04", "the file is a spreadsheet or ZIP archive, not CSV: export it as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "the file is an Excel 97 workbook, not CSV: export it as CSV UTF-8"),
    (b"%PDF", "the file is a PDF document, not CSV"),
)


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class FileRefused(ValidationError):
    """The upload is not a UTF-8 CSV file we can read; the message says what is wrong."""

    code = "file_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="file")


@dataclass(frozen=True)
class FileShape:
    header: tuple[str, ...]
    rows: int  # data rows, blank ones left out


def store_upload(*, file: Readable, directory: Path) -> Path:
    """Copy the upload to a new private file under `directory`, chunk by chunk."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{uuid4().hex}.csv"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        while chunk := file.read(CHUNK_BYTES):
            out.write(chunk)
    return path


def inspect_file(path: Path) -> FileShape:
    """Refuse a file that is not UTF-8 CSV, naming why; otherwise its header and row count."""
    _check_bytes(path)
    with open_text(path) as text:
        reader = csv.reader(text, strict=True)
        try:
            first = next(reader, None)
            if first is None or not any(cell.strip() for cell in first):
                raise FileRefused("the file is empty: expected a header row, then a contact a row")
            header = tuple(cell.strip() for cell in first)
            _check_header(header)
            rows = 0
            for number, cells in enumerate(reader, start=2):
                if is_blank(cells):
                    continue
                if len(cells) != len(header):
                    raise FileRefused(
                        f"not CSV: row {number} has {len(cells)} fields, "
                        f"the header has {len(header)}"
                    )
                rows += 1
        except csv.Error as exc:
            raise FileRefused(f"not CSV: {exc} (line {reader.line_num})") from None
    return FileShape(header=header, rows=rows)


def read_header(path: Path) -> tuple[str, ...]:
    """The header of a file `inspect_file` accepted."""
    with open_text(path) as text:
        return tuple(cell.strip() for cell in next(csv.reader(text, strict=True), []))


def read_batches(path: Path, *, size: int) -> Iterator[list[SourceRow]]:
    """The data rows in batches of `size`; blank rows are skipped (their numbers are kept)."""
    with open_text(path) as text:
        reader = csv.reader(text, strict=True)
        next(reader, None)
        batch: list[SourceRow] = []
        for number, cells in enumerate(reader, start=2):
            if is_blank(cells):
                continue
            batch.append((number, cells))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def open_text(path: Path) -> io.TextIOWrapper:
    return io.TextIOWrapper(path.open("rb"), encoding=ENCODING, errors="strict", newline="")


def is_blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _check_header(header: tuple[str, ...]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise FileRefused(f"not CSV: column {position} of the header has no name")
        key = name.casefold()
        if key in seen:
            raise FileRefused(
                f"not CSV: the header names {name!r} twice (columns {seen[key]} and {position})"
            )
        seen[key] = position


def _check_bytes(path: Path) -> None:
    """One streaming pass over the bytes: known binary formats, NUL bytes, invalid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with path.open("rb") as raw:
        first = True
        while piece := raw.read(CHUNK_BYTES):
            if first:
                for signature, reason in _SIGNATURES:
                    if piece.startswith(signature):
                        raise FileRefused(reason)
                first = False
            nul = piece.find(b"\x00")
            if nul >= 0:
                where = line + piece.count(b"\n", 0, nul)
                raise FileRefused(
                    f"not CSV: the file holds binary content (a NUL byte at line {where})"
                )
            pending = decoder.getstate()[0]
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                data = pending + piece
                where = line + data.count(b"\n", 0, exc.start)
                raise FileRefused(
                    f"the file is not UTF-8 text: byte 0x{data[exc.start]:02X} at line {where}"
                ) from None
            line += piece.count(b"\n")
        pending = decoder.getstate()[0]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileRefused(
                f"the file is not UTF-8 text: byte 0x{pending[0]:02X} at line {line}"
            ) from None
