from django.urls import path

from carereach.insights import views

app_name = "insights"

urlpatterns = [
    path("contacts/<int:contact_id>/next-content/", views.next_content_view, name="next_content"),
]
