"""Serving the product: uvicorn for the ASGI app, optionally with worker and scheduler threads."""

from __future__ import annotations

import logging
import threading

import uvicorn
from django.conf import settings
from django.core.management import call_command

from carereach.messaging.runtime import Loop, scheduler_loop, worker_loop

logger = logging.getLogger(__name__)


def serve(*, host: str, port: int, background: bool) -> None:
    """Run until Ctrl-C: uvicorn handles the signal, then the background loops stop and join."""
    call_command("collectstatic", interactive=False, verbosity=0)
    loops: list[Loop] = [worker_loop(), scheduler_loop()] if background else []
    threads = [threading.Thread(target=loop.run, name=loop.kind, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    config = uvicorn.Config(
        "carereach.asgi:application",
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        # The client's address (sign-up limits, consent evidence) comes from X-Forwarded-For
        # only when the peer is one of these proxies; anyone else cannot claim another address.
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown; that is our normal exit
    finally:
        for loop in loops:
            loop.halt()
        for thread in threads:
            thread.join(timeout=10)
        logger.info("stopped")
