from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "carereach.insights"
    label = "insights"
    verbose_name = "Insights"
