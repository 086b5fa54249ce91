"""Approved content as a fan-out's renderer, and recipients it refuses turned into skips.

Every trigger that sends a content version (campaigns, series episodes, rep follow-ups) renders
it per recipient with `content.rendering.content_render`. A recipient the content refuses (no
body in their language, a required block missing, too many segments) must not stop the batch:
the renderer notes the refusal and returns an empty text, and `render_failures_skip` turns those
rows into skips with the content's reason, in the fan-out's transaction, before any worker could
claim them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carereach.audience.models import Contact
from carereach.content.batch import Target, VersionRenderer
from carereach.content.eligibility import language_code
from carereach.content.models import ContentVersion
from carereach.content.rendering import content_render
from carereach.errors import CarereachError
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus
from carereach.messaging.services.fanout import (
    BatchRenderer,
    FanoutReport,
    Recipient,
    Rendered,
    Renderer,
)


@dataclass
class RenderFailures:
    """Recipients the content could not be rendered for (per message key), with why."""

    errors: dict[str, CarereachError] = field(default_factory=dict)


def content_renderer(
    *,
    version: ContentVersion,
    channel: str,
    addresses: Mapping[int, str],
    failures: RenderFailures,
    at: datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> Renderer:
    """`content_render` for each recipient; a recipient it refuses is noted, not fatal."""

    def render(contact: Contact, key: str, language: str) -> Rendered:
        try:
            rendered = content_render(
                version=version,
                contact=contact,
                channel=channel,
                language=language_code(language),
                message_key=key,
                address=addresses.get(contact.pk, ""),
                context=context,
                now=at,
            )
        except CarereachError as error:
            failures.errors[key] = error
            return Rendered(body="")
        return Rendered(body=rendered.text, subject=rendered.subject)

    return render


def content_batch_renderer(
    *,
    version: ContentVersion,
    channel: str,
    failures: RenderFailures,
    at: datetime | None = None,
    context: Mapping[str, Any] | None = None,
    audience_checked: bool = False,
) -> BatchRenderer:
    """The content rendered for a whole batch at once (`content.batch.VersionRenderer`: a few
    queries per batch, each distinct text filled once); a recipient it refuses is noted in
    `failures`, not fatal. `audience_checked`: the trigger already kept only contacts the
    version may reach on this channel, so that query is not run again."""
    renderer = VersionRenderer(
        version=version,
        channel=channel,
        context=context,
        now=at,
        audience_checked=audience_checked,
    )

    def render(recipients: Sequence[Recipient]) -> list[Rendered]:
        targets = [
            Target(r.contact_id, r.key, language_code(r.language), r.address) for r in recipients
        ]
        texts: list[Rendered] = []
        for target, result in zip(targets, renderer.render(targets), strict=True):
            if isinstance(result, CarereachError):
                failures.errors[target.message_key] = result
                texts.append(Rendered(body=""))
                continue
            segments = result.sms.segments if result.sms is not None else 0
            texts.append(Rendered(body=result.text, subject=result.subject, segments=segments))
        return texts

    return BatchRenderer(render)


def _content_code(error: Exception) -> str:
    return str(getattr(error, "reason", "") or getattr(error, "code", "") or "render_failed")


def render_failures_skip(failures: RenderFailures, at: datetime, report: FanoutReport) -> None:
    """Rows whose text the content refused to render become skips, before anyone may claim
    them (same transaction): the content's reason replaces the decision's."""
    if not failures.errors:
        return
    rows = list(Message.objects.filter(key__in=list(failures.errors)))
    by_code: dict[str, list[int]] = {}
    for message in rows:
        error = failures.errors[message.key]
        code = _content_code(error)
        if message.status == MessageStatus.QUEUED:
            report.queued -= 1
        elif message.status == MessageStatus.HELD:
            report.held -= 1
        message.status = MessageStatus.SKIPPED
        message.done_at = at
        message.body = ""
        message.subject = ""
        message.segments = 0
        message.reasons = [{"code": code, "text": getattr(error, "message", str(error))}]
        by_code.setdefault(code, []).append(message.pk)
        report.skipped += 1
        report.skip_reasons[code] = report.skip_reasons.get(code, 0) + 1
    Message.objects.bulk_update(
        rows, ["status", "done_at", "body", "subject", "segments", "reasons"]
    )
    for code, ids in by_code.items():
        MessageEvent.objects.filter(
            message_id__in=ids, kind__in=[EventKind.QUEUED, EventKind.HELD]
        ).update(kind=EventKind.SKIPPED, detail={"reason": code})
