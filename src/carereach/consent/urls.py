"""Consent pages: console pages under consent/, public signed-link pages at /p/, /u/ and /c/,
and each program's public sign-up page at /join/<code>/.

The public paths are short because they travel in text messages and e-mail headers.
"""

from django.urls import path

from carereach.consent.views import console, public

app_name = "consent"

urlpatterns = [
    path("consent/contacts/<int:contact_id>/", console.contact_consent_view, name="contact"),
    path("consent/contacts/<int:contact_id>/proof/", console.proof_view, name="proof"),
    path(
        "consent/contacts/<int:contact_id>/proof.json", console.proof_json_view, name="proof_json"
    ),
    path("consent/capture/<int:contact_id>/", console.capture_view, name="capture"),
    path(
        "consent/capture/<int:contact_id>/receipt/<slug:capture>/",
        console.capture_receipt_view,
        name="capture_receipt",
    ),
    path("consent/revoke/<int:contact_id>/", console.revoke_view, name="revoke"),
    path("consent/import/", console.import_view, name="import"),
    # Public: no sign-in; the signed token is the only key (see consent/links.py).
    path("p/<str:token>/", public.preferences_view, name="preferences"),
    path("u/<str:token>/", public.unsubscribe_view, name="unsubscribe"),
    path("c/<str:token>/", public.signup_confirm_view, name="confirm"),
    # Public: no sign-in and no token; the page exists only for programs that open it.
    path("join/<slug:code>/", public.signup_view, name="signup"),
    path("join/<slug:code>/thanks/", public.signup_thanks_view, name="signup_thanks"),
]
