from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "carereach.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # Consent's notices (opt-out confirmations, receipts, double opt-in requests) reach the
        # outbox through this hook: consent sits a floor below and must not import messaging.
        from carereach.consent.notices import notice_sender_register
        from carereach.consent.throttle import signup_attempts_prune
        from carereach.content.hooks import content_retired_register
        from carereach.messaging.runtime import scheduler_task_register
        from carereach.messaging.services.outbox import (
            messages_cancel_for_version,
            notice_enqueue,
        )

        notice_sender_register(notice_enqueue)
        # Mail services' bounces, complaints and unsubscribes, normalised by django-anymail.
        from carereach.messaging.email_hooks import email_tracking_connect

        email_tracking_connect()
        # The daily letter batch for the mail house (yesterday's letters, once).
        from carereach.messaging.services.letters import letters_batch_due

        scheduler_task_register(letters_batch_due)
        # Withdrawn or expired content: what still waits to be sent with it is cancelled.
        content_retired_register(messages_cancel_for_version)
        # Sign-up attempts are counted a day per network address, then forgotten.
        scheduler_task_register(signup_attempts_prune)
