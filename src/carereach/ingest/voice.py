"""The key-press endpoint of calls: `POST /hooks/{provider}/gather` (Twilio's Gather `action`).

Like the text endpoints in `app.py`: signature first (403, nothing stored), parse (400), store
raw through `ingest_record` (a retried callback for the same call is stored once), answer. The
answer is TwiML the person hears at once ("you will get no more calls from this program"), in
the language the call spoke (the `lang` of the action URL, covered by the signature); a worker
applies the key afterwards (`messaging.services.voice.keypress_process`).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from carereach.channels.registry import transport_named
from carereach.channels.types.twilio.voice import gather_answer_twiml
from carereach.errors import ConfigError, ValidationError
from carereach.ingest.app import FORM, _body, _form, _request_url, _store
from carereach.messaging.models import IngestKind
from carereach.messaging.services.voice import keypress_payload

logger = logging.getLogger(__name__)

VOICE_PROVIDERS = frozenset({"twilio_voice"})


async def gather(request: Request) -> Response:
    provider = str(request.path_params["provider"])
    if provider not in VOICE_PROVIDERS:
        return PlainTextResponse("unknown provider", status_code=404)
    try:
        transport = transport_named(provider)
    except ConfigError as error:
        logger.error("%s key press refused: %s", provider, error.message)
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
        logger.warning("%s key press refused: signature does not match", provider)
        return PlainTextResponse("forbidden", status_code=403)
    try:
        press = transport.parse_inbound(params)
    except (ValidationError, KeyError, ValueError) as error:
        logger.warning("%s key press malformed %s", provider, getattr(error, "field", "") or "")
        return PlainTextResponse("malformed callback", status_code=400)
    await run_in_threadpool(
        _store,
        provider=provider,
        kind=IngestKind.INBOUND,
        provider_message_id=press.provider_message_id,
        payload=keypress_payload(press),
    )
    language = request.query_params.get("lang", "en")
    answer = gather_answer_twiml(digits=press.body, language=language)
    return Response(answer, media_type="text/xml")
