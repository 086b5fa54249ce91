from django.urls import path

from carereach.audience import views

app_name = "audience"

urlpatterns = [
    path("contacts/", views.contact_list_view, name="contacts"),
    path("contacts/new/", views.contact_create_view, name="contact_new"),
    path("contacts/<int:contact_id>/", views.contact_detail_view, name="contact"),
    path("segments/", views.segment_list_view, name="segments"),
    path("segments/new/", views.segment_new_view, name="segment_new"),
    path("segments/preview/", views.segment_preview_view, name="segment_preview"),
    path("segments/<int:segment_id>/", views.segment_edit_view, name="segment"),
    path("imports/new/", views.import_new_view, name="import_new"),
    path("imports/<int:import_id>/", views.import_detail_view, name="import"),
    path("imports/<int:import_id>/run/", views.import_run_view, name="import_run"),
    path("imports/<int:import_id>/progress/", views.import_progress_view, name="import_progress"),
    path("imports/<int:import_id>/errors.csv", views.import_errors_view, name="import_errors"),
]
