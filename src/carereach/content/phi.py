"""The PHI guard: words in a patient-facing body that would disclose health information.

HIPAA's minimum necessary rule: a patient text says "Your results are ready in the portal", not
the test. This pure check looks for record numbers, birth dates, test and diagnosis names from a
configurable list (PhiTerm), and drug names; the review service refuses approval on a finding
unless the program sends PHI only to channels the patient accepted, and says which words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Template tags are the fields the renderer fills, not words of the body.
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_HTML_TAGS = re.compile(r"<[^>]+>")
_RECORD_WORDS = re.compile(
    r"\b(MRN|medical record(?: number)?|record (?:number|no\.?)|patient (?:id|number)"
    r"|member id|expediente)\b",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"(?<![\w/-])#?\d{6,}(?![\w/-])")
_BIRTH_WORDS = re.compile(
    r"\b(DOB|date of birth|birth ?date|born on|fecha de nacimiento)\b", re.IGNORECASE
)
_DATES = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")


@dataclass(frozen=True)
class Finding:
    word: str  # as written in the body
    category: str  # record_number | date_of_birth | test | diagnosis | drug

    def describe(self) -> str:
        return f"“{self.word}” ({self.category.replace('_', ' ')})"


def _phone_like(digits: str) -> bool:
    return len(digits) == 10 or (len(digits) == 11 and digits.startswith("1"))


def phi_findings(
    text: str, *, terms: Iterable[tuple[str, str]] = (), drugs: Iterable[str] = ()
) -> list[Finding]:
    """PHI-looking words in `text` (template tags and HTML markup ignored), each once.

    `terms` are (term, category) pairs from the configurable list; `drugs` the drug names to
    look for besides those (the version's brand and generic names).
    """
    plain = _HTML_TAGS.sub(" ", _TAGS.sub(" ", text))
    found: list[Finding] = []

    def add(word: str, category: str) -> None:
        finding = Finding(word, category)
        if finding not in found:
            found.append(finding)

    for match in _RECORD_WORDS.finditer(plain):
        add(match.group(0), "record_number")
    for match in _DIGIT_RUN.finditer(plain):
        if not _phone_like(match.group(0).lstrip("#")):
            add(match.group(0), "record_number")
    for match in _BIRTH_WORDS.finditer(plain):
        add(match.group(0), "date_of_birth")
    for match in _DATES.finditer(plain):
        add(match.group(0), "date_of_birth")
    listed = [(term, category) for term, category in terms if term.strip()]
    listed += [(drug, "drug") for drug in drugs if drug.strip()]
    for term, category in listed:
        pattern = rf"(?<!\w){re.escape(term.strip())}(?!\w)"
        for match in re.finditer(pattern, plain, re.IGNORECASE):
            add(match.group(0), category)
    return found
