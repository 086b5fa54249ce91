"""What journeys say themselves (answers to C and R), and reading those answers. Pure.

Reminder texts are approved content; these short answers acknowledge what the person just
asked for, so they carry no marketing and need no review (like consent's confirmations).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Answer(StrEnum):
    CONFIRM = "confirm"  # C, "yes confirm", "sí", "confirmo", ...
    RESCHEDULE = "reschedule"  # R, "reschedule", "reprogramar", "cambiar", ...


# Whole-message matches after folding (lower case, accents and punctuation removed).
CONFIRM_MESSAGES = frozenset(
    {
        "c", "confirm", "confirmed", "yes confirm", "yes c", "confirm yes", "i confirm",
        "ok confirm", "yes i confirm", "yes i will be there", "i will be there", "see you then",
        "si", "si confirmo", "confirmo", "confirmado", "confirmar", "si c", "ahi estare",
        "alli estare",
    }
)  # fmt: skip
RESCHEDULE_MESSAGES = frozenset(
    {
        "r", "reschedule", "please reschedule", "i need to reschedule", "change", "change time",
        "new time", "another time", "reprogramar", "reprogramo", "cambiar", "cambio",
        "cambiar cita", "otra fecha", "otra hora", "necesito cambiar", "quiero cambiar",
    }
)  # fmt: skip
CONFIRM_WORDS = frozenset({"confirm", "confirmed", "confirmo", "confirmado", "confirmar"})
RESCHEDULE_WORDS = frozenset(
    {"reschedule", "rescheduling", "reprogramar", "reprogramo", "cambiar", "cambio"}
)
_NOT_WORDS = re.compile(r"[^a-z0-9 ]+")
# A negation anywhere makes a free-text answer one for a person ("can't confirm").
_NEGATION = re.compile(r"\b(no|not|never|cannot|can ?t|don ?t|won ?t|couldn ?t|nunca)\b")


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed: "¡Sí!" -> "si"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORDS.sub(" ", plain).split())


def answer_read(text: str) -> Answer | None:
    """C or R in any of their usual forms, English or Spanish; None for anything else (a person
    reads it in the inbox)."""
    folded = fold(text)
    if folded in CONFIRM_MESSAGES:
        return Answer.CONFIRM
    if folded in RESCHEDULE_MESSAGES:
        return Answer.RESCHEDULE
    words = set(folded.split())
    confirm, reschedule = bool(words & CONFIRM_WORDS), bool(words & RESCHEDULE_WORDS)
    if _NEGATION.search(folded):
        return None
    if confirm and not reschedule:
        return Answer.CONFIRM
    if reschedule and not confirm:
        return Answer.RESCHEDULE
    return None


def answer_text(answer: Answer, *, language: str, when: str, provider_phone: str) -> str:
    """The acknowledgment for one answer, in the person's language."""
    if language == "es":
        if answer == Answer.CONFIRM:
            return f"Gracias, su cita del {when} está confirmada."
        return (
            "Entendido: le llamaremos para cambiar su cita. "
            f"También puede llamar al {provider_phone}."
        )
    if answer == Answer.CONFIRM:
        return f"Thank you, your appointment on {when} is confirmed."
    return f"Got it: we will call you to find a new time. You can also call {provider_phone}."


def gone_text(*, language: str, provider_phone: str) -> str:
    """The answer to C or R for a reminder whose appointment no longer stands."""
    call = f" Please call {provider_phone}." if provider_phone else ""
    if language == "es":
        llame = f" Llame al {provider_phone}." if provider_phone else ""
        return (
            "Ese recordatorio ya no está vigente: la cita fue cancelada, cambiada o ya pasó."
            + llame
        )
    return (
        "That reminder is no longer current: the appointment was cancelled, moved or has passed."
        + call
    )


def medication_words(language: str) -> str:
    """What a reminder says instead of the drug's name when the patient has not accepted PHI."""
    return "su medicamento" if language == "es" else "your medication"
