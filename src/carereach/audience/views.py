"""Console pages of the audience app: contacts, segments and CSV imports.

Every page reads through `selectors` (so a field rep sees only the contacts of their
territories) and writes through `services`; the views parse, authorize and render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from carereach.audience.drafts import PHI_FIELDS, contact_draft
from carereach.audience.forms import (
    IMPORT_MODE_LABELS,
    ContactForm,
    ContactSearchForm,
    ImportMappingForm,
    ImportUploadForm,
    SegmentForm,
    import_targets,
)
from carereach.audience.imports.reading import read_header
from carereach.audience.imports.selectors import (
    contact_import_get_for_user,
    contact_imports_for_user,
)
from carereach.audience.imports.services import (
    contact_import_run,
    contact_import_upload,
    contact_import_validate,
    import_file_path,
)
from carereach.audience.models import (
    Contact,
    ContactImport,
    HcpProfile,
    ImportMode,
    ImportStatus,
    Segment,
    TimeZoneSource,
)
from carereach.audience.presentation import (
    contact_name,
    mask_email,
    mask_phone,
    may_show_reach,
)
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.fields import Schema, default_contact_schema
from carereach.audience.segments.nodes import Operator
from carereach.audience.selectors import (
    contact_get_for_user,
    contact_search,
    contacts_for_user,
    contacts_in_order,
    contacts_page,
    segment_get,
    segments_all,
    territories_for_user,
)
from carereach.audience.services import contact_create, segment_save
from carereach.audience.taxonomy import taxonomy_lookup
from carereach.errors import CarereachError, NotFoundError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import (
    acting_user,
    forbidden,
    has_capability,
    require_capability,
)
from carereach.security.roles import Capability
from carereach.vocabulary import Channel

PAGE_SIZE = 50
SAMPLE_SIZE = 10
ZONE_SOURCES: dict[str, str] = {
    TimeZoneSource.GIVEN: "given by the contact or the source system",
    TimeZoneSource.POSTAL: "inferred from the postal address",
    TimeZoneSource.PHONE: "inferred from the phone number",
    TimeZoneSource.UNKNOWN: "unknown: sends keep to hours allowed in every US time zone",
}
# The first examples of docs/segments.md, which is the full reference.
SEGMENT_EXAMPLES = (
    'kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"',
    'kind = patient and persona = "busy-parent" and language = "es"',
    '(tag = "vip" or custom.region != "north") and not status = "deceased"',
    "created_at >= 2026-01-01 and npi is not null",
)


def _htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.history_restore_request


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    name: str
    phone: str
    email: str


def _contact_row(contact: Contact, *, show_phi: bool) -> ContactRow:
    phone = next(iter(contact.phones.all()), None)
    email = next(iter(contact.emails.all()), None)
    full = may_show_reach(contact, show_phi=show_phi)
    return ContactRow(
        contact=contact,
        name=contact_name(contact, show_phi=show_phi),
        phone="" if phone is None else phone.e164 if full else mask_phone(phone.e164),
        email="" if email is None else email.address if full else mask_email(email.address),
    )


def _contact_or_404(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


# -- contacts ------------------------------------------------------------------------------------


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET"])
def contact_list_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    form = ContactSearchForm(request.GET or None, territories=territories_for_user(user=user))
    rows = contact_search(user=user, text="", kind="")
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            rows = contact_search(user=user, text=data["q"], kind=data["kind"])
            if data["territory"]:
                rows = rows.filter(territory__code=data["territory"])
        else:
            rows, status = rows.none(), 400
    # Page through ids, then load the page's contacts with their profiles (two steps: see
    # contacts_page).
    page = Paginator(rows.values_list("pk", flat=True), PAGE_SIZE).get_page(request.GET.get("page"))
    contacts = contacts_in_order(list(page.object_list), prefetch=("phones", "emails"))
    show_phi = has_capability(user, Capability.VIEW_PHI)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [_contact_row(contact, show_phi=show_phi) for contact in contacts],
        "query": query.urlencode(),
        "may_create": has_capability(user, Capability.EDIT_CONTACTS),
    }
    template = "audience/_contact_results.html" if _htmx_partial(request) else None
    return render(request, template or "audience/contact_list.html", context, status=status)


@dataclass(frozen=True)
class SpecialtyShown:
    code: str
    name: str


def _specialties_shown(hcp: HcpProfile) -> list[SpecialtyShown]:
    shown = []
    for specialty in hcp.specialties.all():
        entry = taxonomy_lookup(specialty.code)
        name = specialty.display_name or (entry.display_name if entry else "")
        shown.append(SpecialtyShown(specialty.code, name or specialty.classification))
    return shown


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET"])
def contact_detail_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = acting_user(request)
    contact = _contact_or_404(request, contact_id)
    show_phi = has_capability(user, Capability.VIEW_PHI)
    full = may_show_reach(contact, show_phi=show_phi)
    hcp = getattr(contact, "hcp", None) if contact.kind == "hcp" else None
    patient = None
    if contact.kind != "hcp" and show_phi:
        # Reading a patient's or caregiver's identity is audited, as in the API.
        patient = getattr(contact, "patient", None)
        audit_record(
            actor=user, action=AuditAction.READ, object_type="contact", object_id=contact.pk
        )
    context: dict[str, Any] = {
        "contact": contact,
        "name": contact_name(contact, show_phi=show_phi),
        "show_phi": show_phi,
        "hcp": hcp,
        "specialties": _specialties_shown(hcp) if hcp is not None else [],
        "patient": patient,
        "reach_shown": full,
        "phones": [(p, p.e164 if full else mask_phone(p.e164)) for p in contact.phones.all()],
        "emails": [(e, e.address if full else mask_email(e.address)) for e in contact.emails.all()],
        "postal_addresses": list(contact.postal_addresses.all()),
        "channels": [
            Channel(c).label if c in Channel.values else c for c in contact.preferred_channels
        ],
        "zone_source": ZONE_SOURCES.get(contact.time_zone_source, ""),
        "tags": list(contact.tags.values_list("name", flat=True)),
        "custom_fields": sorted(contact.custom_fields.items()),
    }
    return render(request, "audience/contact_detail.html", context)


@require_capability(Capability.EDIT_CONTACTS)
@require_http_methods(["GET", "POST"])
def contact_create_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    form = ContactForm(
        request.POST or None,
        territories=territories_for_user(user=user),
        all_territories=has_capability(user, Capability.ALL_TERRITORIES),
        may_enter_phi=has_capability(user, Capability.VIEW_PHI),
    )
    if request.method == "POST" and form.is_valid():
        draft, problems = contact_draft(form.draft_fields())
        if draft is None:
            form.add_problems(problems)
        else:
            try:
                contact = contact_create(draft=draft, actor=user)
            except CarereachError as error:
                form.add_failure(error)
            else:
                messages.success(request, "The contact is saved.")
                return redirect("audience:contact", contact_id=contact.pk)
    status = 400 if form.errors else 200
    return render(request, "audience/contact_form.html", {"form": form}, status=status)


# -- segments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryProblem:
    """A segment query's error, placed for a caret under the line at fault."""

    detail: str
    position: int
    line: int
    column: int
    line_text: str

    @classmethod
    def of(cls, error: SegmentSyntaxError, query: str) -> QueryProblem:
        lines = query.split("\n")
        line_text = lines[error.line - 1] if error.line <= len(lines) else ""
        return cls(error.detail, error.position, error.line, error.column, line_text)

    @property
    def pad(self) -> str:
        return " " * (self.column - 1)


@dataclass
class Preview:
    """What the editor shows under the query: a count and a sample, or where it went wrong."""

    query: str
    count: int | None = None
    sample: list[tuple[Contact, str]] | None = None
    problem: QueryProblem | None = None

    @property
    def count_text(self) -> str:
        if self.count is None:
            return ""
        noun = "contact matches" if self.count == 1 else "contacts match"
        return f"{self.count:,} {noun}"


def _preview(*, request: HttpRequest, query: str, schema: Schema) -> Preview:
    preview = Preview(query=query)
    if not query.strip():
        return preview
    user = acting_user(request)
    try:
        members = segment_filter(contacts_for_user(user=user), query, schema)
        preview.count = members.count()
    except SegmentSyntaxError as error:
        preview.problem = QueryProblem.of(error, query)
        return preview
    show_phi = has_capability(user, Capability.VIEW_PHI)
    sample = contacts_page(members, limit=SAMPLE_SIZE)
    preview.sample = [(c, contact_name(c, show_phi=show_phi)) for c in sample]
    return preview


@dataclass(frozen=True)
class FieldHelp:
    name: str
    type: str
    operators: list[str]
    description: str


def _segment_help(schema: Schema) -> dict[str, Any]:
    fields = [
        FieldHelp(
            name=name,
            type=f"{spec.type.value}: {', '.join(spec.choices)}"
            if spec.choices
            else spec.type.value,
            operators=[op.value for op in Operator if op in spec.allowed_operators],
            description=spec.description,
        )
        for name, spec in schema.fields.items()
    ]
    functions = [
        (name, ", ".join(param.name for param in spec.params), spec.description)
        for name, spec in schema.predicates.items()
    ]
    return {"fields": fields, "functions": functions, "examples": SEGMENT_EXAMPLES}


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET"])
def segment_list_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    context = {
        "segments": segments_all().select_related("created_by"),
        "may_manage": has_capability(user, Capability.MANAGE_SEGMENTS),
    }
    return render(request, "audience/segment_list.html", context)


def _segment_editor(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    user = acting_user(request)
    may_manage = has_capability(user, Capability.MANAGE_SEGMENTS)
    schema = default_contact_schema()
    status = 200
    if request.method == "POST":
        form = SegmentForm(request.POST)
        saving = request.POST.get("action") != "preview"
        if saving and not may_manage:
            return forbidden(request, Capability.MANAGE_SEGMENTS)
        query = form.cleaned_data["query"] if form.is_valid() else ""
        preview = _preview(request=request, query=query, schema=schema)
        if saving and form.is_valid():
            try:
                saved = segment_save(
                    name=form.cleaned_data["name"],
                    query=query,
                    description=form.cleaned_data["description"],
                    actor=user,
                    segment=segment,
                )
            except SegmentSyntaxError as error:
                preview.problem = QueryProblem.of(error, query)
            except CarereachError as error:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
            else:
                messages.success(request, f"Segment “{saved.name}” is saved.")
                return redirect("audience:segment", segment_id=saved.pk)
        if form.errors or (saving and preview.problem):
            status = 400
    else:
        initial = (
            {"name": segment.name, "description": segment.description, "query": segment.query}
            if segment is not None
            else {}
        )
        form = SegmentForm(initial=initial)
        preview = _preview(request=request, query=initial.get("query", ""), schema=schema)
    context = {
        "form": form,
        "segment": segment,
        "preview": preview,
        "may_manage": may_manage,
        "help": _segment_help(schema),
    }
    return render(request, "audience/segment_form.html", context, status=status)


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET", "POST"])
def segment_new_view(request: HttpRequest) -> HttpResponse:
    return _segment_editor(request, None)


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET", "POST"])
def segment_edit_view(request: HttpRequest, segment_id: int) -> HttpResponse:
    try:
        segment = segment_get(segment_id=segment_id)
    except NotFoundError as error:
        raise Http404(error.message) from None
    return _segment_editor(request, segment)


@require_capability(Capability.VIEW_CONTACTS)
@require_http_methods(["GET", "POST"])
def segment_preview_view(request: HttpRequest) -> HttpResponse:
    """The live count and sample for an unsaved query (htmx swaps it in as the user types)."""
    data = request.POST if request.method == "POST" else request.GET
    form = SegmentForm({"query": data.get("query", "")})
    query = form.cleaned_data["query"] if form.is_valid() else ""
    preview = _preview(request=request, query=query, schema=default_contact_schema())
    return render(request, "audience/_segment_preview.html", {"preview": preview, "oob": True})


# -- imports --------------------------------------------------------------------------------------

RUNNING = {ImportStatus.VALIDATING, ImportStatus.IMPORTING}
STARTING_POLLS = 15  # polls to wait for a run to claim its import before telling the user


def _import_or_404(request: HttpRequest, import_id: int) -> ContactImport:
    try:
        return contact_import_get_for_user(user=acting_user(request), import_id=import_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


def _import_headers(contact_import: ContactImport) -> list[str]:
    """The file's header in its own order (the stored mapping may not keep key order)."""
    path = import_file_path(contact_import.stored_path) if contact_import.stored_path else None
    if path is not None and path.exists():
        return list(read_header(path))
    return list(contact_import.mapping)


def _mapping_form(contact_import: ContactImport, data: Any = None) -> ImportMappingForm:
    return ImportMappingForm(
        data,
        headers=_import_headers(contact_import),
        targets=import_targets(),
        mapping=contact_import.mapping,
    )


def _import_context(contact_import: ContactImport, **extra: Any) -> dict[str, Any]:
    report = contact_import.report or {}
    total = contact_import.total_rows
    context = {
        "ci": contact_import,
        "summary": report.get("summary", {}),
        "problems": report.get("problems", []),
        "problems_truncated": report.get("problems_truncated", False),
        "conflicts": report.get("conflicts", []),
        "unmapped": report.get("unmapped_columns", []),
        "broke_off": report.get("error", ""),
        "percent": int(100 * contact_import.processed_rows / total) if total else 0,
        "mode_label": IMPORT_MODE_LABELS[ImportMode(contact_import.mode)],
        "step": 3 if contact_import.status not in _CHECKABLE else 2,
        "phi_fields": PHI_FIELDS,
        "starting_polls": STARTING_POLLS,
    }
    context.update(extra)
    return context


_CHECKABLE = {ImportStatus.UPLOADED, ImportStatus.VALIDATED}
_FINISHED = {ImportStatus.DONE, ImportStatus.FAILED}


@require_capability(Capability.IMPORT_CONTACTS)
@require_http_methods(["GET", "POST"])
def import_new_view(request: HttpRequest) -> HttpResponse:
    """Step 1: the file and what to do with bad rows; the upload is checked at once (a dry run)."""
    user = acting_user(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            contact_import = contact_import_upload(
                file=upload,
                filename=upload.name or "contacts.csv",
                mode=form.cleaned_data["mode"],
                actor=user,
            )
        except CarereachError as error:
            form.add_error("mode" if error.field == "mode" else "file", error.message)
        else:
            return _validate_and_show(request, contact_import)
    context = {"form": form, "recent": contact_imports_for_user(user=user)[:10], "step": 1}
    status = 400 if form.errors else 200
    return render(request, "audience/contactimport_new.html", context, status=status)


def _validate_and_show(request: HttpRequest, contact_import: ContactImport) -> HttpResponse:
    try:
        contact_import_validate(contact_import=contact_import)
    except CarereachError as error:
        messages.error(request, error.message)
    return redirect("audience:import", import_id=contact_import.pk)


@require_capability(Capability.IMPORT_CONTACTS)
@require_http_methods(["GET", "POST"])
def import_detail_view(request: HttpRequest, import_id: int) -> HttpResponse:
    """Step 2 (mapping and dry-run report) until the import runs, then step 3 (progress, outcome).

    The mapping is fixed when a file is uploaded, as in the API; a changed mapping checks a
    copy of the stored file as a new import, and the page moves to it.
    """
    user = acting_user(request)
    contact_import = _import_or_404(request, import_id)
    form = _mapping_form(contact_import) if contact_import.status in _CHECKABLE else None
    status = 200
    if request.method == "POST":
        if form is None:
            messages.error(request, "This import has run: its mapping can no longer change.")
            return redirect("audience:import", import_id=contact_import.pk)
        form = _mapping_form(contact_import, request.POST)
        if form.is_valid():
            mapping = form.mapping()
            if mapping == {h: contact_import.mapping.get(h, "") for h in form.headers}:
                return _validate_and_show(request, contact_import)
            path = import_file_path(contact_import.stored_path)
            try:
                with path.open("rb") as stored:
                    again = contact_import_upload(
                        file=stored,
                        filename=contact_import.filename,
                        mapping=mapping,
                        mode=contact_import.mode,
                        actor=user,
                    )
            except (CarereachError, OSError) as error:
                message = error.message if isinstance(error, CarereachError) else str(error)
                form.add_error(None, message)
                status = 400
            else:
                messages.info(request, "The mapping changed, so the file was checked again.")
                return _validate_and_show(request, again)
        else:
            status = 400
    context = _import_context(contact_import, form=form)
    return render(request, "audience/contactimport_detail.html", context, status=status)


@require_capability(Capability.IMPORT_CONTACTS)
@require_POST
def import_run_view(request: HttpRequest, import_id: int) -> HttpResponse:
    """Step 3: write the rows. The page polls the progress while this request runs."""
    user = acting_user(request)
    contact_import = _import_or_404(request, import_id)
    error = ""
    try:
        contact_import_run(contact_import=contact_import, actor=user)
    except CarereachError as failure:
        error = failure.message
    if _htmx_partial(request):
        if error:
            contact_import.refresh_from_db()
            context = _import_context(contact_import, run_error=error)
            return render(request, "audience/_contactimport_outcome.html", context)
        # The whole page changes step: load it again rather than patch it.
        return HttpResponseClientRedirect(reverse("audience:import", args=[contact_import.pk]))
    if error:
        messages.error(request, error)
    return redirect("audience:import", import_id=contact_import.pk)


@require_capability(Capability.IMPORT_CONTACTS)
@require_http_methods(["GET"])
def import_progress_view(request: HttpRequest, import_id: int) -> HttpResponse:
    """The progress bar while a pass runs (htmx polls it every second), then the outcome."""
    contact_import = _import_or_404(request, import_id)
    try:
        waiting = max(0, min(int(request.GET.get("waiting", "0")), STARTING_POLLS))
    except ValueError:
        waiting = 0
    running = contact_import.status in RUNNING
    if running or (contact_import.status in _CHECKABLE and waiting):
        context = _import_context(
            contact_import, running=running, waiting=0 if running else waiting - 1
        )
        return render(request, "audience/_contactimport_progress.html", context)
    if _htmx_partial(request) and contact_import.status in _FINISHED:
        # Finished while the page polled (the run's own answer may have been lost on the way).
        return HttpResponseClientRedirect(reverse("audience:import", args=[contact_import.pk]))
    return render(request, "audience/_contactimport_outcome.html", _import_context(contact_import))


@require_capability(Capability.IMPORT_CONTACTS)
@require_http_methods(["GET"])
def import_errors_view(request: HttpRequest, import_id: int) -> HttpResponse:
    """The bad rows as given (PHI included), with their row numbers and reasons; audited."""
    user = acting_user(request)
    contact_import = _import_or_404(request, import_id)
    path = import_file_path(contact_import.error_path) if contact_import.error_path else None
    if path is None or not path.exists():
        raise Http404("This import has no error file.")
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type="contact_import",
        object_id=contact_import.pk,
        note="error file downloaded",
    )
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"import-{contact_import.pk}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )
    # Streamed, not read into memory; the console guard's type names HttpResponse only.
    return cast(HttpResponse, response)
