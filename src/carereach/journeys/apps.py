from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "carereach.journeys"
    label = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        # Due enrolments advance on each scheduler tick (one leader at a time).
        from carereach.journeys.tasks import journeys_advance_due
        from carereach.messaging.runtime import scheduler_task_register

        scheduler_task_register(journeys_advance_due)

        # Answers to reminders (C, R, "sí", "reprogramar"...) are claimed after consent saw them.
        from carereach.journeys.services.answers import journey_reply_handle
        from carereach.messaging.replies import reply_handler_register

        reply_handler_register("journeys", journey_reply_handle)
