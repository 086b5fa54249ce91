"""Which transport carries which channel: chosen from settings when asked, never at import."""

from __future__ import annotations

from django.conf import settings

from carereach.channels.base import Transport
from carereach.channels.types.email.transport import DjangoEmailTransport
from carereach.channels.types.letter.transport import LetterTransport
from carereach.channels.types.sandbox.transport import SandboxTransport
from carereach.channels.types.twilio.transport import TwilioTransport
from carereach.channels.types.twilio.voice import TwilioVoiceTransport
from carereach.errors import ConfigError


def transport_named(code: str) -> Transport:
    if code == "sandbox":
        return SandboxTransport()
    if code == "smtp":
        return DjangoEmailTransport()
    if code == "twilio":
        return TwilioTransport.from_settings()  # ConfigError names a missing credential
    if code == "twilio_voice":
        return TwilioVoiceTransport.from_settings()
    if code == "letters":
        return LetterTransport()
    raise ConfigError(f"unknown provider {code!r}: expected one of sandbox, smtp, twilio, letters")


def transport_for(channel: str) -> Transport:
    """The configured provider for a channel (CARE_<CHANNEL>_PROVIDER, default sandbox)."""
    providers: dict[str, str] = settings.CHANNEL_PROVIDERS
    code = providers.get(channel, "sandbox")
    if channel == "letter" and code == "sandbox":
        code = "letters"  # letters are collected for a printed batch even in the demo
    if code == "letters" and channel != "letter":
        raise ConfigError(f"CARE_{channel.upper()}_PROVIDER is letters: it carries letters only")
    if code == "twilio" and channel == "voice":
        return transport_named(TwilioVoiceTransport.code)  # calls: the Calls API
    if code == "twilio" and channel not in TwilioTransport.channels:
        raise ConfigError(
            f"CARE_{channel.upper()}_PROVIDER is twilio: Twilio carries sms and voice only here"
        )
    return transport_named(code)


def providers_check() -> None:
    """Build every configured transport once, so a process can refuse to start with one line
    naming a missing or malformed setting instead of failing message by message."""
    providers: dict[str, str] = settings.CHANNEL_PROVIDERS
    for channel in providers:
        transport_for(channel)
