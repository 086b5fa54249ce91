from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "carereach.channels"
    label = "channels"
    verbose_name = "Channels"
