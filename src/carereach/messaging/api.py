"""REST API of the messaging app: the sandbox carrier for scripts and integration tests.

`POST /sandbox/inbound` delivers a text as if a handset sent it (through the same stored-callback
path real carriers use); `GET /sandbox/messages?to=` lists what the sandbox delivered to a
number, newest first. Both exist only while texts go through the sandbox.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from carereach.audience.identifiers import phone_normalize
from carereach.channels.selectors import sandbox_delivered_to
from carereach.errors import NotFoundError, ValidationError
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.api_auth import requires
from carereach.security.roles import Capability

router = Router(tags=["sandbox"])

MAX_BODY = 1600


class InboundIn(Schema):
    from_: str = Field(alias="from", description="The handset's number (E.164 or national)")
    to: str = Field(description="The program number it texts")
    body: str = Field(description="What the person typed")


class InboundOut(Schema):
    id: str
    from_: str = Field(alias="from")
    to: str


class SandboxMessageOut(Schema):
    id: str
    direction: str
    channel: str
    to: str
    sender: str
    body: str
    status: str
    error_code: str
    created_at: datetime


class SandboxQuery(Schema):
    to: str
    limit: int = Field(50, ge=1, le=500)


def _sandbox_only() -> None:
    if settings.CHANNEL_PROVIDERS.get("sms") != "sandbox":
        raise NotFoundError("The sandbox carrier is not in use (CARE_SMS_PROVIDER).")


def _phone(value: str, field: str) -> str:
    try:
        return phone_normalize(value).e164
    except ValidationError as error:
        raise ValidationError(f"{field}: {error.message}", field=field) from error


@router.post(
    "/sandbox/inbound",
    response={202: InboundOut},
    auth=requires(Capability.USE_INBOX),
    by_alias=True,
)
def sandbox_inbound(request: HttpRequest, payload: InboundIn) -> Status[InboundOut]:
    """A text from a handset to a program number, processed by the next worker pass."""
    _sandbox_only()
    sender = _phone(payload.from_, "from")
    to = payload.to.strip()
    if not to:
        raise ValidationError("to: the program number is required", field="to")
    body = payload.body.strip()
    if not body:
        raise ValidationError("body: a text cannot be empty", field="body")
    if len(body) > MAX_BODY:
        raise ValidationError(f"body: at most {MAX_BODY} characters", field="body")
    message_id = sandbox_text_in(from_number=sender, to=to, body=body)
    return Status(202, InboundOut(id=message_id, **{"from": sender}, to=to))


@router.get(
    "/sandbox/messages",
    response=list[SandboxMessageOut],
    auth=requires(Capability.USE_INBOX),
)
def sandbox_messages(request: HttpRequest, query: Query[SandboxQuery]) -> list[SandboxMessageOut]:
    """What the sandbox carrier delivered to this number, newest first."""
    _sandbox_only()
    number = _phone(query.to, "to")
    return [
        SandboxMessageOut(
            id=row.provider_message_id,
            direction=row.direction,
            channel=row.channel,
            to=row.to,
            sender=row.sender,
            body=row.body or "",
            status=row.status,
            error_code=row.error_code,
            created_at=row.created_at,
        )
        for row in sandbox_delivered_to(number=number, limit=query.limit)
    ]
