"""ASGI entry point serving only the ingest endpoints (`carereach ingest`, one per process).

Importable by uvicorn on its own (its worker processes import it fresh), so it sets Django up
before the endpoints, which reach the database, are imported.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carereach.settings")
django.setup()

from carereach.ingest.routes import hooks_app  # noqa: E402  (needs the apps loaded above)

application = hooks_app()
