from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "carereach.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # Withdrawn or expired content stops the campaigns sending it and cancels their paused
        # messages (the outbox's own hook cancels the queued and held ones).
        from carereach.campaigns.services.lifecycle import campaigns_content_retired
        from carereach.content.hooks import content_retired_register

        content_retired_register(campaigns_content_retired)

        # Due campaigns start, and running ones go on, on each scheduler tick.
        from carereach.campaigns.tasks import campaigns_start_due
        from carereach.messaging.runtime import scheduler_task_register

        scheduler_task_register(campaigns_start_due)
