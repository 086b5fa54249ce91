"""REST: next best content for an HCP (reps: their territory's HCPs only)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from carereach.audience.selectors import contact_get_for_user
from carereach.insights.next_content import next_best_content
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["insights"])


class SuggestionOut(Schema):
    item_code: str
    title: str
    version_id: int
    version_number: int
    score: float
    reasons: list[str]


@router.get(
    "/contacts/{contact_id}/next-content",
    response=list[SuggestionOut],
    auth=requires(Capability.VIEW_CONTACTS),
)
def next_content(request: HttpRequest, contact_id: int, limit: int = 5) -> list[SuggestionOut]:
    """Approved content this HCP may receive and has not had, best first, with the reasons."""
    contact = contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    return [
        SuggestionOut(
            item_code=s.item.code,
            title=s.item.title,
            version_id=s.version.pk,
            version_number=s.version.number,
            score=s.score,
            reasons=s.reasons,
        )
        for s in next_best_content(contact=contact, limit=max(1, min(limit, 20)))
    ]
