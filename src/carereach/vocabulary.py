"""Vocabularies every floor shares: channels and address uses.

They live at the ground so that audience, consent, content and messaging name a channel the same
way without importing one another.
"""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    SMS = "sms", "Text message"  # SMS/MMS to a mobile number
    EMAIL = "email", "Email"  # to an e-mail address
    VOICE = "voice", "Voice call"  # text-to-speech call to any phone
    LETTER = "letter", "Letter"  # printed and mailed to a postal address


class AddressUse(models.TextChoices):
    HOME = "home"  # personal address
    WORK = "work"  # practice, office or employer
    MOBILE = "mobile"  # a phone carried by the person (FHIR ContactPoint use)
