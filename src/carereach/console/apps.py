from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "carereach.console"
    label = "console"
    verbose_name = "Console"
