"""Stand-ins for providers, for tests and benchmarks only: nothing in production imports this."""
