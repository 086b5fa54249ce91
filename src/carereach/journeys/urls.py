"""Journey pages under journeys/."""

from django.urls import path

from carereach.journeys import views

app_name = "journeys"

urlpatterns = [
    path("journeys/", views.journey_list_view, name="list"),
    path("journeys/<int:journey_id>/", views.journey_edit_view, name="edit"),
    path("journeys/appointments/", views.appointment_list_view, name="appointments"),
    path(
        "journeys/appointments/<int:appointment_id>/status/",
        views.appointment_status_view,
        name="appointment_status",
    ),
]
