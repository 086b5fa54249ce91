"""Consent: programs, the append-only consent ledger, and inbound keyword classification."""
