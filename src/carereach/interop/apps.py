from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "carereach.interop"
    label = "interop"
    verbose_name = "Interop"
