"""ASGI entry point: one Starlette router in front of Django.

Static files are served from STATIC_ROOT (filled by collectstatic, which `carereach web` and
`carereach demo` run at start); the slim ingest endpoints and tracked links (`/l/<token>`)
mount here beside Django so a hit on them never pays for a full Django request; everything else
goes to the console and API.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carereach.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (settings are ready only after the line above)
from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402

from carereach.ingest.app import LINK_ROUTE  # noqa: E402
from carereach.ingest.routes import PREFIX, ROUTES  # noqa: E402

application = Starlette(
    routes=[
        Mount(
            settings.STATIC_URL.rstrip("/"),
            app=StaticFiles(directory=settings.STATIC_ROOT, check_dir=False),
            name="static",
        ),
        Mount(PREFIX, routes=ROUTES, name="hooks"),  # carrier callbacks: never through Django
        LINK_ROUTE,  # tracked links: redirected at once, clicks stored in batches
        Mount("/", app=django_application),  # type: ignore[arg-type]  # ASGIHandler is ASGI 3,
    ]
)
