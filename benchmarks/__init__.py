"""Carereach benchmarks: `python -m benchmarks` (or `make bench`); see benchmarks/README.md.

Benchmarks are not timed tests: nothing passes or fails on speed. Each run writes its figures as
ratios to a baseline measured in the same run, so they can be compared across machines.
"""
