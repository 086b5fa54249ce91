"""Contacts, addresses, identifiers, specialties, personas, territories and segments."""
