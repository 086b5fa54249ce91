"""The slim ingest endpoints: carrier status callbacks and inbound texts, on Starlette.

`POST /hooks/{provider}/status` and `POST /hooks/{provider}/inbound`. Each hit is checked, stored
raw and answered; the work it causes (a receipt moving a message forward, a STOP revoking
consent) is done later by workers (`messaging.services.ingest.ingest_process`), so a carrier
never waits on business logic. In order:

1. an unknown provider is 404, a provider without credentials 503, a body that is not a form
   415, one over MAX_BODY_BYTES 413;
2. the signature is checked over the URL the carrier called (rebuilt from X-Forwarded-* only
   with CARE_TRUST_PROXY) and the form: 403 and nothing stored when it fails;
3. the provider's transport parses the form: 400 when a field is missing or unknown;
4. the callback is handed to the process's callback writer (`carereach.ingest.writer`), which
   commits the rows of many requests together (group commit: one multi-row INSERT per
   transaction, `ingest_record_many`) and wakes each request once its row is durable; an
   inbound text a carrier retries is stored once. A full queue is 503 with Retry-After at once
   (back-pressure), a failed batch 503 for each of its requests: the carrier retries either;
5. 200: an empty TwiML `<Response/>` for Twilio's inbound webhook (no automatic reply: consent
   and the pipeline send any answer), an empty body otherwise.

`GET /l/<token>` (tracked links, `carereach.ingest.links`) is served by the same app.

Nothing from the body is logged: numbers and texts are PHI.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote_plus

from django.conf import settings
from django.db import connection
from django.utils import timezone
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from carereach.channels.base import Transport
from carereach.channels.registry import transport_named
from carereach.errors import ConfigError, ValidationError
from carereach.ingest import links
from carereach.ingest.writer import GroupWriter, LazyWriter, WriterFull
from carereach.messaging.models import IngestKind
from carereach.messaging.services.ingest import IngestRecord, ingest_record_many

logger = logging.getLogger(__name__)

# Providers whose callbacks can be verified. The sandbox is not one: it "posts" from inside
# the process and signs nothing, so over HTTP anyone could forge a STOP for anyone.
SIGNED_PROVIDERS = frozenset({"twilio", "twilio_voice"})
MAX_BODY_BYTES = 64 * 1024  # a 1,600-character text with every field Twilio sends is ~3 KB
MAX_FIELDS = 200
FORM = "application/x-www-form-urlencoded"
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
WRITE_THREADS = 2  # database connections writing callbacks, per process (two batches in flight)
MAX_BATCH = 500  # callbacks per transaction at most
MAX_PENDING = 5_000  # callbacks waiting for a batch; past this, 503 (about a second of load)
LINGER = 0.002  # a small batch waits this long for company (seconds)
RETRY_AFTER = "1"  # seconds, on a 503


def _callback_writer() -> GroupWriter[IngestRecord]:
    # SQLite takes one writer at a time: a second writing thread only meets a locked database.
    threads = WRITE_THREADS if connection.vendor == "postgresql" else 1
    return GroupWriter(
        name="ingest-callbacks",
        write=lambda records: ingest_record_many(records=records),
        threads=threads,
        max_batch=MAX_BATCH,
        max_pending=MAX_PENDING,
        linger=LINGER,
    )


callbacks: LazyWriter[IngestRecord] = LazyWriter(_callback_writer)


def writers_close() -> None:
    """Write what is queued, stop the writers and the link reads, close their connections and
    forget what was cached (tests; a serving process never needs to)."""
    callbacks.close()
    links.links_close()


def _first(value: str | None) -> str:
    """The client-most entry of a proxy header that may list one per hop."""
    return (value or "").split(",")[0].strip()


def callback_url(
    *,
    scheme: str,
    headers: Headers,
    raw_path: bytes,
    query_string: bytes,
    server: tuple[str, int | None] | None,
    trust_proxy: bool,
) -> str:
    """The URL the carrier called, as it signed it.

    Behind a TLS-terminating balancer the request arrives as http on an inner address; with
    CARE_TRUST_PROXY the balancer's X-Forwarded-Proto/Host/Port give the outside URL back.
    Without it those headers are ignored: a client could set them to anything.
    """
    host = headers.get("host", "")
    if not host and server is not None:
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    if trust_proxy:
        scheme = _first(headers.get("x-forwarded-proto")) or scheme
        host = _first(headers.get("x-forwarded-host")) or host
        port = _first(headers.get("x-forwarded-port"))
        has_port = host.rsplit("]", 1)[-1].count(":") > 0
        if port and not has_port and port != {"https": "443", "http": "80"}.get(scheme):
            host = f"{host}:{port}"
    url = f"{scheme}://{host}{raw_path.decode('latin-1')}"
    if query_string:
        url += "?" + query_string.decode("latin-1")
    return url


def _request_url(request: Request) -> str:
    scope = request.scope
    raw_path = scope.get("raw_path") or quote(scope["path"]).encode("latin-1")
    return callback_url(
        scheme=scope.get("scheme", "http"),
        headers=request.headers,
        raw_path=raw_path,
        query_string=scope.get("query_string", b""),
        server=scope.get("server"),
        trust_proxy=settings.TRUST_PROXY,
    )


async def _body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unquote(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def form_pairs(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)`, in half the time:
    most names and values need no unquoting. ValueError past MAX_FIELDS fields."""
    if text.count("&") >= MAX_FIELDS:
        raise ValueError("too many fields")
    pairs: list[tuple[str, str]] = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _form(body: bytes) -> ImmutableMultiDict[str, str] | None:
    """Every field of an url-encoded form (repeated names keep all values), or None if garbled."""
    try:
        return ImmutableMultiDict(form_pairs(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        return None


async def _store(record: IngestRecord) -> Response | None:
    """Wait for the record's batch to commit; None when it did, else the 503 to answer."""
    try:
        await callbacks.get().write(record)
    except WriterFull:
        logger.warning("%s %s callback refused: the queue is full", record.provider, record.kind)
        return _unavailable("busy")
    except Exception:  # the batch failed; the writer has logged why
        return _unavailable("not stored")
    return None


def _unavailable(text: str) -> Response:
    return PlainTextResponse(text, status_code=503, headers={"Retry-After": RETRY_AFTER})


def _answer(provider: str, kind: str) -> Response:
    if provider == "twilio" and kind == IngestKind.INBOUND:
        return Response(TWIML_EMPTY, media_type="text/xml")
    return Response(status_code=200)


async def signed_form(
    request: Request, *, providers: frozenset[str], what: str
) -> tuple[str, Transport, ImmutableMultiDict[str, str]] | Response:
    """Steps 1 and 2 for any endpoint: the provider, its transport and the verified form, or
    the refusal to answer (404, 503, 415, 413, 400, 403) with nothing read further."""
    provider = str(request.path_params["provider"])
    if provider not in providers:
        return PlainTextResponse("unknown provider", status_code=404)
    try:
        transport = transport_named(provider)
    except ConfigError as error:
        logger.error("%s %s refused: %s", provider, what, error.message)
        return PlainTextResponse("provider not configured", status_code=503)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        return PlainTextResponse("expected a form", status_code=415)
    try:
        body = await _body(request)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    params = _form(body)
    if params is None or not transport.verify(_request_url(request), params, request.headers):
        logger.warning("%s %s refused: signature does not match", provider, what)
        return PlainTextResponse("forbidden", status_code=403)
    return provider, transport, params


async def _callback(request: Request, kind: str) -> Response:
    checked = await signed_form(request, providers=SIGNED_PROVIDERS, what=f"{kind} callback")
    if isinstance(checked, Response):
        return checked
    provider, transport, params = checked
    payload: dict[str, str]
    try:
        if kind == IngestKind.STATUS:
            report = transport.parse_status(params)
            message_id = report.provider_message_id
            payload = {"status": report.status, "error_code": report.error_code}
        else:
            text = transport.parse_inbound(params)
            message_id = text.provider_message_id
            payload = {"from": text.sender, "to": text.to, "body": text.body}
    except (ValidationError, KeyError, ValueError) as error:
        field = getattr(error, "field", None) or ""
        logger.warning("%s %s callback malformed %s", provider, kind, field)
        return PlainTextResponse("malformed callback", status_code=400)
    record = IngestRecord(
        provider=provider,
        kind=kind,
        provider_message_id=message_id,
        payload=payload,
        received_at=timezone.now(),
    )
    return await _store(record) or _answer(provider, kind)


async def status(request: Request) -> Response:
    return await _callback(request, IngestKind.STATUS)


async def inbound(request: Request) -> Response:
    return await _callback(request, IngestKind.INBOUND)


async def health(request: Request) -> Response:
    """For a load balancer: the process is up (it does not touch the database)."""
    return PlainTextResponse("ok")


ROUTES: list[BaseRoute] = [
    Route("/health", health, methods=["GET"]),
    Route("/{provider}/status", status, methods=["POST"]),
    Route("/{provider}/inbound", inbound, methods=["POST"]),
]
PREFIX = "/hooks"
LINK_ROUTE = Route("/l/{token}", links.link, methods=["GET", "HEAD"])
