from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "carereach.security"
    label = "security"
    verbose_name = "Security"
