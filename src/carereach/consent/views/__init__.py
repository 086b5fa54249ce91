"""Consent pages: `console` (signed-in staff), `public` (recipients, no sign-in), `common`."""
