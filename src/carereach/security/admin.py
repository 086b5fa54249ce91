"""Operator admin: audit entries are read-only; API keys can be looked at and revoked."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from carereach.security.models import ApiKey, AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    list_display = ("id", "at", "actor_label", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "object_id", "request_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
