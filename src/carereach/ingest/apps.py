from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "carereach.ingest"
    label = "ingest"
    verbose_name = "Ingest"
