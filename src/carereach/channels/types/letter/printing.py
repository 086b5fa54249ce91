"""A day's letters as the mail house takes them: one PDF and a CSV manifest (fpdf2, no I/O).

Every letter starts on a new page of a US Letter sheet, its recipient block where a #10
window envelope shows it (1 in from the left, 2 in from the top), then the date, the subject
and the text. A letter for someone whose accessibility needs ask for large print is set in
18 pt (the common large-print minimum) instead of 11 pt, and flagged in the manifest so the
mail house can check it.

The text is set in DejaVu Sans when the font file is found (CARE_LETTER_FONT, else the usual
system path), which covers Latin, Greek and Cyrillic scripts; without it, in Helvetica, with
characters it cannot show replaced by "?" (the manifest still has the exact name).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fpdf import FPDF

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
NORMAL_PT = 11
LARGE_PT = 18
MARGIN_MM = 25.4  # 1 inch
WINDOW_TOP_MM = 50.8  # 2 inches: the address window of a #10 envelope
MANIFEST_COLUMNS = [
    "message_id",
    "name",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "pages",
    "first_page",
    "large_print",
]


@dataclass(frozen=True)
class Letter:
    message_id: int
    name: str
    lines: tuple[str, ...]  # the postal address, one line each (at most 4)
    subject: str
    body: str
    large_print: bool = False


@dataclass(frozen=True)
class Printed:
    pdf: bytes
    manifest: str
    pages: int
    first_page: dict[int, int]  # message id -> its first page in the PDF


def _cell(value: str) -> str:
    """A text cell no spreadsheet runs as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def font_path(configured: str = "") -> str:
    """The Unicode font to set letters in, or "" for the built-in Helvetica."""
    for candidate in (configured, *FONT_PATHS):
        if candidate and Path(candidate).is_file():
            return candidate
    return ""


class _Document:
    def __init__(self, font: str) -> None:
        self.pdf = FPDF(orientation="portrait", unit="mm", format="letter")
        self.pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
        self.pdf.set_creator("Carereach")
        if font:
            self.pdf.add_font("letter", "", font)
            self.family = "letter"
        else:
            self.family = "helvetica"
        self.unicode = bool(font)

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", errors="replace").decode("latin-1")

    def letter(self, letter: Letter, day: date) -> int:
        """Set one letter from a new page; returns how many pages it took."""
        pdf = self.pdf
        pdf.add_page()
        first = pdf.page_no()
        size = LARGE_PT if letter.large_print else NORMAL_PT
        line = size * 0.5  # mm per line: generous leading, for reading
        pdf.set_font(self.family, size=size)
        pdf.set_xy(MARGIN_MM, WINDOW_TOP_MM)
        for part in (letter.name, *letter.lines):
            pdf.cell(0, line, self.text(part), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(line * 2)
        pdf.cell(0, line, day.isoformat(), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(line)
        if letter.subject:
            pdf.multi_cell(0, line, self.text(letter.subject), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(line / 2)
        pdf.multi_cell(0, line, self.text(letter.body), new_x="LMARGIN", new_y="NEXT")
        return pdf.page_no() - first + 1


def letters_print(letters: Sequence[Letter], *, day: date, font: str = "") -> Printed:
    """One PDF with every letter from its own page, and the manifest listing each."""
    document = _Document(font_path(font))
    document.pdf.set_title(f"Letters {day.isoformat()}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    first_page: dict[int, int] = {}
    for letter in letters:
        first_page[letter.message_id] = document.pdf.page_no() + 1
        pages = document.letter(letter, day)
        lines = [*letter.lines[:4], "", "", "", ""][:4]
        writer.writerow(
            [
                letter.message_id,
                _cell(letter.name),
                *(_cell(part) for part in lines),
                pages,
                first_page[letter.message_id],
                "yes" if letter.large_print else "no",
            ]
        )
    pdf = bytes(document.pdf.output()) if letters else b""
    return Printed(
        pdf=pdf, manifest=out.getvalue(), pages=document.pdf.page_no(), first_page=first_page
    )
