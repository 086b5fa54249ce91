from django.db import migrations


class Migration(migrations.Migration):
    """Pacing by each sender's next free slot (spaced sends) instead of a bucket of tokens."""

    dependencies = [("messaging", "0007_message_cascade")]

    operations = [
        migrations.RemoveField(model_name="senderbudget", name="tokens"),
        migrations.RenameField(model_name="senderbudget", old_name="refilled_at", new_name="free_at"),
    ]
