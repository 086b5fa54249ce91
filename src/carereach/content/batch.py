"""Rendering one approved version for many recipients at once: what the fan-out calls.

`content_render_many` gives each recipient exactly what `content_render` would (the same checks,
the same text, the same errors), but reads what a batch needs in a few queries instead of several
per recipient: eligibility in one query (the rare contact it excludes is asked again one by one,
for the exact reason), the personal fields of every contact in one, their consent records (for
preference and unsubscribe links) in one, and tracked links in one read and one bulk write.

A template is filled once per distinct set of the values it uses: most messages of a campaign
differ only by a first name, so thousands of recipients share one filled text, its required
blocks and its segment count. Only what is personal (a tracked link's token, a signed preference
link) is made per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.consent import links as consent_links
from carereach.consent.models import ConsentState
from carereach.content.blocks import Filled
from carereach.content.eligibility import (
    REASON_TEXT,
    Reason,
    content_eligibility,
    content_eligible_q,
    language_code,
    version_availability,
)
from carereach.content.encoding import Analysis
from carereach.content.errors import ContentUnavailableError, NotEligibleError, RequiredBlockError
from carereach.content.models import ContentBody, ContentVersion, TrackedLink
from carereach.content.rendering import (
    Person,
    Rendered,
    RenderedLink,
    _fill,
    _measure,
    _store_links,
    _swap_links,
    _urls,
    new_token,
    person_values,
    short_url,
    version_program,
)
from carereach.content.selectors import policy_for
from carereach.content.templating import template_check
from carereach.errors import CarereachError
from carereach.sqlvalues import many
from carereach.vocabulary import Channel

NAME_FIELDS = frozenset({"first_name", "last_name", "last_name_with_title", "rep_name"})
CACHE_LIMIT = 20_000  # filled texts kept per renderer (distinct value sets)


@dataclass(frozen=True, slots=True)
class Target:
    """One message to render: the contact, the engine's key, the language and the address."""

    contact_id: int
    message_key: str
    language: str
    address: str = ""


@dataclass(frozen=True, slots=True)
class _Fill:
    """A filled body before its links are made personal: shared by every recipient with the
    same values."""

    filled: Filled
    urls: tuple[str, ...]
    sms: Analysis | None


class VersionRenderer:
    """`content_render_many` for one version and channel, keeping filled texts between batches
    (the fan-out calls it once per batch)."""

    def __init__(
        self,
        *,
        version: ContentVersion,
        channel: str,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        audience_checked: bool = False,
    ) -> None:
        """`audience_checked`: the caller already kept only contacts that
        `content_eligible_q(version=version, channel=channel, now=now)` selects (a campaign's
        trigger does), so the batch's eligibility query is not run again."""
        self.audience_checked = audience_checked
        self.version = version
        self.channel = channel
        self.context = dict(context or {})
        self.now = now
        self.program = version_program(version)
        self.policy = policy_for(self.program)
        self.bodies = {b.language: b for b in version.bodies.all() if b.channel == channel}
        self.used = {lang: _fields_used(body) for lang, body in self.bodies.items()}
        self.fills: dict[tuple[object, ...], _Fill | CarereachError] = {}

    def render(self, targets: Sequence[Target]) -> list[Rendered | CarereachError]:
        if not targets:
            return []
        availability = version_availability(self.version, self.now)
        if availability != Reason.ELIGIBLE:
            unavailable = ContentUnavailableError(
                f"Version {self.version.label} may not be sent: {REASON_TEXT[availability]}.",
                reason=availability,
            )
            return [unavailable for _ in targets]
        ids = list({t.contact_id for t in targets})
        wanted = set().union(*self.used.values()) if self.used else set()
        people = _people(ids, used=wanted)
        eligible = set(ids)
        if not self.audience_checked:
            condition = content_eligible_q(version=self.version, channel=self.channel, now=self.now)
            eligible = set(
                Contact.objects.filter(pk__in=many(ids))
                .filter(condition)
                .values_list("pk", flat=True)
            )
        preferences = self._states(targets, self.channel) if "preference_link" in wanted else {}
        unsubscribes = self._states(targets, Channel.EMAIL) if self.channel == Channel.EMAIL else {}
        results: list[Rendered | CarereachError | None] = []
        linked: list[tuple[int, Target, _Fill]] = []
        for index, target in enumerate(targets):
            found = people.get(target.contact_id)
            if found is None:
                results.append(NotEligibleError("The contact no longer exists.", reason="deleted"))
                continue
            person, spoken = found
            problem = self._ineligible(target, spoken, target.contact_id in eligible)
            if problem is not None:
                results.append(problem)
                continue
            fill = self._fill(target, person, preferences, unsubscribes)
            if isinstance(fill, CarereachError):
                results.append(fill)
            elif fill.urls:
                linked.append((index, target, fill))
                results.append(None)  # filled in by `_link`
            else:
                results.append(self._rendered(target, fill.filled, (), fill.sms))
        if linked:
            self._link(linked, results)
        return [r for r in results if r is not None]

    def _ineligible(self, target: Target, spoken: str, in_sql: bool) -> CarereachError | None:
        if in_sql and language_code(target.language) == spoken:
            return None
        # Excluded by the batch's query (or asked in another language): the one-by-one check
        # names the reason, and has the last word.
        contact = Contact.objects.select_related("territory", "patient").get(pk=target.contact_id)
        eligibility = content_eligibility(
            version=self.version,
            contact=contact,
            channel=self.channel,
            language=target.language,
            now=self.now,
        )
        if eligibility:
            return None
        return NotEligibleError(
            f"Version {self.version.label} may not go to this contact: {eligibility.message}.",
            reason=eligibility.reason,
        )

    def _fill(
        self,
        target: Target,
        person: Person,
        preferences: Mapping[str, ConsentState],
        unsubscribes: Mapping[str, ConsentState],
    ) -> _Fill | CarereachError:
        language = language_code(target.language)
        body = self.bodies.get(language)
        if body is None:
            return NotEligibleError(
                f"Version {self.version.label} has no {self.channel} body in {language}.",
                reason=Reason.NO_BODY,
            )
        values = person_values(person, context=self.context, language=language)
        preference = self.context.get("preference_link") or ""
        if not preference and "preference_link" in self.used[language]:
            state = preferences.get(target.address)
            mine = state is not None and state.contact_id == target.contact_id
            preference = consent_links.preferences_url(state) if state and mine else ""
        values["preference_link"] = str(preference)
        unsubscribe = ""
        if self.channel == Channel.EMAIL:
            unsubscribe = str(self.context.get("unsubscribe_link") or "")
            if not unsubscribe and self.program is not None and target.address:
                state = unsubscribes.get(target.address)
                unsubscribe = consent_links.unsubscribe_url(state) if state is not None else ""
            if not unsubscribe and self.program is not None:
                return RequiredBlockError(
                    "This address has no e-mail consent record for the program: there is no "
                    "unsubscribe link to put in the message."
                )
        key = (language, unsubscribe, *(values.get(name, "") for name in self.used[language]))
        fill = self.fills.get(key)
        if fill is None:
            fill = self._make_fill(body, values, unsubscribe)
            if len(self.fills) >= CACHE_LIMIT:
                self.fills.clear()
            self.fills[key] = fill
        return fill

    def _make_fill(
        self, body: ContentBody, values: Mapping[str, str], unsubscribe: str
    ) -> _Fill | CarereachError:
        try:
            filled = _fill(self.version, body, values, unsubscribe=unsubscribe, policy=self.policy)
            urls = tuple(_urls(filled))
            where = f"{self.channel}/{body.language}"
            sms = None if urls else _measure(filled, self.channel, self.policy, where)
        except CarereachError as error:
            return error
        return _Fill(filled, urls, sms)

    def _states(self, targets: Sequence[Target], channel: str) -> dict[str, ConsentState]:
        """The program's consent record of each address of the batch on `channel` (one per
        address), for preference and unsubscribe links."""
        if self.program is None:
            return {}
        addresses = list({t.address for t in targets if t.address})
        states = ConsentState.objects.filter(
            address__in=many(addresses), channel=channel, program=self.program
        )
        return {state.address: state for state in states}

    def _link(
        self,
        linked: list[tuple[int, Target, _Fill]],
        results: list[Rendered | CarereachError | None],
    ) -> None:
        """Tracked links for every linked message: new ones in one bulk write; a message that
        already has some (rendered before) goes through the one-by-one path."""
        keys = [target.message_key for _, target, _ in linked]
        seen = set(
            TrackedLink.objects.filter(message_key__in=many(keys)).values_list(
                "message_key", flat=True
            )
        )
        now = timezone.now()
        fresh = [item for item in linked if item[1].message_key not in seen]
        links = [
            TrackedLink(
                token=new_token(),
                version=self.version,
                contact_id=target.contact_id,
                message_key=target.message_key,
                position=position,
                url=url,
                created_at=now,
            )
            for _, target, fill in fresh
            for position, url in enumerate(fill.urls)
        ]
        try:
            with transaction.atomic():
                TrackedLink.objects.bulk_create(links, batch_size=1000)
        except IntegrityError:  # a token collision (about never) or a concurrent render
            fresh, seen = [], set(keys)
        made: dict[str, list[RenderedLink]] = {}
        for link in links if fresh else []:
            made.setdefault(link.message_key, []).append(
                RenderedLink(link.position, link.token, link.url, short_url(link.token))
            )
        contacts = Contact.objects.in_bulk(
            [target.contact_id for _, target, _ in linked if target.message_key in seen]
        )
        for index, target, fill in linked:
            if target.message_key in seen:
                rendered_links = _store_links(
                    version=self.version,
                    contact=contacts[target.contact_id],
                    message_key=target.message_key,
                    urls=fill.urls,
                )
            else:
                rendered_links = made[target.message_key]
            filled = _swap_links(fill.filled, {link.url: link.short_url for link in rendered_links})
            where = f"{self.channel}/{language_code(target.language)}"
            try:
                sms = _measure(filled, self.channel, self.policy, where)
            except CarereachError as error:
                results[index] = error
                continue
            results[index] = self._rendered(target, filled, tuple(rendered_links), sms)

    def _rendered(
        self,
        target: Target,
        filled: Filled,
        links: tuple[RenderedLink, ...],
        sms: Analysis | None,
    ) -> Rendered:
        return Rendered(
            version_id=self.version.pk,
            channel=self.channel,
            language=language_code(target.language),
            text=filled.text,
            subject=filled.subject,
            html=filled.html,
            links=links,
            sms=sms,
            message_key=target.message_key,
        )


def _fields_used(body: ContentBody) -> tuple[str, ...]:
    """The template fields a body's text, subject and HTML use, in a fixed order."""
    used: set[str] = set()
    used.update(template_check(body.text))
    used.update(template_check(body.subject))
    used.update(template_check(body.html, html=True))
    return tuple(sorted(used))


def _people(ids: list[int], *, used: set[str]) -> dict[int, tuple[Person, str]]:
    """Each contact's `Person` and spoken language, in one query; of the names, only those the
    templates use are read (and decrypted)."""
    firsts = bool(used & NAME_FIELDS - {"rep_name"})
    lasts = bool(used & {"last_name", "last_name_with_title"})
    parts = [
        (firsts, "first_name", ("hcp", "patient", "caregiver")),
        (lasts, "last_name", ("hcp", "patient", "caregiver")),
        ("last_name_with_title" in used, "credentials", ("hcp",)),
    ]
    columns = ["pk", "kind", "time_zone", "language", "hcp__contact_id"]
    for wanted, name, kinds in parts:
        if wanted:
            columns += [f"{kind}__{name}" for kind in kinds]
    reps = "rep_name" in used
    if reps:
        columns += [f"hcp__owner_rep__{name}" for name in ("first_name", "last_name", "username")]
    found: dict[int, tuple[Person, str]] = {}
    for row in Contact.objects.filter(pk__in=many(ids)).values(*columns):
        kind = row["kind"]
        profile = kind if kind in (ContactKind.PATIENT, ContactKind.CAREGIVER) else "hcp"
        rep = ""
        if reps and row["hcp__owner_rep__username"]:
            names = (row["hcp__owner_rep__first_name"], row["hcp__owner_rep__last_name"])
            rep = " ".join(part for part in names if part) or row["hcp__owner_rep__username"]
        person = Person(
            kind=kind,
            first_name=(row.get(f"{profile}__first_name") or "") if firsts else "",
            last_name=(row.get(f"{profile}__last_name") or "") if lasts else "",
            credentials=row.get("hcp__credentials") or "",
            has_hcp_profile=kind == ContactKind.HCP and row["hcp__contact_id"] is not None,
            rep_name=rep,
            time_zone=row["time_zone"] or "",
        )
        found[row["pk"]] = (person, language_code(row["language"] or ""))
    return found


def content_render_many(
    *,
    version: ContentVersion,
    channel: str,
    targets: Sequence[Target],
    context: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[Rendered | CarereachError]:
    """`content_render` for each target, in order: the message, or the error it would raise."""
    renderer = VersionRenderer(version=version, channel=channel, context=context, now=now)
    return renderer.render(targets)
