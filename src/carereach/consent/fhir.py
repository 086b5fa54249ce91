"""FHIR R4 `Consent` resources for the current consent of a contact.

One resource per (address, channel, program) state: `provision.type` permit or deny, the period
the permission covers, the purpose, the program as the information recipient, and the exact
address as an extension (consent belongs to a number, not to a person).
"""

from __future__ import annotations

from typing import Any

from carereach.consent.models import ConsentState, ConsentStatus, ProgramType

CONTACT_POINT_EXTENSION = "https://carereach.example.org/fhir/StructureDefinition/contact-point"
CHANNEL_EXTENSION = "https://carereach.example.org/fhir/StructureDefinition/channel"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSES = {
    ProgramType.MARKETING: ("HMARKT", "healthcare marketing"),
    ProgramType.INFORMATIONAL: ("PATADMIN", "patient administration"),
    ProgramType.HEALTHCARE_EXEMPT: ("TREAT", "treatment"),
    ProgramType.TRANSACTIONAL: ("HOPERAT", "healthcare operations"),
}
_STATUS = {
    ConsentStatus.GRANTED: "active",
    ConsentStatus.PENDING: "proposed",
    ConsentStatus.REVOKED: "inactive",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def consent_resource(state: ConsentState) -> dict[str, Any]:
    contact = state.contact
    program = state.program
    permit = state.status == ConsentStatus.GRANTED
    code, display = PURPOSES[ProgramType(program.type)]
    system = "email" if state.channel == "email" else "phone"
    period = {"start": _iso(state.granted_at), "end": _iso(state.expires_at)}
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": f"carereach-consent-{state.pk}",
        "status": _STATUS[ConsentStatus(state.status)],
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "dateTime": _iso(state.changed_at),
        "policyRule": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "OPTIN" if permit else "OPTOUT",
                }
            ]
        },
        "extension": [
            {
                "url": CONTACT_POINT_EXTENSION,
                "valueContactPoint": {"system": system, "value": state.address},
            },
            {"url": CHANNEL_EXTENSION, "valueCode": state.channel},
        ],
        "provision": {
            "type": "permit" if permit else "deny",
            "purpose": [{"system": ACT_REASON, "code": code, "display": display}],
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"display": f"{program.name} ({program.code})"},
                }
            ],
        },
    }
    if period["start"] or period["end"]:
        resource["provision"]["period"] = {k: v for k, v in period.items() if v}
    if contact.kind == "patient":
        resource["patient"] = {"reference": f"Patient/{contact.pk}"}
    else:
        kind = "Practitioner" if contact.kind == "hcp" else "RelatedPerson"
        resource["performer"] = [{"reference": f"{kind}/{contact.pk}"}]
    return resource


def consent_bundle(states: list[ConsentState]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": consent_resource(state)} for state in states],
    }
