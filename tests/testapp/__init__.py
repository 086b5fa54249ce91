"""A test-only app with models that exercise shared machinery (encrypted fields)."""
