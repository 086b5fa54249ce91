"""`carereach apikey create --user NAME [--name X]`; `carereach apikey revoke ID --user NAME`."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model

from carereach.commands import CarereachCommand
from carereach.errors import NotFoundError
from carereach.security.services import apikey_create, apikey_revoke


class Command(CarereachCommand):
    help = "Issue or revoke API keys for a user (the key acts with the user's role)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print a new key; it is shown only once")
        create.add_argument("--user", required=True)
        create.add_argument("--name", default="cli")
        revoke = sub.add_parser("revoke", help="revoke a key by its id")
        revoke.add_argument("key_id", type=int)
        revoke.add_argument("--user", required=True)

    def run(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise NotFoundError(f"No user named {options['user']!r}.", field="user")
        if options["action"] == "create":
            issued = apikey_create(user=user, name=options["name"], actor=None)
            self.stdout.write(issued.plaintext)
        else:
            key = apikey_revoke(key_id=options["key_id"], user=user, actor=None)
            self.stdout.write(f"revoked key {key.pk} ({key.name})")
