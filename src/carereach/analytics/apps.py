from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "carereach.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Segment queries may ask who clicked, replied or consented (clicked(...), replied(...),
        # consented(...)): the compiler offers what apps register.
        from carereach.analytics.predicates import register_segment_predicates

        register_segment_predicates()
