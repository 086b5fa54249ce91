"""Segments: a small query language that selects contacts, compiled to one SQL query.

``kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"``

- `lexer`, `parser`: text → tree of `nodes` (pure; `parser.parse_segment`).
- `printer`: tree → canonical text (`printer.format_segment`).
- `fields`: the `Schema` registry of fields and predicates; `fields.default_contact_schema()`;
  `fields.register_predicate` for apps that add functions such as ``consented(sms)``.
- `compiler`: `compiler.compile_segment` (text → ``Q``), `compiler.segment_filter`
  (queryset → queryset), `compiler.validate_segment` (check only, no database).
- `errors`: `errors.SegmentSyntaxError`, the only error a bad query raises.

docs/segments.md is the reference for users: grammar, fields, operators, functions, errors.
"""
