"""Every ingest endpoint under /hooks: the text callbacks (`app.py`) and the call key presses
(`voice.py`), plus tracked links (`/l/<token>`). `carereach.asgi` mounts these beside Django;
`carereach ingest` serves them alone."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from carereach.ingest.app import LINK_ROUTE, PREFIX
from carereach.ingest.app import ROUTES as TEXT_ROUTES
from carereach.ingest.voice import gather

__all__ = ["PREFIX", "ROUTES", "hooks_app"]

ROUTES: list[BaseRoute] = [
    *TEXT_ROUTES,
    Route("/{provider}/gather", gather, methods=["POST"]),
]


def hooks_app() -> Starlette:
    """The ingest endpoints alone, under /hooks, and tracked links (`carereach ingest`)."""
    return Starlette(routes=[Mount(PREFIX, routes=ROUTES), LINK_ROUTE])
