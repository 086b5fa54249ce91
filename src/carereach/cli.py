"""The `carereach` command: Django's management commands under one name.

`carereach web | worker | scheduler | ingest | demo | apikey | audit | keys | migrate | …`;
`carereach help` lists them all. A bad setting stops it with one line naming the variable.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carereach.settings")
    from carereach.errors import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        print(f"carereach: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    from django.core.management import execute_from_command_line

    if args and not args[0].startswith("-"):
        # Commands read better with dashes (`demo-data`); Django names them with underscores.
        args[0] = args[0].replace("-", "_")
    execute_from_command_line(["carereach", *args])


if __name__ == "__main__":
    main()
