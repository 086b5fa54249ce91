"""The console's navigation: each entry names the capability that shows it.

Domain apps add their pages here as they arrive; the menu a user sees is this list filtered by
their capabilities, so navigation and access can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from carereach.security.roles import Capability


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: Capability


NAVIGATION: list[NavItem] = [
    NavItem("Dashboard", "console:dashboard", Capability.VIEW_DASHBOARD),
    NavItem("Contacts", "audience:contacts", Capability.VIEW_CONTACTS),
    NavItem("Segments", "audience:segments", Capability.VIEW_CONTACTS),
    NavItem("Import", "audience:import_new", Capability.IMPORT_CONTACTS),
    NavItem("Consent import", "consent:import", Capability.CAPTURE_CONSENT),
    NavItem("Content", "content:library", Capability.AUTHOR_CONTENT),
    NavItem("Review", "content:review_queue", Capability.REVIEW_CONTENT),
    NavItem("Campaigns", "campaigns:list", Capability.RUN_CAMPAIGNS),
    NavItem("Journeys", "journeys:list", Capability.RUN_CAMPAIGNS),
    NavItem("Appointments", "journeys:appointments", Capability.VIEW_PHI),
    NavItem("Campaign sign-off", "campaigns:signoff_queue", Capability.REVIEW_CONTENT),
    NavItem("Surveys", "engagement:surveys", Capability.RUN_CAMPAIGNS),
    NavItem("Analytics", "analytics:dashboard", Capability.VIEW_ANALYTICS),
    NavItem("Inbox", "messaging:inbox", Capability.USE_INBOX),
    NavItem("Letters", "messaging:letters", Capability.RUN_CAMPAIGNS),
    NavItem("Phone simulator", "console:simulator", Capability.USE_INBOX),
    NavItem("API keys", "console:apikeys", Capability.MANAGE_API_KEYS),
    NavItem("Audit log", "security:audit", Capability.VIEW_AUDIT),
]
