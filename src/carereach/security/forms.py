"""Console forms of the security app."""

from __future__ import annotations

from typing import Any

from django import forms

from carereach.security.models import AuditAction


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditAction.choices], label="Action"
    )
    object_type = forms.CharField(required=False, max_length=80, label="Object type")
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data
