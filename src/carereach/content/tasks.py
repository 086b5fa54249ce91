"""Background work of the content app; the scheduler calls these each tick."""

from __future__ import annotations

import logging

from carereach.content.services import versions_expire_due

logger = logging.getLogger(__name__)


def content_expire_tick() -> int:
    """Expire approved versions whose window ended (their hooks cancel queued messages)."""
    retired = versions_expire_due()
    for retirement in retired:
        logger.info(
            "content version %s expired; %s queued message(s) cancelled",
            retirement.version.pk,
            retirement.cancelled,
        )
    return len(retired)
