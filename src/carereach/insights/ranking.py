"""Next best content for an HCP, as arithmetic: pure, so its rules are tested without a database.

Two signals, both explainable to a rep in one line:

- **Colleagues**: of the HCPs who share one of this HCP's specialties and were sent an item, the
  share who engaged with it (a human click on its link or a reply), smoothed towards the share
  among every HCP and that towards the share over all items, so an item one colleague got and
  clicked does not outrank one that 120 of 200 clicked.
- **Read together**: how much the people who engaged with an item this HCP engaged with also
  engaged with the candidate (cosine of the two items' engager sets).

The score is `COLLEAGUES_WEIGHT * colleagues + (1 - COLLEAGUES_WEIGHT) * together`. Which items
may be suggested at all (approved, current, eligible, not had) is decided before ranking; this
module only orders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import sqrt

COLLEAGUES_WEIGHT = 0.6
PRIOR_STRENGTH = 5.0  # pseudo-recipients pulling a small sample's rate towards the overall rate


@dataclass(frozen=True)
class ItemStats:
    """What is known about one candidate item."""

    item_id: int
    peers_sent: int  # colleagues (shared specialty) who were sent it
    peers_engaged: int  # of those, how many engaged with it
    all_sent: int  # every HCP who was sent it
    all_engaged: int  # of those, how many engaged


@dataclass(frozen=True)
class Ranked:
    item_id: int
    score: float
    colleagues: float  # smoothed engagement share among colleagues
    together: float  # best co-engagement with an item the HCP engaged with
    together_with: int | None  # that item
    peers_sent: int
    peers_engaged: int


def _shrunk(engaged: int, sent: int, prior: float) -> float:
    return (engaged + PRIOR_STRENGTH * prior) / (sent + PRIOR_STRENGTH)


def colleague_rate(stats: ItemStats, overall: float) -> float:
    """Engaged share among colleagues, shrunk towards the item's share among every HCP, itself
    shrunk towards `overall` (every item): an item nobody has had scores `overall`, the
    average, so it ranks above one people were sent and ignored."""
    prior = _shrunk(stats.all_engaged, stats.all_sent, overall)
    return _shrunk(stats.peers_engaged, stats.peers_sent, prior)


def cosine(both: int, left: int, right: int) -> float:
    """Cosine similarity of two engager sets from their sizes and overlap."""
    if not both or not left or not right:
        return 0.0
    return both / sqrt(left * right)


def rank(
    *,
    candidates: Iterable[ItemStats],
    engagers: Mapping[int, int],
    overlaps: Mapping[tuple[int, int], int],
    engaged_by_hcp: Iterable[int],
    overall: float,
) -> list[Ranked]:
    """Candidates best first (ties: more colleagues engaged, then lower item id).

    `engagers[item]` counts the HCPs who engaged with an item; `overlaps[(had, candidate)]`
    those who engaged with both; `engaged_by_hcp` are the items this HCP engaged with.
    """
    mine = sorted(set(engaged_by_hcp))
    ranked = []
    for stats in candidates:
        colleagues = colleague_rate(stats, overall)
        together, together_with = 0.0, None
        for had in mine:
            value = cosine(
                overlaps.get((had, stats.item_id), 0),
                engagers.get(had, 0),
                engagers.get(stats.item_id, 0),
            )
            if value > together:
                together, together_with = value, had
        score = COLLEAGUES_WEIGHT * colleagues + (1 - COLLEAGUES_WEIGHT) * together
        ranked.append(
            Ranked(
                item_id=stats.item_id,
                score=score,
                colleagues=colleagues,
                together=together,
                together_with=together_with,
                peers_sent=stats.peers_sent,
                peers_engaged=stats.peers_engaged,
            )
        )
    return sorted(ranked, key=lambda r: (-r.score, -r.peers_engaged, r.item_id))
