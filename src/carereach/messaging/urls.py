from django.urls import path

from carereach.messaging import inbox_views, letters_views, views

app_name = "messaging"

urlpatterns = [
    path("contacts/<int:contact_id>/messages/", views.contact_messages_view, name="contact"),
    path("messages/<int:message_id>/", views.message_view, name="message"),
    path("inbox/", inbox_views.inbox_view, name="inbox"),
    path("inbox/<int:inbound_id>/", inbox_views.conversation_view, name="conversation"),
    path("letters/", letters_views.letters_view, name="letters"),
    path(
        "letters/<str:day>/<str:kind>/",
        letters_views.letter_batch_file_view,
        name="letter_batch_file",
    ),
]
