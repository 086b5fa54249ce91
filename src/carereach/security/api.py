"""API routes of the security app: who am I, and my API keys."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user, capabilities_of, roles_of
from carereach.security.roles import Capability
from carereach.security.selectors import apikeys_for_user
from carereach.security.services import apikey_create, apikey_revoke

router = Router(tags=["account"])


class MeOut(Schema):
    username: str
    roles: list[str]
    capabilities: list[str]


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyIn(Schema):
    name: str


class ApiKeyCreated(ApiKeyOut):
    key: str


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> MeOut:
    """The key's user, roles and capabilities; any valid key may ask."""
    return MeOut(
        username=request.user.get_username(),
        roles=[role.value for role in roles_of(request.user)],
        capabilities=sorted(cap.value for cap in capabilities_of(request.user)),
    )


@router.get("/apikeys", response=list[ApiKeyOut], auth=requires(Capability.MANAGE_API_KEYS))
def list_apikeys(request: HttpRequest) -> list[ApiKeyOut]:
    return [ApiKeyOut.from_orm(key) for key in apikeys_for_user(user=acting_user(request))]


@router.post("/apikeys", response={201: ApiKeyCreated}, auth=requires(Capability.MANAGE_API_KEYS))
def create_apikey(request: HttpRequest, payload: ApiKeyIn) -> Status[ApiKeyCreated]:
    """Issue a new key for the calling user; the key text is in this response only."""
    user = acting_user(request)
    issued = apikey_create(user=user, name=payload.name, actor=user)
    out = ApiKeyCreated(**ApiKeyOut.from_orm(issued.key).dict(), key=issued.plaintext)
    return Status(201, out)


@router.delete("/apikeys/{key_id}", response=ApiKeyOut, auth=requires(Capability.MANAGE_API_KEYS))
def revoke_apikey(request: HttpRequest, key_id: int) -> ApiKeyOut:
    user = acting_user(request)
    key = apikey_revoke(key_id=key_id, user=user, actor=user)
    return ApiKeyOut.from_orm(key)
