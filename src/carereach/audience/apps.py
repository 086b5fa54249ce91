from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "carereach.audience"
    label = "audience"
    verbose_name = "Audience"
