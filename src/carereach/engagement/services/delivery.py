"""Handing engagement's messages to the one pipeline, on each person's preferred channel.

Every engagement message goes through `messaging.services.fanout`: consent, address, quiet
hours (held, not dropped), caps, suppression and the patient's confidential-communication
request decide each one. What this module adds:

- **one message per person whatever the channel**: the outbox key is `<trigger key>:<contact>`
  (for a series episode `series:<version>:<contact>`), so a re-run, or a person whose preference
  changed in between, never gets a second message;
- **the person's own cascade**: their preferred channels first (those the program uses), then
  the program's other channels in its order. Contacts with the same cascade go through one
  fan-out; the message's reasons say why each earlier channel was passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from carereach.audience.models import Contact
from carereach.audience.selectors import preferred_channels_for
from carereach.messaging.services.fanout import FanoutReport, Rendered, Renderer, Trigger, fanout
from carereach.vocabulary import Channel

SENDABLE = (Channel.SMS.value, Channel.EMAIL.value, Channel.VOICE.value)


@dataclass(frozen=True)
class PersonTrigger(Trigger):
    """A trigger whose outbox key names the person only: `<key>:<contact>`."""

    def message_key(self, contact_id: int) -> str:
        return f"{self.key}:{contact_id}"


def cascade_for(
    preferred: Sequence[str], program_channels: Sequence[str], allowed: Sequence[str] = SENDABLE
) -> tuple[str, ...]:
    """The person's preferred channels first, then the program's others; only channels the
    program uses and this trigger may send on, each once."""
    usable = [c for c in program_channels if c in allowed]
    order = [c for c in preferred if c in usable] + usable
    return tuple(dict.fromkeys(order))


def report_merge(total: FanoutReport, part: FanoutReport) -> None:
    total.planned += part.planned
    total.queued += part.queued
    total.held += part.held
    total.skipped += part.skipped
    total.existing += part.existing
    for code, count in part.skip_reasons.items():
        total.skip_reasons[code] = total.skip_reasons.get(code, 0) + count


RendererFor = Callable[[str, list[int]], Renderer]
"""Builds the renderer of one channel for a group of contacts (it may look up their addresses)."""


def fanout_by_preference(
    *,
    trigger: PersonTrigger,
    contact_ids: Sequence[int],
    renderer_for: RendererFor,
    now: datetime,
    allowed: Sequence[str] = SENDABLE,
) -> FanoutReport:
    """Fan `trigger` out to these contacts, each on the first usable channel of their cascade."""
    report = FanoutReport()
    if not contact_ids:
        return report
    program_channels = [str(c) for c in (trigger.program.channels or [])]
    groups: dict[tuple[str, ...], list[int]] = {}
    for pk, preferred in sorted(preferred_channels_for(contact_ids=contact_ids).items()):
        order = cascade_for(preferred, program_channels, allowed) or (trigger.channel,)
        groups.setdefault(order, []).append(pk)
    for order, ids in groups.items():
        renderers: Mapping[str, Renderer] = {c: renderer_for(c, ids) for c in order}
        part = fanout(
            trigger=replace(trigger, channel=order[0], fallback=order[1:]),
            contacts=Contact.objects.filter(pk__in=ids),
            render=renderers[order[0]],
            render_by_channel=renderers,
            now=now,
            batch_size=len(ids) + 1,
        )
        report_merge(report, part)
    return report


def fixed_text(texts: Callable[[Contact, str], str], subject: str = "") -> Renderer:
    """A renderer for a text the program writes itself (not reviewed content); `subject` for
    e-mail."""

    def render(contact: Contact, key: str, language: str) -> Rendered:
        return Rendered(body=texts(contact, language), subject=subject)

    return render
