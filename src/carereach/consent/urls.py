"""Consent pages: console pages under consent/, public signed-link pages at /p/ and /u/.

The public paths are short because they travel in text messages and e-mail headers.
"""

from django.urls import path

from carereach.consent import views

app_name = "consent"

urlpatterns = [
    path("consent/contacts/<int:contact_id>/", views.contact_consent_view, name="contact"),
    path("consent/contacts/<int:contact_id>/proof/", views.proof_view, name="proof"),
    path("consent/contacts/<int:contact_id>/proof.json", views.proof_json_view, name="proof_json"),
    path("consent/capture/<int:contact_id>/", views.capture_view, name="capture"),
    path(
        "consent/capture/<int:contact_id>/receipt/<slug:capture>/",
        views.capture_receipt_view,
        name="capture_receipt",
    ),
    path("consent/revoke/<int:contact_id>/", views.revoke_view, name="revoke"),
    # Public: no sign-in; the signed token is the only key (see consent/links.py).
    path("p/<str:token>/", views.preferences_view, name="preferences"),
    path("u/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
]
