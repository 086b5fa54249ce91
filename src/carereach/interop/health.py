"""GET /api/v1/health: is the database answering, and is a worker alive?"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from carereach import __version__
from carereach.messaging.selectors import live_processes

router = Router(tags=["health"])


class ProcessHealth(Schema):
    ok: bool
    alive: int


class HealthOut(Schema):
    status: str
    version: str
    database: bool
    worker: ProcessHealth
    scheduler: ProcessHealth


@router.get("/health", response={200: HealthOut, 503: HealthOut}, auth=None)
def health(request: HttpRequest) -> Status[HealthOut]:
    """Liveness for load balancers: 200 when the database answers, 503 when it does not.

    A missing worker is reported (status "degraded") but still 200, since the web side works.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = True
    except DatabaseError:
        database = False
    workers = schedulers = 0
    if database:
        alive = live_processes()
        workers, schedulers = alive.workers, alive.schedulers
    status = "ok" if database and workers and schedulers else "degraded"
    if not database:
        status = "down"
    body = HealthOut(
        status=status,
        version=__version__,
        database=database,
        worker=ProcessHealth(ok=workers > 0, alive=workers),
        scheduler=ProcessHealth(ok=schedulers > 0, alive=schedulers),
    )
    return Status(200 if database else 503, body)
