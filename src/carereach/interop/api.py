"""The REST API at /api/v1/: routers gathered from the domain apps, errors mapped once.

Every error leaves as JSON `{"code": ..., "message": ..., "field"?: ..., "errors"?: [...]}` with
a 4xx status; no traceback ever reaches a client.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from carereach import __version__
from carereach.analytics.api import router as analytics_router
from carereach.audience.api import router as audience_router
from carereach.campaigns.api import router as campaigns_router
from carereach.consent.api import router as consent_router
from carereach.content.api import router as content_router
from carereach.engagement.api import router as engagement_router
from carereach.errors import CarereachError
from carereach.insights.api import router as insights_router
from carereach.interop.health import router as health_router
from carereach.journeys.api import router as journeys_router
from carereach.messaging.api import router as messaging_router
from carereach.security.api import router as security_router
from carereach.security.api_auth import ApiKeyAuth

api = NinjaAPI(
    title="Carereach API",
    version="1",
    description=(
        "Consent-first engagement for healthcare. Authenticate with an API key: "
        "`Authorization: Bearer <key>` (create one in the console or with `carereach apikey "
        "create --user NAME`). The key acts with its user's role."
    ),
    auth=ApiKeyAuth(),
    urls_namespace="api",
    openapi_extra={"info": {"x-carereach-version": __version__}},
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, **extra: Any
) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(CarereachError)
def _carereach_error(request: HttpRequest, exc: CarereachError) -> HttpResponse:
    status = exc.status if 400 <= exc.status < 500 else 400
    return api.create_response(request, exc.as_dict(), status=status)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        errors.append({"field": ".".join(location), "message": error.get("msg", "invalid")})
    first = errors[0] if errors else {"field": "", "message": "invalid input"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return _error(request, 400, "invalid", message, field=first["field"], errors=errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request, 401, "unauthorized", "A valid API key is required (Authorization: Bearer <key>)."
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "error", str(exc))


api.add_router("/", health_router)
api.add_router("/", security_router)
api.add_router("/", audience_router)
api.add_router("/", consent_router)
api.add_router("/", content_router)
api.add_router("/", messaging_router)
api.add_router("/", campaigns_router)
api.add_router("/", insights_router)
api.add_router("/", engagement_router)
api.add_router("/", journeys_router)
api.add_router("/", analytics_router)
