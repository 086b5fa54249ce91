"""The REST API: OpenAPI, bearer keys with roles, JSON errors, health."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from carereach.messaging.models import Heartbeat, ProcessKind
from carereach.security.models import ApiKey
from carereach.security.roles import MATRIX, Role

pytestmark = pytest.mark.django_db


def test_openapi_schema_and_docs_are_served(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    body = schema.json()
    assert body["info"]["title"] == "Carereach API"
    assert "/api/v1/health" in body["paths"]
    schemes = body["components"]["securitySchemes"].values()
    assert {"type": "http", "scheme": "bearer"} in schemes
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content


def test_health_reports_database_and_missing_worker(client: Client) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["database"] is True
    assert response.json()["worker"] == {"ok": False, "alive": 0}
    assert response.json()["status"] == "degraded"


def test_health_sees_a_live_worker_and_ignores_a_stale_one(client: Client) -> None:
    now = timezone.now()
    Heartbeat.objects.create(name="a", kind=ProcessKind.WORKER, started_at=now, beat_at=now)
    Heartbeat.objects.create(name="b", kind=ProcessKind.SCHEDULER, started_at=now, beat_at=now)
    old = now - timezone.timedelta(minutes=10)
    Heartbeat.objects.create(name="c", kind=ProcessKind.WORKER, started_at=old, beat_at=old)
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["worker"] == {"ok": True, "alive": 1}


def test_me_carries_the_keys_role(api: Callable[[Role], Client]) -> None:
    body = api(Role.COMPLIANCE).get("/api/v1/me").json()
    assert body["roles"] == ["compliance_reviewer"]
    assert set(body["capabilities"]) == {cap.value for cap in MATRIX[Role.COMPLIANCE]}


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer nonsense", "Bearer cr_deadbeef_nothing", "Basic Zm9vOmJhcg=="],
)
def test_bad_credentials_get_json_401(header: str) -> None:
    client = Client(headers={"Authorization": header} if header else {})
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_refused(api_key: Callable[[Role], str]) -> None:
    key = api_key(Role.MARKETER)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/me").status_code == 200
    record = ApiKey.objects.get(prefix=key.split("_")[1])
    deleted = client.delete(f"/api/v1/apikeys/{record.pk}")
    assert deleted.status_code == 200
    assert deleted.json()["revoked_at"] is not None
    assert client.get("/api/v1/me").status_code == 401


def test_key_of_a_deactivated_user_is_refused(
    api_key: Callable[[Role], str], users: dict[Role, User]
) -> None:
    key = api_key(Role.MARKETER)
    users[Role.MARKETER].is_active = False
    users[Role.MARKETER].save()
    assert Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/me").status_code == 401


def test_keys_are_stored_hashed_and_listed_without_secret(api: Callable[[Role], Client]) -> None:
    client = api(Role.MARKETER)
    created = client.post("/api/v1/apikeys", {"name": "nightly export"}, "application/json")
    assert created.status_code == 201
    plaintext = created.json()["key"]
    record = ApiKey.objects.get(pk=created.json()["id"])
    assert plaintext not in record.key_hash
    listing = client.get("/api/v1/apikeys").json()
    assert {item["name"] for item in listing} >= {"nightly export"}
    assert all("key" not in item for item in listing)


def test_validation_errors_are_400_with_field(api: Callable[[Role], Client]) -> None:
    client = api(Role.MARKETER)
    missing = client.post("/api/v1/apikeys", {}, "application/json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid"
    assert missing.json()["field"] == "name"
    blank = client.post("/api/v1/apikeys", {"name": " "}, "application/json")
    assert blank.status_code == 400
    assert blank.json() == {
        "code": "invalid",
        "message": "Give the key a name that says what uses it.",
        "field": "name",
    }


def test_unknown_key_id_is_404_json(api: Callable[[Role], Client]) -> None:
    response = api(Role.MARKETER).delete("/api/v1/apikeys/424242")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_apikey_cli_prints_a_working_key(
    users: dict[Role, User], capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("apikey", "create", "--user", users[Role.ANALYST].username)
    key = capsys.readouterr().out.strip()
    response = Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/me")
    assert response.json()["username"] == users[Role.ANALYST].username


def test_apikey_cli_unknown_user_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("apikey", "create", "--user", "ghost")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error (user): No user named 'ghost'."


def test_responses_carry_a_request_id(client: Client) -> None:
    response = client.get("/api/v1/health")
    assert len(response["X-Request-ID"]) == 16
    echoed = client.get("/api/v1/health", headers={"X-Request-ID": "lb-0123456789"})
    assert echoed["X-Request-ID"] == "lb-0123456789"
    unsafe = client.get("/api/v1/health", headers={"X-Request-ID": "bad id\n"})
    assert unsafe["X-Request-ID"] != "bad id\n"
