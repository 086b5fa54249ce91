"""What engagement's own texts say: meeting invites and reminders, "an e-mail is waiting",
result-ready notices, survey questions and their follow-ups. Pure functions, English and Spanish.

Texts the program carries (not content a reviewer approved) stay short and factual: who sends it,
what to do, how to stop. A result-ready notice never names the test or the result (HIPAA minimum
necessary, shared/DOMAIN.md section 3): only that results are ready, and the portal link.
"""

from __future__ import annotations

from datetime import datetime

from carereach.content.rendering import format_appointment

STOP = {"en": "Reply STOP to opt out.", "es": "Responda STOP para cancelar."}


def _lang(language: str) -> str:
    return "es" if language.lower().startswith("es") else "en"


def stop_line(language: str) -> str:
    return STOP[_lang(language)]


def meeting_invite(
    *, program: str, rep: str, at: datetime, link: str, time_zone: str, language: str
) -> str:
    when = format_appointment(at, time_zone=time_zone, language=_lang(language))
    if _lang(language) == "es":
        return (
            f"{program}: {rep} le invita a una reunión virtual el {when}: {link} "
            f"Responda 1 para confirmar o 2 para cancelar. {stop_line(language)}"
        )
    return (
        f"{program}: {rep} invites you to a virtual meeting on {when}: {link} "
        f"Reply 1 to confirm, 2 to cancel. {stop_line(language)}"
    )


def meeting_reminder(
    *, program: str, rep: str, at: datetime, link: str, time_zone: str, language: str
) -> str:
    when = format_appointment(at, time_zone=time_zone, language=_lang(language))
    if _lang(language) == "es":
        return (
            f"{program}: recordatorio de su reunión virtual con {rep} el {when}: {link} "
            f"Responda 1 para confirmar o 2 para cancelar. {stop_line(language)}"
        )
    return (
        f"{program}: reminder of your virtual meeting with {rep} on {when}: {link} "
        f"Reply 1 to confirm, 2 to cancel. {stop_line(language)}"
    )


def meeting_answer(*, confirmed: bool, rep: str, language: str) -> str:
    if _lang(language) == "es":
        return (
            f"Gracias, su reunión con {rep} está confirmada."
            if confirmed
            else f"Reunión cancelada. {rep} se pondrá en contacto con usted."
        )
    return (
        f"Thank you, your meeting with {rep} is confirmed."
        if confirmed
        else f"Meeting cancelled. {rep} will be in touch."
    )


def meeting_unclear(language: str) -> str:
    if _lang(language) == "es":
        return "Responda 1 para confirmar la reunión o 2 para cancelarla."
    return "Please reply 1 to confirm the meeting or 2 to cancel it."


def waiting(*, program: str, rep: str, channel: str, language: str) -> str:
    """A text saying the rep's e-mail or voicemail is waiting (it never repeats its content)."""
    if _lang(language) == "es":
        what = "un correo electrónico" if channel == "email" else "un mensaje de voz"
        return f"{program}: {rep} le envió {what}. {stop_line(language)}"
    what = "an e-mail" if channel == "email" else "a voicemail"
    return f"{program}: {rep} sent you {what}. {stop_line(language)}"


def result_ready(*, program: str, portal_url: str, language: str, stop: bool) -> str:
    """No test name, no value, no date of the test: only that results wait in the portal."""
    tail = f" {stop_line(language)}" if stop else ""
    if _lang(language) == "es":
        return f"{program}: sus resultados están listos en el portal: {portal_url}{tail}"
    return f"{program}: your results are ready in the patient portal: {portal_url}{tail}"


def survey_question(*, program: str, question: str, low: int, high: int, language: str) -> str:
    if _lang(language) == "es":
        return f"{program}: {question} Responda con un número del {low} al {high}. " + stop_line(
            language
        )
    return f"{program}: {question} Reply with a number from {low} to {high}. " + stop_line(language)


def survey_reask(*, low: int, high: int, language: str) -> str:
    if _lang(language) == "es":
        return f"Perdón, no lo entendimos. Responda solo con un número del {low} al {high}."
    return f"Sorry, we did not get that. Please reply with just a number from {low} to {high}."


def survey_follow_up(*, question: str) -> str:
    return question


def survey_thanks(language: str) -> str:
    return "¡Gracias por su respuesta!" if _lang(language) == "es" else "Thank you for your answer!"
