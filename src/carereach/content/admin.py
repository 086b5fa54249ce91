"""Operator admin: content is read-only here; every change goes through the services (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from carereach.content.models import ContentItem, ContentVersion, PhiTerm, Series, TrackedLink


class ReadOnlyAdmin(admin.ModelAdmin[Model]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContentItem)
class ContentItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "code", "title", "kind", "series", "episode_number")
    search_fields = ("code", "title")


@admin.register(ContentVersion)
class ContentVersionAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "number", "status", "review_code", "valid_from", "valid_until")
    list_filter = ("status",)


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ("id", "code", "name")


@admin.register(PhiTerm)
class PhiTermAdmin(ReadOnlyAdmin):
    list_display = ("term", "category")


@admin.register(TrackedLink)
class TrackedLinkAdmin(ReadOnlyAdmin):
    list_display = ("id", "version", "message_key", "position", "created_at", "delivered_at")
    search_fields = ("message_key",)
