"""Campaign pages under campaigns/; the reviewer's sign-off pages under campaigns/sign-off/."""

from django.urls import path

from carereach.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list_view, name="list"),
    path("campaigns/new/", views.campaign_new_view, name="new"),
    path("campaigns/sign-off/", views.signoff_queue_view, name="signoff_queue"),
    path("campaigns/sign-off/<int:campaign_id>/", views.signoff_view, name="signoff"),
    path(
        "campaigns/sign-off/<int:campaign_id>/preview/",
        views.signoff_preview_view,
        name="signoff_preview",
    ),
    path("campaigns/<int:campaign_id>/", views.campaign_detail_view, name="detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit_view, name="edit"),
    path("campaigns/<int:campaign_id>/preview/", views.campaign_preview_view, name="preview"),
    path("campaigns/<int:campaign_id>/progress/", views.campaign_progress_view, name="progress"),
    path("campaigns/<int:campaign_id>/test/", views.campaign_test_send_view, name="test_send"),
    path(
        "campaigns/<int:campaign_id>/<slug:action>/",
        views.campaign_action_view,
        name="action",
    ),
]
