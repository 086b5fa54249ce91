"""The MLR review state machine, its permissions, and what withdrawal and expiry set off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from carereach.consent.models import Program
from carereach.content.hooks import RetiredVersion
from carereach.content.models import ContentVersion, ReviewAction, VersionStatus
from carereach.content.services import (
    version_approve,
    version_input_of,
    version_recall,
    version_request_changes,
    version_save,
    version_submit,
    version_withdraw,
    versions_expire_due,
)
from carereach.content.tasks import content_expire_tick
from carereach.errors import ConflictError, PermissionDeniedError, ValidationError
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.content import factories

pytestmark = pytest.mark.django_db
SMS = "Heart Matters: hi {{ first_name }}, new episode {{ tracked_link }} Reply STOP to opt out."


def _draft(author: User, program: Program, **version: object) -> ContentVersion:
    item = factories.item(actor=author, program=program, bodies=[factories.sms(SMS)], **version)
    return factories.first_version(item)


def _approve(version: ContentVersion, reviewer: User, **overrides: object) -> ContentVersion:
    now = timezone.now()
    fields: dict[str, object] = {
        "review_code": "MLR-1",
        "valid_from": now - timedelta(minutes=1),
        "valid_until": now + timedelta(days=10),
    }
    fields.update(overrides)
    return version_approve(version=version, actor=reviewer, **fields)  # type: ignore[arg-type]


def test_draft_to_review_to_approved(author: User, reviewer: User, cardio: Program) -> None:
    version = _draft(author, cardio)
    assert version.status == VersionStatus.DRAFT
    version = version_submit(version=version, actor=author)
    assert version.status == VersionStatus.IN_REVIEW
    assert version.submitted_by == author
    version = _approve(version, reviewer, comments="Fine as written.")
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED
    assert (version.reviewer, version.review_code) == (reviewer, "MLR-1")
    assert version.review_comments == "Fine as written."
    assert version.valid_from is not None
    assert version.valid_until is not None
    assert version.usable_at(timezone.now())
    actions = list(version.events.values_list("action", flat=True))
    assert actions == [ReviewAction.CREATED, ReviewAction.SUBMITTED, ReviewAction.APPROVED]
    assert (
        AuditEntry.objects.filter(object_type="content_version", object_id=str(version.pk)).count()
        >= 3
    )


def test_author_cannot_approve_own_version(users: dict[Role, User], cardio: Program) -> None:
    admin = users[Role.ADMIN]  # has review_content too
    version = version_submit(version=_draft(admin, cardio), actor=admin)
    with pytest.raises(PermissionDeniedError, match="another reviewer"):
        _approve(version, admin)
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_REVIEW


def test_submitter_cannot_approve(users: dict[Role, User], author: User, cardio: Program) -> None:
    admin = users[Role.ADMIN]
    version = version_submit(version=_draft(author, cardio), actor=admin)
    with pytest.raises(PermissionDeniedError):
        _approve(version, admin)


@pytest.mark.parametrize(
    "role", [Role.MARKETER, Role.FIELD_REP, Role.CARE_COORDINATOR, Role.ANALYST]
)
def test_only_reviewers_approve(
    role: Role, users: dict[Role, User], author: User, cardio: Program
) -> None:
    version = version_submit(version=_draft(users[Role.ADMIN], cardio), actor=users[Role.ADMIN])
    with pytest.raises(PermissionDeniedError, match="compliance reviewer"):
        _approve(version, users[role])
    with pytest.raises(PermissionDeniedError):
        version_request_changes(version=version, actor=users[role], comments="no")


def test_approval_refusals_name_the_problem(author: User, reviewer: User, cardio: Program) -> None:
    version = version_submit(version=_draft(author, cardio), actor=author)
    now = timezone.now()
    with pytest.raises(ValidationError, match="ends before it starts") as raised:
        _approve(version, reviewer, valid_from=now + timedelta(days=2), valid_until=now)
    assert raised.value.field == "valid_until"
    with pytest.raises(ValidationError, match="review code"):
        _approve(version, reviewer, review_code="  ")
    with pytest.raises(ValidationError, match="already ended"):
        _approve(
            version,
            reviewer,
            valid_from=now - timedelta(days=9),
            valid_until=now - timedelta(days=1),
        )


def test_only_in_review_can_be_approved(author: User, reviewer: User, cardio: Program) -> None:
    version = _draft(author, cardio)
    with pytest.raises(ConflictError, match="Only a version in review"):
        _approve(version, reviewer)


def test_request_changes_sends_back_with_comments(
    author: User, reviewer: User, cardio: Program
) -> None:
    version = version_submit(version=_draft(author, cardio), actor=author)
    with pytest.raises(ValidationError, match="what needs to change"):
        version_request_changes(version=version, actor=reviewer, comments=" ")
    version = version_request_changes(version=version, actor=reviewer, comments="Add the risk.")
    assert version.status == VersionStatus.DRAFT
    assert version.review_comments == "Add the risk."
    version_submit(version=version, actor=author)


def test_recall_and_locked_while_in_review(author: User, cardio: Program) -> None:
    version = version_submit(version=_draft(author, cardio), actor=author)
    with pytest.raises(ConflictError, match="in review and locked"):
        version_save(version=version, data=version_input_of(version), actor=author)
    version = version_recall(version=version, actor=author)
    assert version.status == VersionStatus.DRAFT
    with pytest.raises(ConflictError):
        version_recall(version=version, actor=author)


def test_editing_a_draft_changes_it_in_place(author: User, cardio: Program) -> None:
    version = _draft(author, cardio)
    data = version_input_of(version)
    data.bodies[0].text = SMS.replace("hi", "hello")
    saved = version_save(version=version, data=data, actor=author)
    assert saved.pk == version.pk
    assert saved.bodies.get().text.startswith("Heart Matters: hello")


def test_editing_approved_makes_a_new_draft(author: User, reviewer: User, cardio: Program) -> None:
    approved = factories.approve(_draft(author, cardio), author=author, reviewer=reviewer)
    data = version_input_of(approved)
    data.bodies[0].text = SMS + " New!"
    draft = version_save(version=approved, data=data, actor=author)
    assert draft.pk != approved.pk
    assert (draft.number, draft.status, draft.based_on_id) == (2, VersionStatus.DRAFT, approved.pk)
    approved.refresh_from_db()
    assert approved.status == VersionStatus.APPROVED
    assert approved.bodies.get().text == SMS  # the approved text never changes
    with pytest.raises(ConflictError, match="already open"):
        version_save(version=approved, data=data, actor=author)


def test_new_approval_supersedes_the_old(
    author: User, reviewer: User, cardio: Program, retired_calls: list[RetiredVersion]
) -> None:
    first = factories.approve(_draft(author, cardio), author=author, reviewer=reviewer)
    draft = version_save(version=first, data=version_input_of(first), actor=author)
    factories.approve(draft, author=author, reviewer=reviewer, code="MLR-2")
    first.refresh_from_db()
    assert first.status == VersionStatus.WITHDRAWN
    assert first.retired_reason == "superseded by v2"
    assert [call.version_id for call in retired_calls] == [first.pk]


def test_withdrawal_calls_hooks_and_needs_reason(
    author: User, reviewer: User, cardio: Program, retired_calls: list[RetiredVersion]
) -> None:
    version = factories.approve(_draft(author, cardio), author=author, reviewer=reviewer)
    with pytest.raises(ValidationError, match="why"):
        version_withdraw(version=version, actor=reviewer, reason="")
    with pytest.raises(PermissionDeniedError):
        version_withdraw(version=version, actor=author, reason="oops")
    retirement = version_withdraw(version=version, actor=reviewer, reason="label change")
    assert retirement.cancelled == 2
    assert retired_calls == [
        RetiredVersion(
            version_id=version.pk,
            item_id=version.item_id,
            status="withdrawn",
            at=retired_calls[0].at,
            reason="label change",
        )
    ]
    version.refresh_from_db()
    assert version.status == VersionStatus.WITHDRAWN
    assert not version.usable_at(timezone.now())
    with pytest.raises(ConflictError):
        version_withdraw(version=version, actor=reviewer, reason="again")


def test_a_failing_hook_rolls_the_withdrawal_back(
    author: User, reviewer: User, cardio: Program
) -> None:
    from carereach.content.hooks import content_retired_register, content_retired_unregister

    version = factories.approve(_draft(author, cardio), author=author, reviewer=reviewer)

    def broken(event: RetiredVersion) -> int:
        raise RuntimeError("queue unavailable")

    content_retired_register(broken)
    try:
        with pytest.raises(RuntimeError):
            version_withdraw(version=version, actor=reviewer, reason="label change")
    finally:
        content_retired_unregister(broken)
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED


def test_expiry_cancels_through_hooks(
    author: User, reviewer: User, cardio: Program, retired_calls: list[RetiredVersion]
) -> None:
    now = timezone.now()
    version = factories.approve(
        _draft(author, cardio),
        author=author,
        reviewer=reviewer,
        valid_from=now - timedelta(days=2),
        valid_until=now + timedelta(seconds=30),
    )
    assert versions_expire_due(now=now) == []
    done = versions_expire_due(now=now + timedelta(minutes=1))
    assert [r.version.pk for r in done] == [version.pk]
    assert done[0].cancelled == 2
    version.refresh_from_db()
    assert version.status == VersionStatus.EXPIRED
    assert retired_calls[0].status == "expired"
    assert versions_expire_due(now=now + timedelta(minutes=2)) == []
    assert content_expire_tick() == 0


def test_submit_runs_the_approval_checks(author: User, cardio: Program) -> None:
    version = _draft(author, cardio, promotional=True, brand_name="Heartwell", generic_name="")
    with pytest.raises(ValidationError, match="brand name and generic name"):
        version_submit(version=version, actor=author)
    assert ContentVersion.objects.get(pk=version.pk).status == VersionStatus.DRAFT
