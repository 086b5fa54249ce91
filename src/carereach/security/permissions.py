"""Checking capabilities for views, API routes and commands, from the matrix in roles.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carereach.security.roles import CAPABILITY_LABELS, MATRIX, Capability, Role, permission_name

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def has_capability(user: object, capability: Capability) -> bool:
    if not isinstance(user, User) or not user.is_active:
        return False
    return user.has_perm(permission_name(capability))


def capabilities_of(user: object) -> frozenset[Capability]:
    if not isinstance(user, User) or not user.is_active:
        return frozenset()
    return frozenset(cap for cap in Capability if user.has_perm(permission_name(cap)))


def acting_user(request: HttpRequest) -> User:
    """The signed-in user of a guarded view or API operation."""
    if not isinstance(request.user, User) or not request.user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return request.user


def roles_of(user: Any) -> list[Role]:
    if user is None or not user.is_authenticated:
        return []
    names = {group.name for group in user.groups.all()}
    return [role for role in Role if role.value in names]


def role_capabilities(role: Role) -> frozenset[Capability]:
    return MATRIX[role]


def forbidden(request: HttpRequest, capability: Capability | None = None) -> HttpResponse:
    label = CAPABILITY_LABELS[capability] if capability else ""
    return render(request, "403.html", {"capability_label": label}, status=403)


def require_capability(capability: Capability) -> Callable[[ViewFunc], ViewFunc]:
    """Console view guard: anonymous → sign-in page, signed in without the capability → 403."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                return forbidden(request, capability)
            return view(request, *args, **kwargs)

        guarded.required_capability = capability  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorator
