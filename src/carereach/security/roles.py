"""Roles and what each may do: the one permission matrix the whole product checks against.

Console views, API routes and CLI commands name a Capability; a role has it or not. The
migration that creates the role groups reads MATRIX, and the permission tests walk it, so
changing access means changing this file and nothing else.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # operators: users, keys, audit log, settings; everything else too
    MARKETER = "marketer"  # brand teams: audiences, content drafts, campaigns
    COMPLIANCE = "compliance_reviewer"  # MLR review: approves or withdraws content, reads consent
    FIELD_REP = "field_rep"  # captures consent and follows up, own territory only
    CARE_COORDINATOR = "care_coordinator"  # patient programs and clinic outreach, sees PHI
    ANALYST = "analyst"  # aggregates only, never a single person's record


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.MARKETER: "Marketer",
    Role.COMPLIANCE: "Compliance reviewer",
    Role.FIELD_REP: "Field rep",
    Role.CARE_COORDINATOR: "Care coordinator",
    Role.ANALYST: "Analyst",
}


class Capability(StrEnum):
    VIEW_DASHBOARD = "view_dashboard"  # the console home with its counts
    VIEW_CONTACTS = "view_contacts"  # contact lists and records (reps: own territory)
    ALL_TERRITORIES = "all_territories"  # contacts of every territory, not only one's own
    EDIT_CONTACTS = "edit_contacts"  # create and change contacts (reps: in their territory)
    IMPORT_CONTACTS = "import_contacts"  # bulk CSV imports
    VIEW_PHI = "view_phi"  # decrypted patient fields: names, birth dates, record numbers
    EXPORT_CONTACTS = "export_contacts"  # segment exports to CSV
    MANAGE_SEGMENTS = "manage_segments"  # save and edit segments
    CAPTURE_CONSENT = "capture_consent"  # record a grant or revocation for a contact
    VIEW_CONSENT = "view_consent"  # consent timelines and legal exports
    MANAGE_PROGRAMS = "manage_programs"  # programs, keywords, sender numbers
    AUTHOR_CONTENT = "author_content"  # write drafts and submit them for review
    REVIEW_CONTENT = "review_content"  # approve, reject, withdraw content versions
    RUN_CAMPAIGNS = "run_campaigns"  # preview, start, pause and cancel sends
    USE_INBOX = "use_inbox"  # read and answer conversations
    VIEW_ANALYTICS = "view_analytics"  # aggregate reports and dashboards
    VIEW_AUDIT = "view_audit"  # the tamper-evident audit log
    MANAGE_USERS = "manage_users"  # operator admin: users, roles
    MANAGE_API_KEYS = "manage_api_keys"  # issue and revoke one's own API keys


CAPABILITY_LABELS: dict[Capability, str] = {
    cap: cap.value.replace("_", " ").capitalize() for cap in Capability
}

_ALL = frozenset(Capability)

MATRIX: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: _ALL,
    Role.MARKETER: frozenset(
        {
            Capability.VIEW_DASHBOARD,
            Capability.VIEW_CONTACTS,
            Capability.ALL_TERRITORIES,
            Capability.EDIT_CONTACTS,
            Capability.IMPORT_CONTACTS,
            Capability.EXPORT_CONTACTS,
            Capability.MANAGE_SEGMENTS,
            Capability.VIEW_CONSENT,
            Capability.MANAGE_PROGRAMS,
            Capability.AUTHOR_CONTENT,
            Capability.RUN_CAMPAIGNS,
            Capability.VIEW_ANALYTICS,
            Capability.MANAGE_API_KEYS,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            Capability.VIEW_DASHBOARD,
            Capability.VIEW_CONTACTS,
            Capability.ALL_TERRITORIES,
            Capability.VIEW_CONSENT,
            Capability.REVIEW_CONTENT,
            Capability.VIEW_ANALYTICS,
            Capability.MANAGE_API_KEYS,
        }
    ),
    Role.FIELD_REP: frozenset(
        {
            Capability.VIEW_DASHBOARD,
            Capability.VIEW_CONTACTS,
            Capability.EDIT_CONTACTS,
            Capability.CAPTURE_CONSENT,
            Capability.VIEW_CONSENT,
            Capability.USE_INBOX,
            Capability.MANAGE_API_KEYS,
        }
    ),
    Role.CARE_COORDINATOR: frozenset(
        {
            Capability.VIEW_DASHBOARD,
            Capability.VIEW_CONTACTS,
            Capability.ALL_TERRITORIES,
            Capability.EDIT_CONTACTS,
            Capability.IMPORT_CONTACTS,
            Capability.VIEW_PHI,
            Capability.EXPORT_CONTACTS,
            Capability.MANAGE_SEGMENTS,
            Capability.CAPTURE_CONSENT,
            Capability.VIEW_CONSENT,
            Capability.RUN_CAMPAIGNS,
            Capability.USE_INBOX,
            Capability.MANAGE_API_KEYS,
        }
    ),
    Role.ANALYST: frozenset(
        {Capability.VIEW_DASHBOARD, Capability.VIEW_ANALYTICS, Capability.MANAGE_API_KEYS}
    ),
}

PERMISSION_APP = "security"


def permission_name(capability: Capability) -> str:
    """The Django permission string (`app_label.codename`) behind a capability."""
    return f"{PERMISSION_APP}.{capability.value}"


def roles_with(capability: Capability) -> list[Role]:
    return [role for role, caps in MATRIX.items() if capability in caps]
