"""Planning one batch of rows: validate, check references, then match and merge.

Rows are validated by `drafts.contact_draft` (the one set of field rules); this module adds
what needs the database or the whole file, always set-based: one query per batch for territory
codes and for specialty codes, never one per row. Matching and merging are in `matching`.

`validate_batch` touches no database and no shared state, so a pass can run it for the next
batch on another thread while this one waits on the database (`plan_validated`); for a large
file the same rules (`validation.check_rows`) run in a second process (`workers`).
"""

from __future__ import annotations

from dataclasses import dataclass

from carereach.audience.imports.batch import (
    BatchPlan,
    ImportContext,
    PlannedRow,
    RowProblem,
    add_problem,
)
from carereach.audience.imports.matching import match_and_merge
from carereach.audience.imports.reading import SourceRow
from carereach.audience.imports.validation import Checked, check_rows
from carereach.audience.models import Specialty, Territory


@dataclass
class Validated:
    """A batch after `contact_draft`: the rows it accepted and the problems it found."""

    size: int  # rows in the batch
    valid: list[PlannedRow]
    problems: dict[int, list[RowProblem]]
    bad_territories: list[tuple[int, str]]  # (row, code) of refused rows, checked later
    cells: dict[int, list[str]]  # the refused rows' cells, for the error file


def validate_batch(rows: list[SourceRow], ctx: ImportContext) -> Validated:
    """The per-row field rules; pure (no database, `ctx` only read)."""
    return validated_from(check_rows(rows, ctx.columns.columns, ctx.sealer), ctx)


def validated_from(checked: Checked, ctx: ImportContext) -> Validated:
    """`check_rows`' plain data as the objects planning works with."""
    columns = ctx.columns.columns
    problems: dict[int, list[RowProblem]] = {}
    bad_territories: list[tuple[int, str]] = []
    cells: dict[int, list[str]] = {}
    for number, row_cells, findings, territory in checked.refused:
        problems[number] = [
            RowProblem(number, name, ctx.column_of(name), value, reason)
            for name, value, reason in findings
        ]
        cells[number] = row_cells
        if territory:
            bad_territories.append((number, territory))
    valid = [
        PlannedRow(number, row_cells, draft, columns, sealed)
        for number, row_cells, draft, sealed in checked.valid
    ]
    return Validated(checked.size, valid, problems, bad_territories, cells)


def plan_validated(validated: Validated, ctx: ImportContext) -> BatchPlan:
    """References, repeated NPIs, matching and merging: the database part of planning."""
    problems = validated.problems
    valid = _check_references(validated.valid, validated.bad_territories, ctx, problems)
    plan = BatchPlan(
        size=validated.size,
        bad=[],
        new_targets=[],
        changed_targets=[],
        merges=[],
        conflicts=[],
    )
    match_and_merge(valid, ctx, plan, problems)
    if problems:
        cells = validated.cells
        cells.update((row.number, row.cells) for row in validated.valid if row.number in problems)
        plan.bad = [((number, cells[number]), problems[number]) for number in sorted(problems)]
    return plan


def _check_references(
    rows: list[PlannedRow],
    bad_territories: list[tuple[int, str]],
    ctx: ImportContext,
    problems: dict[int, list[RowProblem]],
) -> list[PlannedRow]:
    """Territory and specialty codes exist (one query each per batch); NPIs are not repeated."""
    codes = {row.draft.territory for row in rows if row.draft.territory}
    codes.update(code for _, code in bad_territories)
    unknown = codes - ctx.territories.keys()
    if unknown:
        found = dict(Territory.objects.filter(code__in=unknown).values_list("code", "id"))
        ctx.territories.update({code: found.get(code) for code in unknown})
    specialties = {code for row in rows for code in row.draft.specialties}
    unknown = specialties - ctx.specialties.keys()
    if unknown:
        found = dict(Specialty.objects.filter(code__in=unknown).values_list("code", "id"))
        ctx.specialties.update({code: found.get(code) for code in unknown})

    column = ctx.column_of("territory")
    for number, code in bad_territories:
        if ctx.territories[code] is None:
            problems[number].append(
                RowProblem(number, "territory", column, code, "no such territory")
            )
    batch_npis: dict[int, int] = {}
    kept: list[PlannedRow] = []
    for row in rows:
        draft, before = row.draft, len(problems.get(row.number, ()))
        if draft.territory:
            row.territory_id = ctx.territories[draft.territory]
            if row.territory_id is None:
                add_problem(problems, ctx, row, "territory", draft.territory, "no such territory")
        for code in draft.specialties:
            if ctx.specialties[code] is None:
                add_problem(
                    problems,
                    ctx,
                    row,
                    "specialties",
                    code,
                    "not in the specialty table (load the NUCC taxonomy first)",
                )
        if draft.npi and len(problems.get(row.number, ())) == before:
            npi = int(draft.npi)
            if npi in batch_npis:
                add_problem(
                    problems,
                    ctx,
                    row,
                    "npi",
                    draft.npi,
                    f"the same NPI is on row {batch_npis[npi]}",
                )
            elif npi in ctx.npis:
                add_problem(
                    problems, ctx, row, "npi", draft.npi, "the same NPI is on an earlier row"
                )
            else:
                batch_npis[npi] = row.number
                ctx.npis.add(npi)
        if len(problems.get(row.number, ())) == before:
            kept.append(row)
    return kept
