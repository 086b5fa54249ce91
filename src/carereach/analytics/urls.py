"""Analytics pages under analytics/."""

from django.urls import path

from carereach.analytics import views

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.dashboard_view, name="dashboard"),
    path("analytics/funnel.csv", views.funnel_csv_view, name="funnel_csv"),
    path("analytics/consent/", views.consent_view, name="consent"),
    path("analytics/consent.csv", views.consent_csv_view, name="consent_csv"),
    path("analytics/experiments/", views.experiments_view, name="experiments"),
    path("analytics/messages/", views.drilldown_view, name="messages"),
]
