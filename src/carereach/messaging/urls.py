from django.urls import path

from carereach.messaging import views

app_name = "messaging"

urlpatterns = [
    path("contacts/<int:contact_id>/messages/", views.contact_messages_view, name="contact"),
    path("messages/<int:message_id>/", views.message_view, name="message"),
]
