"""The key-press endpoint of calls: `POST /hooks/{provider}/gather` (Twilio's Gather `action`).

Like the text endpoints in `app.py`: signature first (403, nothing stored), parse (400), store
raw through `ingest_record` (a retried callback for the same call is stored once), answer. The
answer is TwiML the person hears at once ("you will get no more calls from this program"), in
the language the call spoke (the `lang` of the action URL, covered by the signature); a worker
applies the key afterwards (`messaging.services.voice.keypress_process`).
"""

from __future__ import annotations

import logging

from django.utils import timezone
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from carereach.channels.types.twilio.voice import gather_answer_twiml
from carereach.errors import ValidationError
from carereach.ingest.app import _store, signed_form
from carereach.messaging.models import IngestKind
from carereach.messaging.services.ingest import IngestRecord
from carereach.messaging.services.voice import keypress_payload

logger = logging.getLogger(__name__)

VOICE_PROVIDERS = frozenset({"twilio_voice"})


async def gather(request: Request) -> Response:
    checked = await signed_form(request, providers=VOICE_PROVIDERS, what="key press")
    if isinstance(checked, Response):
        return checked
    provider, transport, params = checked
    try:
        press = transport.parse_inbound(params)
    except (ValidationError, KeyError, ValueError) as error:
        logger.warning("%s key press malformed %s", provider, getattr(error, "field", "") or "")
        return PlainTextResponse("malformed callback", status_code=400)
    refused = await _store(
        IngestRecord(
            provider=provider,
            kind=IngestKind.INBOUND,
            provider_message_id=press.provider_message_id,
            payload=keypress_payload(press),
            received_at=timezone.now(),
        )
    )
    if refused is not None:  # not stored: Twilio retries the callback, the caller hears nothing
        return refused
    language = request.query_params.get("lang", "en")
    answer = gather_answer_twiml(digits=press.body, language=language)
    return Response(answer, media_type="text/xml")
