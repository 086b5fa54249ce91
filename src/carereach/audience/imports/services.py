"""Importing contacts from a CSV file: upload, validate (a dry run), run.

The CLI, the REST API and the console all call these three services:
- `contact_import_upload` stores the file under VAR_DIR/imports, refuses it unless it is UTF-8
  CSV, resolves the column mapping and records the import;
- `contact_import_validate` reads every row and reports what a run would do, writing nothing;
- `contact_import_run` writes. `all_or_nothing`: the whole run is one transaction, rolled back
  if any row is bad. `valid_only`: each batch commits on its own (with the progress counter),
  bad rows go to the error file.
Both passes stream the file in batches of `BATCH_SIZE` rows (see `planning` and `writing`);
the field rules of the next batch run while the current batch is matched and written: on a
second thread, or for a large file in a second process (`workers`); neither touches the
database (one connection, one transaction as before).
`processed_rows` is stored after every batch so a page can poll it. One audit entry records
each run that writes, with counts only.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from carereach.audience.imports import workers
from carereach.audience.imports.batch import ImportContext
from carereach.audience.imports.mapping import resolve_mapping
from carereach.audience.imports.planning import (
    Validated,
    plan_validated,
    validate_batch,
    validated_from,
)
from carereach.audience.imports.reading import (
    Readable,
    SourceRow,
    inspect_file,
    read_batches,
    read_header,
    store_upload,
)
from carereach.audience.imports.report import ErrorFile, ImportReport
from carereach.audience.imports.writing import phi_sealer, write_batch
from carereach.audience.models import (
    CaregiverProfile,
    Contact,
    ContactImport,
    Email,
    HcpProfile,
    ImportMode,
    ImportStatus,
    PatientProfile,
    Phone,
    PostalAddress,
)
from carereach.errors import CarereachError, ConflictError, PermissionDeniedError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability

BATCH_SIZE = 5000
ANALYZE_MIN_ROWS = 10_000  # a run that writes this many rows ends with VACUUM (ANALYZE)
# The tables a run writes to.
_FILLED = (
    Contact,
    HcpProfile,
    PatientProfile,
    CaregiverProfile,
    Phone,
    Email,
    PostalAddress,
    Contact.tags.through,
    HcpProfile.specialties.through,
)
IMPORT_DIR = "imports"
# Called after every batch with (rows processed, rows in the file): the CLI's progress bar.
Progress = Callable[[int, int], None]

_MAY_VALIDATE = {ImportStatus.UPLOADED, ImportStatus.VALIDATED, ImportStatus.FAILED}
_MAY_RUN = _MAY_VALIDATE


def _require_importer(actor: User | None) -> None:
    """Importers need the capability; None is the operator at the command line (no user)."""
    if actor is not None and not has_capability(actor, Capability.IMPORT_CONTACTS):
        raise PermissionDeniedError(
            "Your role may not import contacts: it needs the import_contacts capability.",
            code="forbidden",
        )


def _var() -> Path:
    return Path(settings.VAR_DIR)


def import_file_path(relative: str) -> Path:
    """Where an import's stored or error file lives (paths are stored relative to VAR_DIR)."""
    return _var() / relative


def contact_import_upload(
    *,
    file: Readable,
    filename: str,
    mapping: Mapping[str, str] | None = None,
    mode: str = ImportMode.ALL_OR_NOTHING,
    actor: User | None,
) -> ContactImport:
    """Store and check the file; a file that is not UTF-8 CSV is refused and not kept."""
    _require_importer(actor)
    if mode not in ImportMode.values:
        raise ValidationError(
            f"mode must be one of {', '.join(ImportMode.values)}, not {mode!r}", field="mode"
        )
    name = Path(filename.replace("\\", "/")).name.strip()[:255] or "contacts.csv"
    path = store_upload(file=file, directory=_var() / IMPORT_DIR)
    try:
        shape = inspect_file(path)
        columns = resolve_mapping(shape.header, mapping or {})
    except CarereachError:
        path.unlink(missing_ok=True)
        raise
    return ContactImport.objects.create(
        created_by=actor,
        created_at=timezone.now(),
        filename=name,
        stored_path=str(path.relative_to(_var())),
        mapping=columns.mapping,
        mode=mode,
        total_rows=shape.rows,
    )


def contact_import_validate(
    *, contact_import: ContactImport, progress: Progress | None = None
) -> ContactImport:
    """The dry run: every row validated and matched, the report stored, nothing written."""
    _claim(contact_import, _MAY_VALIDATE, ImportStatus.VALIDATING)
    try:
        report = _pass(contact_import, write=False, progress=_Progress(contact_import, progress))
    except BaseException:
        _finish(contact_import, ImportStatus.FAILED, None, error="the validation broke off")
        raise
    _finish(contact_import, ImportStatus.VALIDATED, report)
    return contact_import


def contact_import_run(
    *, contact_import: ContactImport, actor: User | None, progress: Progress | None = None
) -> ContactImport:
    """Write the file's contacts as its mode says; the outcome is on the returned import."""
    _require_importer(actor)
    _claim(contact_import, _MAY_RUN, ImportStatus.IMPORTING)
    try:
        if contact_import.mode == ImportMode.ALL_OR_NOTHING:
            _run_all_or_nothing(contact_import, actor, progress)
        else:
            _run_valid_only(contact_import, actor, progress)
    except BaseException:
        _finish(contact_import, ImportStatus.FAILED, None, error="the run broke off")
        raise
    if contact_import.status == ImportStatus.DONE:
        _stored_file(contact_import).unlink(missing_ok=True)
        if contact_import.created_rows + contact_import.merged_rows >= ANALYZE_MIN_ROWS:
            _refresh_statistics()
    return contact_import


def _refresh_statistics() -> None:
    """VACUUM (ANALYZE) the tables an import fills, once a large one has changed them.

    The planner's picture of a table comes from its last ANALYZE, and an index-only scan skips
    the table only on pages VACUUM has marked all-visible; autovacuum gets to both in its own
    time, or never where it is turned off. Until then, right after a large import, segment
    counts and pages were planned for the tables as they were before (a million contacts read
    as a few thousand) and visited the table for every index entry: seconds instead of tenths.
    VACUUM cannot run inside a transaction: a caller that holds one gets ANALYZE alone. SQLite
    keeps no statistics unless asked, and is left as it is.
    """
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in _FILLED)
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        cursor.execute(f"{command} {tables}")


class _AllOrNothingFailed(Exception):
    def __init__(self, report: ImportReport) -> None:
        self.report = report


def _run_all_or_nothing(
    contact_import: ContactImport, actor: User | None, progress: Progress | None
) -> None:
    try:
        with transaction.atomic():
            sink = _Progress(contact_import, progress, outside_transaction=True)
            try:
                report = _pass(
                    contact_import, write=True, stop_writing_on_error=True, progress=sink
                )
            finally:
                sink.close()
            if report.error_rows:
                raise _AllOrNothingFailed(report)
            _finish(contact_import, ImportStatus.DONE, report)
            _audit(contact_import, actor)
    except _AllOrNothingFailed as failed:
        # Rolled back: the report says what was wrong, the counts say nothing was written.
        failed.report.created_rows = failed.report.merged_rows = 0
        _finish(contact_import, ImportStatus.FAILED, failed.report)


def _run_valid_only(
    contact_import: ContactImport, actor: User | None, progress: Progress | None
) -> None:
    try:
        with _session_setting("synchronous_commit", "off"):
            report = _pass(
                contact_import,
                write=True,
                batch_transactions=True,
                progress=_Progress(contact_import, progress),
            )
    except BaseException:
        # Batches committed before the failure stay; the audit log must say so.
        rows = contact_import.processed_rows
        _audit(contact_import, actor, note=f"broke off after {rows} rows; earlier batches kept")
        raise
    with transaction.atomic():
        _finish(contact_import, ImportStatus.DONE, report)
        _audit(contact_import, actor)


def _pass(
    contact_import: ContactImport,
    *,
    write: bool,
    progress: _Progress,
    stop_writing_on_error: bool = False,
    batch_transactions: bool = False,
) -> ImportReport:
    path = _stored_file(contact_import)
    header = read_header(path)
    columns = resolve_mapping(header, contact_import.mapping)
    # A pass that writes has the validator encrypt the PHI it accepts (`validation.PhiSealer`).
    ctx = ImportContext(columns=columns, sealer=phi_sealer() if write else None)
    report = ImportReport(columns=columns, dry_run=not write)
    errors = ErrorFile(_var() / IMPORT_DIR / f"{contact_import.pk}-errors.csv", header)
    processed = 0
    try:
        with (
            _cyclic_gc_paused(),
            _without_jit(),
            _validated(path, ctx, rows=contact_import.total_rows) as batches,
        ):
            for validated in batches:
                plan = plan_validated(validated, ctx)
                processed += plan.size
                if write and plan.bad and stop_writing_on_error:
                    write = False
                with transaction.atomic() if write and batch_transactions else nullcontext():
                    if write:
                        write_batch(
                            new=plan.new_targets,
                            changed=plan.changed_targets,
                            ctx=ctx,
                            now=timezone.now(),
                        )
                    progress.update(processed)
                report.add(plan)
                errors.add(plan.bad)
    finally:
        has_errors = errors.close()
    contact_import.error_path = str(errors.path.relative_to(_var())) if has_errors else ""
    if not has_errors:
        errors.path.unlink(missing_ok=True)
    return report


@contextmanager
def _validated(path: Path, ctx: ImportContext, *, rows: int) -> Iterator[Iterator[Validated]]:
    """The file's batches after the field rules, validated ahead of the one being written:
    in a second process for a large file (`workers`), else on a thread."""
    if rows >= workers.PROCESS_MIN_ROWS:
        validator = workers.ProcessValidator(path, ctx.columns.columns, BATCH_SIZE, ctx.sealer)
        try:
            yield (validated_from(checked, ctx) for checked in validator.batches())
        finally:
            validator.close()
        return
    with ThreadPoolExecutor(1, "contact-import") as executor:
        yield _on_thread(executor, read_batches(path, size=BATCH_SIZE), ctx)


def _on_thread(
    executor: ThreadPoolExecutor, batches: Iterator[list[SourceRow]], ctx: ImportContext
) -> Iterator[Validated]:
    upcoming = _validate_next(executor, batches, ctx)
    while upcoming is not None:
        validated = upcoming.result()
        # The next batch's field rules run while this one waits on the database.
        upcoming = _validate_next(executor, batches, ctx)
        yield validated


def _validate_next(
    executor: ThreadPoolExecutor, batches: Iterator[list[SourceRow]], ctx: ImportContext
) -> Future[Validated] | None:
    rows = next(batches, None)
    return None if rows is None else executor.submit(validate_batch, rows, ctx)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a pass runs.

    A batch keeps tens of thousands of objects alive (drafts, targets, rows), none of them in
    cycles; the collector would walk them again and again as the batch allocates (a fifth of
    the CPU time, measured). Reference counting still frees everything; whatever cycle the ORM
    leaves is collected once the pass ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _without_jit() -> AbstractContextManager[None]:
    """Turn PostgreSQL's JIT compiler off for the pass.

    A batch's lookups are thousands of index probes whose cost the planner overestimates
    while the tables' statistics still describe them as they were before the import; above
    `jit_above_cost` it then spent ten times the probes' own time compiling them.
    """
    return _session_setting("jit", "off")


@contextmanager
def _session_setting(name: str, value: str) -> Iterator[None]:
    """A PostgreSQL session setting for the block; the previous value comes back after.

    `synchronous_commit = off` for the batches of a valid-only run: a batch's COMMIT returns
    without waiting for the disk. That risks nothing the run's last commit does not settle:
    it waits (the setting is back by then) and the log is written in order, so once the
    import is recorded done, every batch before it is on disk too; a crash before that
    leaves the import unfinished, as any crash mid-run does.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, false)", [name, name, value])
        row = cursor.fetchone()
    restore = ("SELECT set_config(%s, %s, false)", [name, row[0] if row else value])
    try:
        yield
    except BaseException:
        # In a transaction the error aborted, the rollback undoes the SET anyway; the original
        # error is the one to raise.
        with suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(*restore)
        raise
    with connection.cursor() as cursor:
        cursor.execute(*restore)


class _Progress:
    """Stores `processed_rows` after each batch and tells the caller's callback.

    Inside a run's single transaction an UPDATE would stay invisible until the end, so on
    PostgreSQL it goes through a second, autocommitting connection (best effort: a lock or a
    failure only skips a tick); SQLite has one writer at a time and shows the count at the end.
    """

    def __init__(
        self,
        contact_import: ContactImport,
        callback: Progress | None,
        *,
        outside_transaction: bool = False,
    ) -> None:
        self.contact_import = contact_import
        self.callback = callback
        self.side: BaseDatabaseWrapper | None = None
        self.silent = False
        if outside_transaction:
            if connection.vendor == "postgresql":
                self.side = connections.create_connection(DEFAULT_DB_ALIAS)
            else:
                self.silent = True

    def update(self, processed: int) -> None:
        self.contact_import.processed_rows = processed
        if self.callback is not None:
            self.callback(processed, self.contact_import.total_rows)
        if self.side is not None:
            self._side_update(processed)
        elif not self.silent:
            ContactImport.objects.filter(pk=self.contact_import.pk).update(processed_rows=processed)

    def _side_update(self, processed: int) -> None:
        assert self.side is not None  # noqa: S101 - only called with a side connection
        table = self.side.ops.quote_name(ContactImport._meta.db_table)
        try:
            with self.side.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")
                cursor.execute(
                    f"UPDATE {table} SET processed_rows = %s WHERE id = %s",  # noqa: S608
                    [processed, self.contact_import.pk],
                )
        except Exception:
            self.close()

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def _stored_file(contact_import: ContactImport) -> Path:
    return import_file_path(contact_import.stored_path)


def _claim(contact_import: ContactImport, allowed: set[ImportStatus], status: ImportStatus) -> None:
    with transaction.atomic():
        current = (
            ContactImport.objects.select_for_update()
            .filter(pk=contact_import.pk)
            .values_list("status", flat=True)
            .first()
        )
        if current not in allowed:
            raise ConflictError(
                f"Import {contact_import.pk} is {current}: it cannot be "
                f"{'validated' if status == ImportStatus.VALIDATING else 'run'} now.",
                field="status",
            )
        if not _stored_file(contact_import).exists():
            raise ConflictError(f"Import {contact_import.pk} has no stored file any more.")
        contact_import.status = status
        contact_import.processed_rows = 0
        if status == ImportStatus.IMPORTING:
            contact_import.started_at = timezone.now()
            contact_import.finished_at = None
        contact_import.save(update_fields=["status", "processed_rows", "started_at", "finished_at"])


def _finish(
    contact_import: ContactImport,
    status: ImportStatus,
    report: ImportReport | None,
    *,
    error: str = "",
) -> None:
    contact_import.status = status
    fields = ["status", "error_path"]
    if report is not None:
        contact_import.total_rows = report.rows
        contact_import.valid_rows = report.valid_rows
        contact_import.error_rows = report.error_rows
        contact_import.created_rows = report.created_rows
        contact_import.merged_rows = report.merged_rows
        contact_import.processed_rows = report.rows
        contact_import.report = report.as_dict()
        fields += [
            "total_rows",
            "valid_rows",
            "error_rows",
            "created_rows",
            "merged_rows",
            "processed_rows",
            "report",
        ]
    if error:
        contact_import.report = {**(contact_import.report or {}), "error": error}
        fields.append("report")
    if status in (ImportStatus.DONE, ImportStatus.FAILED) and contact_import.started_at:
        contact_import.finished_at = timezone.now()
        fields.append("finished_at")
    contact_import.save(update_fields=sorted(set(fields)))


def _audit(contact_import: ContactImport, actor: User | None, *, note: str = "") -> None:
    """The import's one audit entry: counts only, never a value from the file."""
    if not note:
        note = (
            f"rows {contact_import.processed_rows}, created {contact_import.created_rows}, "
            f"merged {contact_import.merged_rows}, errors {contact_import.error_rows}"
        )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="contact_import",
        object_id=contact_import.pk,
        note=f"{contact_import.mode}: {note}",
    )
