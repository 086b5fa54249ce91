"""Make the role groups and their permissions match roles.MATRIX.

Migrations call `sync_role_groups` (with their historical app registry) whenever the matrix
changes; a test fails when the groups in the database and the matrix disagree, which is the
reminder to add one. `ensure_role_groups` does the same at run time, for a database whose tables
were emptied (test flushes), where permissions already exist.
"""

from __future__ import annotations

from typing import Any

from carereach.security.roles import MATRIX, PERMISSION_APP


def _assign(group_model: Any, permission_model: Any) -> None:
    for role, capabilities in MATRIX.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        group.permissions.set(
            permission_model.objects.filter(
                content_type__app_label=PERMISSION_APP,
                codename__in=[cap.value for cap in capabilities],
            )
        )


def sync_role_groups(apps: Any, schema_editor: Any = None) -> None:
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    _assign(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def ensure_role_groups() -> None:
    from django.contrib.auth.models import Group, Permission

    _assign(Group, Permission)
