"""Sample recipients for previews: fictitious people, never a real contact's data."""

from __future__ import annotations

SAMPLE_RECIPIENTS: dict[str, dict[str, str]] = {
    "hcp": {
        "label": "Sample HCP: Dr. Ana Lee, pediatrics",
        "first_name": "Ana",
        "last_name": "Lee",
        "last_name_with_title": "Dr. Lee",
        "rep_name": "Sam Ortiz",
        "appointment_time": "Tue, Mar 3 at 2:30 PM PST",
    },
    "patient": {
        "label": "Sample patient: Maria Gomez",
        "first_name": "Maria",
        "last_name": "Gomez",
        "last_name_with_title": "Maria Gomez",
        "rep_name": "",
        "appointment_time": "Tue, Mar 3 at 2:30 PM PST",
        "provider_name": "Dr. Lee",
        "provider_phone": "(415) 555-0100",
        "location": "Main St Clinic",
        "medication": "your medication",
        "refill_date": "Tue, Mar 3",
    },
    "caregiver": {
        "label": "Sample caregiver: Luis Gomez",
        "first_name": "Luis",
        "last_name": "Gomez",
        "last_name_with_title": "Luis Gomez",
        "rep_name": "",
        "appointment_time": "Tue, Mar 3 at 2:30 PM PST",
    },
}
