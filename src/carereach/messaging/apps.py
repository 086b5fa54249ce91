from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "carereach.messaging"
    label = "messaging"
    verbose_name = "Messaging"
