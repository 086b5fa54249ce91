"""Carereach: consent-first multichannel engagement for healthcare and life sciences."""

__version__ = "0.1.0"
