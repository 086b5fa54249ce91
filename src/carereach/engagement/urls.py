"""Engagement pages under engagement/."""

from django.urls import path

from carereach.engagement import views

app_name = "engagement"

urlpatterns = [
    path("engagement/series/<int:series_id>/", views.series_view, name="series"),
    path("engagement/contacts/<int:contact_id>/", views.contact_view, name="contact"),
    path(
        "engagement/contacts/<int:contact_id>/interactions/",
        views.interaction_new_view,
        name="interaction_new",
    ),
    path(
        "engagement/contacts/<int:contact_id>/result-notice/",
        views.result_notice_view,
        name="result_notice",
    ),
    path("engagement/surveys/", views.survey_list_view, name="surveys"),
    path("engagement/surveys/<int:survey_id>/", views.survey_view, name="survey"),
    path("engagement/surveys/<int:survey_id>/send/", views.survey_send_view, name="survey_send"),
]
