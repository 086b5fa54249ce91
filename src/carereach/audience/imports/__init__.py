"""CSV contact imports: one write path for the CLI, the REST API and the console.

- `reading`: storing the upload, refusing what is not UTF-8 CSV, streaming rows in batches.
- `mapping`: CSV headers → canonical field names (defaults, aliases, explicit overrides).
- `batch`: the data a batch passes between the steps (rows, problems, targets, the plan).
- `validation`: per batch, the field rules (`drafts.contact_draft`) as plain data, on a thread
  or, for a large file, in a second process (`workers`).
- `planning`: per batch, turn validated rows into planned ones, check territories,
  specialties and repeated NPIs, then hand over to `matching`.
- `matching`: find known contacts (NPI, MRN, phone, e-mail) and plan the merges.
- `writing`: set-based inserts and updates for a planned batch (COPY on PostgreSQL).
- `report`: the dry-run report (no PHI values) and the error CSV.
- `services`: `contact_import_upload`, `contact_import_validate`, `contact_import_run`.
- `selectors`: which imports a user may see.

Row numbers everywhere are spreadsheet rows: the header is row 1, the first data row is row 2.
"""
