"""Twilio Programmable Voice over its REST API: a text-to-speech call with a key-press menu.

`send` POSTs one call to `/2010-04-01/Accounts/{sid}/Calls.json` with the call's TwiML inline
(`Twiml`): the message read aloud in the contact's language, then a `<Gather>` of one key
("press 1 to confirm, press 9 to stop calls from this program"). Twilio posts:

- the call's final status to `/hooks/twilio_voice/status` (`StatusCallback`): completed is
  delivered; busy and no-answer are undelivered; failed and canceled are failed;
- the key pressed to `/hooks/twilio_voice/gather` (the Gather's `action`), answered with the
  spoken confirmation (`gather_answer_twiml`). Both are signed with X-Twilio-Signature exactly
  as messaging webhooks are (`verify`).

The key press enters like an inbound text (stored raw, processed by a worker): 9 revokes the
program's voice consent for that number, 1 is offered to the reply handlers as "confirmed"
(`messaging.services.voice`). Configuration: doc.md beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings

from carereach.audience.selectors import language_for_phone
from carereach.channels.base import (
    DeliveryStatus,
    InboundText,
    Outbound,
    SendResult,
    StatusReport,
    keypress_id,
)
from carereach.channels.types.twilio.transport import TwilioTransport
from carereach.errors import ValidationError

CODE = "twilio_voice"
CALLS_PATH = "/2010-04-01/Accounts/{sid}/Calls.json"
STATUS_CALLBACK_PATH = f"/hooks/{CODE}/status"
GATHER_PATH = f"/hooks/{CODE}/gather"
MAX_TWIML = 4000  # Twilio refuses a longer `Twiml` parameter
KEY_CONFIRM = "1"
KEY_STOP = "9"
GATHER_SECONDS = 6
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'

# Twilio's CallStatus → ours, with the error code stored for the ones that did not reach anyone.
CALL_STATUSES: dict[str, tuple[DeliveryStatus, str]] = {
    "queued": (DeliveryStatus.QUEUED, ""),  # waiting in Twilio's queue
    "initiated": (DeliveryStatus.QUEUED, ""),  # Twilio started dialling
    "ringing": (DeliveryStatus.QUEUED, ""),  # the phone is ringing
    "in-progress": (DeliveryStatus.SENT, ""),  # answered, the message is being read
    "completed": (DeliveryStatus.DELIVERED, ""),  # answered and finished (a person or voicemail)
    "busy": (DeliveryStatus.UNDELIVERED, "busy"),  # the line was busy
    "no-answer": (DeliveryStatus.UNDELIVERED, "no-answer"),  # nobody picked up
    "failed": (DeliveryStatus.FAILED, "call_failed"),  # the number could not be called
    "canceled": (DeliveryStatus.FAILED, "canceled"),  # cancelled before it was answered
}


@dataclass(frozen=True)
class Speech:
    """What a call says around the message, in one language, and the voice that says it."""

    say_language: str  # Twilio's <Say language=...>
    voice: str  # an Amazon Polly voice Twilio offers for that language
    menu: str
    confirmed: str
    stopped: str
    goodbye: str


SPEECH: dict[str, Speech] = {
    "en": Speech(
        "en-US",
        "Polly.Joanna",
        "Press 1 to confirm. Press 9 to stop calls from this program.",
        "Thank you, your answer is recorded. Goodbye.",
        "You will get no more calls from this program. Goodbye.",
        "Goodbye.",
    ),
    "es": Speech(
        "es-US",
        "Polly.Lupe",
        "Oprima 1 para confirmar. Oprima 9 para no recibir más llamadas de este programa.",
        "Gracias, su respuesta quedó registrada. Adiós.",
        "No recibirá más llamadas de este programa. Adiós.",
        "Adiós.",
    ),
    "fr": Speech(
        "fr-FR",
        "Polly.Lea",
        "Appuyez sur 1 pour confirmer. Appuyez sur 9 pour ne plus recevoir d'appels de ce "
        "programme.",
        "Merci, votre réponse est enregistrée. Au revoir.",
        "Vous ne recevrez plus d'appels de ce programme. Au revoir.",
        "Au revoir.",
    ),
}


def speech_for(language: str) -> Speech:
    return SPEECH.get(language.split("-")[0].strip().lower(), SPEECH["en"])


def _say(speech: Speech, text: str) -> str:
    return (
        f"<Say language={quoteattr(speech.say_language)} voice={quoteattr(speech.voice)}>"
        f"{escape(text)}</Say>"
    )


def call_twiml(*, body: str, language: str, gather_url: str) -> str:
    """The call: the message, then the menu inside a one-key Gather; goodbye if no key."""
    speech = speech_for(language)
    action = f"{gather_url}?{urlencode({'lang': language or 'en'})}"
    return (
        f"{XML_HEAD}<Response>"
        f'<Gather input="dtmf" numDigits="1" timeout="{GATHER_SECONDS}" '
        f'action={quoteattr(action)} method="POST">'
        f'{_say(speech, body)}<Pause length="1"/>{_say(speech, speech.menu)}</Gather>'
        f"{_say(speech, speech.goodbye)}</Response>"
    )


def gather_answer_twiml(*, digits: str, language: str) -> str:
    """What the person hears after pressing a key (spoken at once: the worker acts later)."""
    speech = speech_for(language)
    text = {KEY_CONFIRM: speech.confirmed, KEY_STOP: speech.stopped}.get(digits, speech.goodbye)
    return f"{XML_HEAD}<Response>{_say(speech, text)}<Hangup/></Response>"


class TwilioVoiceTransport(TwilioTransport):
    """Calls through the same account: its credentials, client, error table and signatures."""

    code = CODE
    idempotent = False  # Twilio does not deduplicate calls on any key
    paced = True  # calls per second per account and number (1/s unless raised): the sender budget
    channels = frozenset({"voice"})

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base: str = "https://api.twilio.com",
        public_url: str = "",
        timeout: float = 5.0,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        super().__init__(
            account_sid=account_sid,
            auth_token=auth_token,
            api_base=api_base,
            status_callback=self.public_url + STATUS_CALLBACK_PATH,
            timeout=timeout,
        )

    # Calls go one at a time through `send` (not the Messages API's batch), and a call whose
    # outcome is unknown cannot be matched in the Messages list: with no lookup, dispatch fails
    # it as `outcome_unknown` rather than risk ringing someone twice.
    send_batch = None  # type: ignore[assignment]
    lookup = None  # type: ignore[assignment]

    @classmethod
    def from_settings(cls) -> TwilioVoiceTransport:
        return cls(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            api_base=settings.TWILIO_API_BASE,
            public_url=settings.CARE_PUBLIC_URL,
            timeout=float(settings.TWILIO_TIMEOUT_SECONDS),
        )

    def send(self, message: Outbound) -> SendResult:
        twiml = call_twiml(
            body=message.body,
            language=language_for_phone(message.to),
            gather_url=self.public_url + GATHER_PATH,
        )
        if len(twiml) > MAX_TWIML:
            return SendResult(
                accepted=False,
                error_code="too_long",
                error_message=f"the call's script is over {MAX_TWIML} characters",
            )
        form = {
            "To": message.to,
            "From": message.sender,
            "Twiml": twiml,
            "StatusCallback": message.status_callback or self.status_callback,
            "StatusCallbackMethod": "POST",
        }
        result = self.post_form(CALLS_PATH, form)
        if result.accepted:  # a call is one "segment" of the sender's budget, whatever its length
            return SendResult(
                accepted=True, provider_message_id=result.provider_message_id, segments=1
            )
        return result

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        sid = params.get("CallSid") or ""
        if not sid:
            raise ValidationError("call status callback without CallSid", field="CallSid")
        mapped = CALL_STATUSES.get((params.get("CallStatus") or "").strip().lower())
        if mapped is None:
            raise ValidationError("call status callback with an unknown CallStatus", field="status")
        status, code = mapped
        error = (params.get("ErrorCode") or "").strip()
        return StatusReport(provider_message_id=sid, status=status, error_code=error or code)

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        """A Gather's key press. On a call we placed, `To` is the person and `From` our number."""
        return keypress_from(params)


def keypress_from(params: Mapping[str, str]) -> InboundText:
    """The key pressed during a call, as an inbound "text" whose body is the digits; its id is
    the call's (one answer per call: a retried Gather callback is stored once)."""
    sid = params.get("CallSid") or ""
    if not sid:
        raise ValidationError("key press without CallSid", field="CallSid")
    digits = (params.get("Digits") or "").strip()
    if not digits or not digits.replace("#", "").replace("*", "").isdigit():
        raise ValidationError("key press without Digits", field="Digits")
    outbound = (params.get("Direction") or "outbound-api").startswith("outbound")
    person, ours = ("To", "From") if outbound else ("From", "To")
    if not params.get(person) or not params.get(ours):
        raise ValidationError("key press without From or To", field="From")
    return InboundText(
        provider_message_id=keypress_id(sid),
        sender=params[person],
        to=params[ours],
        body=digits,
    )
