"""Which transport carries which channel: chosen from settings when asked, never at import."""

from __future__ import annotations

from django.conf import settings

from carereach.channels.base import Transport
from carereach.channels.types.sandbox.transport import SandboxTransport
from carereach.errors import ConfigError


def transport_named(code: str) -> Transport:
    if code == "sandbox":
        return SandboxTransport()
    raise ConfigError(f"unknown provider {code!r}: expected one of sandbox")


def transport_for(channel: str) -> Transport:
    """The configured provider for a channel (CARE_<CHANNEL>_PROVIDER, default sandbox)."""
    providers: dict[str, str] = settings.CHANNEL_PROVIDERS
    return transport_named(providers.get(channel, "sandbox"))
