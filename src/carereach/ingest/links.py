"""`GET /l/<token>` on the slim path: a tracked link answered at once, its click stored after.

A person tapping a link in a text waits for nothing but the redirect: the token's target comes
from a bounded in-process cache (a token's URL never changes; tokens not cached are looked up
together, one query for all the requests waiting at that moment), the 302 goes out, and the request
is handed to a click writer that stores the buffered requests in batches, at least every
`CLICK_LINGER` seconds (`content.tracking.link_clicks_record`, which classifies HEAD requests,
scanners and prefetches as the Django view does). The price, accepted by the delivery
targets: a process killed outright (SIGKILL, power loss) loses the clicks of its last fraction
of a second; a normal stop (SIGTERM) writes them first. When the click queue is full the person
is still redirected and the click is dropped, with a warning in the log.

Whether the content may still be shown is read per version and kept `VERSION_TTL` seconds: a
withdrawal reaches every process's redirects within that time. Unknown tokens, malformed tokens
and content no longer available get the same pages as the Django view (404, 410).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from django.db import close_old_connections, connections
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from carereach.content.models import ContentVersion
from carereach.content.tracking import (
    TOKEN_PATTERN,
    ClickRecord,
    LinkTarget,
    link_clicks_record,
    link_targets,
    link_version,
    version_available,
)
from carereach.ingest.writer import GroupWriter, LazyWriter, WriterFull

logger = logging.getLogger(__name__)

R = TypeVar("R")

MAX_LINKS_CACHED = 100_000  # tokens kept per process (~200 bytes each)
MAX_VERSIONS_CACHED = 10_000
VERSION_TTL = 5.0  # seconds a version's status is trusted (withdrawals reach redirects in this)
CLICK_LINGER = 0.1  # a click batch waits at most this long for more rows
LOOKUP_THREADS = 2  # database connections looking tokens up, per process
READ_THREADS = 1  # and one for versions and pages
REDIRECT_SCHEMES = frozenset({"http", "https", "ftp"})  # Django's HttpResponseRedirect's
NO_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"  # Django's never_cache

_TOKEN = re.compile(TOKEN_PATTERN)
_reader: ThreadPoolExecutor | None = None
_reader_lock = threading.Lock()
_targets: OrderedDict[str, LinkTarget] = OrderedDict()
_versions: dict[int, tuple[float, ContentVersion | None]] = {}
_pages: dict[str, bytes] = {}
_dropped = 0
_dropped_logged = 0.0


def _click_writer() -> GroupWriter[ClickRecord]:
    writer: GroupWriter[ClickRecord] = GroupWriter(
        name="ingest-clicks",
        write=lambda clicks: link_clicks_record(clicks=clicks),
        threads=1,
        max_batch=2_000,
        max_pending=50_000,
        linger=CLICK_LINGER,
    )
    atexit.register(writer.flush)  # SIGTERM: uvicorn stops cleanly, the buffer is written
    return writer


clicks: LazyWriter[ClickRecord] = LazyWriter(_click_writer)


@dataclass
class _Lookup:
    token: str
    found: LinkTarget | None = None  # set by the lookup thread before the request wakes


def _resolve(lookups: Sequence[_Lookup]) -> None:
    targets = link_targets(tokens=[lookup.token for lookup in lookups])
    for lookup in lookups:
        lookup.found = targets.get(lookup.token)


# Cache misses go through the group writer's machinery too: the tokens of every request
# waiting at that moment are read with one query.
lookups: LazyWriter[_Lookup] = LazyWriter(
    lambda: GroupWriter(
        name="ingest-links", write=_resolve, threads=LOOKUP_THREADS, max_pending=20_000
    )
)


def _in_thread(fn: Callable[[], R]) -> R:
    close_old_connections()
    try:
        return fn()
    finally:
        close_old_connections()


async def _read(fn: Callable[[], R]) -> R:
    """Run a database read on one of READ_THREADS threads (each keeps one connection)."""
    global _reader
    if _reader is None:
        with _reader_lock:
            if _reader is None:
                _reader = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="ingest-read")
    return await asyncio.get_running_loop().run_in_executor(_reader, _in_thread, fn)


async def _target(token: str) -> LinkTarget | None:
    found = _targets.get(token)
    if found is not None:
        _targets.move_to_end(token)
        return found
    lookup = _Lookup(token)
    await lookups.get().write(lookup)
    found = lookup.found
    if found is not None:
        _targets[token] = found
        while len(_targets) > MAX_LINKS_CACHED:
            _targets.popitem(last=False)
    return found


async def _version(version_id: int) -> ContentVersion | None:
    now = time.monotonic()
    cached = _versions.get(version_id)
    if cached is not None and now - cached[0] < VERSION_TTL:
        return cached[1]
    version = await _read(lambda: link_version(version_id=version_id))
    if len(_versions) >= MAX_VERSIONS_CACHED:
        _versions.clear()
    _versions[version_id] = (now, version)
    return version


async def _page(template: str, status: int) -> Response:
    body = _pages.get(template)
    if body is None:
        body = (await _read(lambda: render_to_string(template))).encode("utf-8")
        _pages[template] = body
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": NO_CACHE})


def _drop_click() -> None:
    global _dropped, _dropped_logged
    _dropped += 1
    now = time.monotonic()
    if now - _dropped_logged >= 10:
        logger.warning("click queue full: %d clicks not recorded so far", _dropped)
        _dropped_logged = now


async def link(request: Request) -> Response:
    token = str(request.path_params["token"])
    if not _TOKEN.fullmatch(token):
        return await _page("content/link_not_found.html", 404)
    at = timezone.now()
    try:
        target = await _target(token)
        version = None if target is None else await _version(target.version_id)
    except Exception as error:  # a full lookup queue, or the database failing
        logger.error("tracked link lookup failed: %s", type(error).__name__)
        return PlainTextResponse("busy", status_code=503, headers={"Retry-After": "1"})
    if target is None or urlsplit(target.url).scheme not in REDIRECT_SCHEMES:
        return await _page("content/link_not_found.html", 404)
    available = version is not None and version_available(version, at)
    click = ClickRecord(
        link_id=target.link_id,
        at=at,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        available=available,
    )
    try:
        clicks.get().submit(click)
    except WriterFull:
        _drop_click()
    if not available:
        return await _page("content/link_unavailable.html", 410)
    return Response(
        status_code=302,
        headers={
            "Location": iri_to_uri(target.url),
            "Referrer-Policy": "no-referrer",
            "Cache-Control": NO_CACHE,
        },
    )


def links_close() -> None:
    """Write the buffered clicks, close the read threads' connections and empty the caches
    (tests, which change links under a running app; a serving process never needs to)."""
    global _reader
    clicks.close()
    lookups.close()
    with _reader_lock:
        reader, _reader = _reader, None
    if reader is not None:
        barrier = threading.Barrier(READ_THREADS)  # one job per thread: each closes its own

        def close_own() -> None:
            barrier.wait(timeout=10)
            connections.close_all()

        for _ in range(READ_THREADS):
            reader.submit(close_own)
        reader.shutdown(wait=True)
    _targets.clear()
    _versions.clear()
    _pages.clear()
