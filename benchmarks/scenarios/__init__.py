"""Benchmark scenarios: every module here is imported and registers itself with `@scenario`."""
