"""Signed links a person follows from a message: the preference page and one-click unsubscribe.

What a token holds: `{"s": <ConsentState id>}`, made with `django.core.signing` under a salt
per purpose and timestamped. A signed token is readable, not secret, so it carries no contact
id and nothing about the person, only the id of one consent state row. That row is a stable
anchor: it is keyed by (address, channel, program), created once and never deleted, so the id
names exactly the address and program the link was sent for, whatever the person does later.

- An unsubscribe token names the e-mail state of (address, program): a POST revokes exactly
  that channel of that program on that address.
- A preference token names any state of the address: the page lists every program and channel
  recorded for that address.

Tokens work for `LINK_MAX_AGE` (90 days) after they were made; CAN-SPAM and the mailbox
providers ask for at least 30 days after sending. A changed token is "not found"; an old one is
"gone"; neither page says anything about whose link it was.

A double opt-in confirmation token is `{"e": <ConsentEntry id>}`: the pending e-mail entry the
web sign-up wrote. It works for `CONFIRM_MAX_AGE` (7 days): a sign-up nobody confirmed within a
week is stale, and the person can sign up again.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from carereach.consent.models import ConsentAction, ConsentEntry, ConsentState, Program
from carereach.errors import ValidationError
from carereach.vocabulary import Channel

LINK_MAX_AGE = timedelta(days=90)  # at least 30 days after sending (CAN-SPAM, Gmail/Yahoo rules)
PREFERENCES_SALT = "carereach.consent.links.preferences"
UNSUBSCRIBE_SALT = "carereach.consent.links.unsubscribe"
CONFIRM_SALT = "carereach.consent.links.confirm"
CONFIRM_MAX_AGE = timedelta(days=7)  # a double opt-in nobody confirmed in a week is stale
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class LinkInvalid(Exception):
    """The token was changed, made with another key or salt, or names nothing we know."""


class LinkExpired(LinkInvalid):
    """The token was genuine but is older than LINK_MAX_AGE."""


def _dumps(state: ConsentState, salt: str) -> str:
    return signing.dumps({"s": state.pk}, salt=salt, compress=True)


def _payload(token: str, salt: str, max_age: timedelta) -> object:
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise LinkExpired from error
    except (signing.BadSignature, ValueError, UnicodeDecodeError) as error:
        raise LinkInvalid from error


def _loads(token: str, salt: str) -> ConsentState:
    payload = _payload(token, salt, LINK_MAX_AGE)
    state_id = payload.get("s") if isinstance(payload, dict) else None
    if not isinstance(state_id, int):
        raise LinkInvalid
    state = ConsentState.objects.select_related("program", "contact").filter(pk=state_id).first()
    if state is None:
        raise LinkInvalid
    return state


def preferences_token(state: ConsentState) -> str:
    return _dumps(state, PREFERENCES_SALT)


def unsubscribe_token(state: ConsentState) -> str:
    if state.channel != Channel.EMAIL:
        raise ValueError("one-click unsubscribe is for e-mail consent only")
    return _dumps(state, UNSUBSCRIBE_SALT)


def preferences_state(token: str) -> ConsentState:
    """The state a preference token names; raises LinkInvalid or LinkExpired."""
    return _loads(token, PREFERENCES_SALT)


def unsubscribe_state(token: str) -> ConsentState:
    """The e-mail state an unsubscribe token names; raises LinkInvalid or LinkExpired."""
    state = _loads(token, UNSUBSCRIBE_SALT)
    if state.channel != Channel.EMAIL:
        raise LinkInvalid
    return state


def confirm_token(entry: ConsentEntry) -> str:
    if entry.channel != Channel.EMAIL or entry.action != ConsentAction.PENDING:
        raise ValueError("confirmation links are for pending e-mail consent only")
    return signing.dumps({"e": entry.pk}, salt=CONFIRM_SALT, compress=True)


def confirm_entry(token: str) -> ConsentEntry:
    """The pending e-mail entry a confirmation token names; raises LinkInvalid or LinkExpired."""
    payload = _payload(token, CONFIRM_SALT, CONFIRM_MAX_AGE)
    entry_id = payload.get("e") if isinstance(payload, dict) else None
    if not isinstance(entry_id, int):
        raise LinkInvalid
    entry = (
        ConsentEntry.objects.select_related("program", "contact")
        .filter(
            pk=entry_id,
            channel=Channel.EMAIL,
            action=ConsentAction.PENDING,
            program__isnull=False,
        )
        .first()
    )
    if entry is None:
        raise LinkInvalid
    return entry


def public_url() -> str:
    """Where people reach Carereach from a message (settings.CARE_PUBLIC_URL), no trailing /."""
    return str(getattr(settings, "CARE_PUBLIC_URL", DEFAULT_PUBLIC_URL)).rstrip("/")


def preferences_url(state: ConsentState) -> str:
    return public_url() + reverse("consent:preferences", args=[preferences_token(state)])


def unsubscribe_url(state: ConsentState) -> str:
    return public_url() + reverse("consent:unsubscribe", args=[unsubscribe_token(state)])


def confirm_url(entry: ConsentEntry) -> str:
    return public_url() + reverse("consent:confirm", args=[confirm_token(entry)])


def signup_url(program: Program) -> str:
    return public_url() + reverse("consent:signup", args=[program.code])


def _email_state(address: str, program: Program) -> ConsentState:
    state = ConsentState.objects.filter(
        address=address, channel=Channel.EMAIL, program=program
    ).first()
    if state is None:
        raise ValidationError(
            f"This address has no e-mail consent record for {program.code}: "
            "there is nothing to unsubscribe from.",
            field="address",
        )
    return state


def unsubscribe_headers(address: str, program: Program, *, mailto: str = "") -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers for one e-mail of `program` to `address`.

    `List-Unsubscribe` carries the HTTPS one-click URL (and a mailto: when `mailto` names a
    mailbox that processes unsubscribe mail); `List-Unsubscribe-Post` tells mailbox providers
    they may POST `List-Unsubscribe=One-Click` to it. Gmail and Yahoo require both for bulk mail.
    The address must already have an e-mail consent state for the program.
    """
    url = unsubscribe_url(_email_state(address, program))
    targets = [f"<{url}>"]
    if mailto:
        subject = quote(f"unsubscribe {program.code}")
        targets.append(f"<mailto:{mailto}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
