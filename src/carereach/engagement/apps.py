from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "carereach.engagement"
    label = "engagement"
    verbose_name = "Engagement"

    def ready(self) -> None:
        # Content sits floors below and must not import us: its hooks tell us when an episode
        # is published (it goes to the series' subscribers) or retired (the release stops).
        from carereach.content.hooks import content_published_register, content_retired_register
        from carereach.engagement.services.series import series_published, series_retired

        content_published_register(series_published)
        content_retired_register(series_retired)

        # Answers to our texts: "1"/"2" about a meeting, a survey's score and follow-up.
        from carereach.engagement.services.followups import meeting_reply
        from carereach.engagement.services.surveys import survey_reply
        from carereach.messaging.replies import reply_handler_register

        reply_handler_register("meeting", meeting_reply)
        reply_handler_register("survey", survey_reply)

        # Releases waiting for their episode's window, running ones, due meeting reminders.
        from carereach.engagement.tasks import engagement_tick
        from carereach.messaging.runtime import scheduler_task_register

        scheduler_task_register(engagement_tick)
