"""URL map: console pages per app, the REST API, and Django admin for operators."""

from django.contrib import admin
from django.urls import include, path

from carereach.interop.api import api

handler403 = "carereach.console.views.forbidden_view"
handler404 = "carereach.console.views.not_found_view"
handler500 = "carereach.console.views.server_error_view"

urlpatterns = [
    path("api/v1/", api.urls),
    path("operators/", admin.site.urls),
    path("security/", include("carereach.security.urls")),
    path("audience/", include("carereach.audience.urls")),
    path("", include("carereach.consent.urls")),
    path("", include("carereach.content.urls")),
    path("", include("carereach.messaging.urls")),
    path("mail-events/", include("carereach.messaging.email_hooks")),  # bounces, complaints
    path("", include("carereach.campaigns.urls")),
    path("", include("carereach.insights.urls")),
    path("", include("carereach.engagement.urls")),
    path("", include("carereach.journeys.urls")),
    path("", include("carereach.analytics.urls")),
    path("", include("carereach.console.urls")),
]
