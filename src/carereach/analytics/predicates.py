"""Segment functions about engagement and consent, plugged into the audience query language:

    clicked(content = "flu-shot-reminder", within = 30d)   a person clicked a tracked link
    replied(within = 7d)                                   the person texted back
    consented(sms, "podcast")                              consent granted and unexpired now
    variant("flu-timing", "a")                             the contact's arm of an experiment

Each compiles to one EXISTS subquery correlated on the contact, so a whole segment stays one SQL
statement (see docs/segments.md). Arguments are checked by the compiler before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.lookups import GreaterThanOrEqual, LessThan

from carereach.analytics.experiments import bucket_expression, seed_for
from carereach.analytics.models import Experiment
from carereach.analytics.selectors import experiment_arms
from carereach.audience.segments.fields import BoundCall, Param, ValueType, register_predicate
from carereach.consent.models import ConsentState, ConsentStatus
from carereach.content.models import ClickKind, LinkClick
from carereach.errors import ValidationError
from carereach.messaging.models import InboundMessage
from carereach.vocabulary import Channel

_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", re.ASCII)


def _slug(what: str) -> Callable[[Any], str]:
    def normalize(value: Any) -> str:
        text = str(value).strip().lower()
        if not _SLUG.fullmatch(text):
            raise ValueError(f'expected a {what} code such as "flu-shots"')
        return text

    return normalize


def _clicked(call: BoundCall) -> Q:
    clicks = LinkClick.objects.filter(link__contact=OuterRef("pk"), kind=ClickKind.HUMAN)
    content, within = call.arguments["content"], call.arguments["within"]
    if content is not None:
        clicks = clicks.filter(link__version__item__code=content)
    if within is not None:
        clicks = clicks.filter(at__gte=call.now - within)
    return Q(Exists(clicks))


def _replied(call: BoundCall) -> Q:
    replies = InboundMessage.objects.filter(contact=OuterRef("pk"))
    within = call.arguments["within"]
    if within is not None:
        replies = replies.filter(received_at__gte=call.now - within)
    return Q(Exists(replies))


def _consented(call: BoundCall) -> Q:
    states = ConsentState.objects.filter(
        contact=OuterRef("pk"), channel=call.arguments["channel"], status=ConsentStatus.GRANTED
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=call.now))
    program = call.arguments["program"]
    if program is not None:
        states = states.filter(program__code=program)
    return Q(Exists(states))


def _experiment_code(value: Any) -> str:
    code = _slug("experiment")(value)
    if not Experiment.objects.filter(code=code).exists():
        raise ValueError(f'no experiment "{code}"')
    return code


def _variant(call: BoundCall) -> Q:
    experiment = Experiment.objects.get(code=call.arguments["experiment"])
    wanted = call.arguments["arm"]
    arms = experiment_arms(experiment)
    arm = next((arm for arm in arms if arm.code == wanted), None)
    if arm is None:
        known = ", ".join(a.code for a in arms)
        raise ValidationError(
            f'Experiment "{experiment.code}" has no arm "{wanted}" (arms: {known}).',
            field="query",
        )
    hashed = bucket_expression(seed_for(experiment.pk))
    return Q(GreaterThanOrEqual(hashed, arm.low)) & Q(LessThan(hashed, arm.high))


def register_segment_predicates() -> None:
    """Offer clicked(), replied() and consented() in segment queries (from AppConfig.ready)."""
    within = Param(
        "within",
        ValueType.DURATION,
        positional=False,
        description="only in this time before now, e.g. 30d (default: ever)",
    )
    register_predicate(
        "clicked",
        _clicked,
        params=[
            Param(
                "content",
                ValueType.STRING,
                normalize=_slug("content"),
                description="the content item's code (default: any)",
            ),
            within,
        ],
        description="clicked a tracked link in a message (people, not link scanners)",
        replace=True,
    )
    register_predicate(
        "replied",
        _replied,
        params=[within],
        description="texted back (any inbound text from the person)",
        replace=True,
    )
    register_predicate(
        "variant",
        _variant,
        params=[
            Param("experiment", ValueType.STRING, required=True, normalize=_experiment_code),
            Param("arm", ValueType.STRING, required=True, normalize=_slug("arm")),
        ],
        description='the contact\'s arm of an experiment ("control" is the hold-out)',
        replace=True,
    )
    register_predicate(
        "consented",
        _consented,
        params=[
            Param("channel", ValueType.ENUM, required=True, choices=tuple(Channel.values)),
            Param(
                "program",
                ValueType.STRING,
                normalize=_slug("program"),
                description="the program's code (default: any program)",
            ),
        ],
        description="consent granted and unexpired now for the channel (and program)",
        replace=True,
    )
