"""`carereach ingest`: serve only the carrier callback endpoints and tracked links, for production.

Run several behind a load balancer that sends `/hooks/` and `/l/` here (and everything else to
`carereach web`); each answers a callback once it is durably stored (group commit), and workers
process it; each redirects a tracked link at once and stores its clicks in batches.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import uvicorn
from django.conf import settings

from carereach.channels.registry import transport_named
from carereach.commands import CarereachCommand
from carereach.ingest.app import SIGNED_PROVIDERS


def configured_providers() -> list[str]:
    """Signed providers chosen for some channel; each must have its credentials to start."""
    providers: dict[str, str] = settings.CHANNEL_PROVIDERS
    chosen = sorted({code for code in providers.values() if code in SIGNED_PROVIDERS})
    for code in chosen:
        transport_named(code)  # raises ConfigError naming the missing setting
    return chosen


class Command(CarereachCommand):
    help = (
        "Serve the ingest endpoints (/hooks/…: carrier status callbacks, inbound texts, "
        "key presses during calls; /l/…: tracked links)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--workers", type=int, default=1, help="uvicorn worker processes (default 1)"
        )

    def run(self, *args: Any, **options: Any) -> None:
        providers = configured_providers()
        self.stdout.write(
            f"ingest on http://{options['host']}:{options['port']}/hooks/ "
            f"for {', '.join(providers) or 'no signed provider yet'}"
        )
        uvicorn.run(
            "carereach.ingest.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            log_config=None,
            access_log=False,
            lifespan="off",
            # The callback URL is rebuilt from X-Forwarded-* only under CARE_TRUST_PROXY (see
            # carereach.ingest.app); uvicorn must not rewrite the scheme on its own.
            proxy_headers=False,
        )
