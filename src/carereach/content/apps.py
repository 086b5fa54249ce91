from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "carereach.content"
    label = "content"
    verbose_name = "Content"
