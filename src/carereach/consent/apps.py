from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "carereach.consent"
    label = "consent"
    verbose_name = "Consent"
