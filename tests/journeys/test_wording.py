"""Reading C and R in their usual English and Spanish forms (pure: no database)."""

from __future__ import annotations

import pytest

from carereach.journeys.wording import Answer, answer_read, answer_text, fold, gone_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C", Answer.CONFIRM),
        (" c. ", Answer.CONFIRM),
        ("yes confirm", Answer.CONFIRM),
        ("Yes, I confirm!", Answer.CONFIRM),
        ("Confirmed", Answer.CONFIRM),
        ("Sí", Answer.CONFIRM),
        ("sí confirmo", Answer.CONFIRM),
        ("CONFIRMO", Answer.CONFIRM),
        ("ahí estaré", Answer.CONFIRM),
        ("R", Answer.RESCHEDULE),
        ("r!", Answer.RESCHEDULE),
        ("Reschedule please", Answer.RESCHEDULE),
        ("I need to reschedule", Answer.RESCHEDULE),
        ("reprogramar", Answer.RESCHEDULE),
        ("Cambiar", Answer.RESCHEDULE),
        ("cambiar cita", Answer.RESCHEDULE),
        ("necesito cambiar", Answer.RESCHEDULE),
        ("sí, reprogramar", Answer.RESCHEDULE),
        # Anything else is for a person.
        ("can't confirm, I'm sick", None),
        ("c u later", None),
        ("what time?", None),
        ("confirm or reschedule?", None),
        ("", None),
    ],
)
def test_answer_read(text: str, expected: Answer | None) -> None:
    assert answer_read(text) == expected


def test_fold() -> None:
    assert fold("¡Sí, CONFIRMO!") == "si confirmo"


def test_answers_in_the_persons_language() -> None:
    when = "Fri, Nov 27 at 12:00 PM EST"
    assert answer_text(Answer.CONFIRM, language="en", when=when, provider_phone="x") == (
        f"Thank you, your appointment on {when} is confirmed."
    )
    assert answer_text(Answer.CONFIRM, language="es", when="vie 27", provider_phone="x") == (
        "Gracias, su cita del vie 27 está confirmada."
    )
    assert "555-0100" in answer_text(
        Answer.RESCHEDULE, language="en", when=when, provider_phone="555-0100"
    )
    assert gone_text(language="es", provider_phone="555-0100").endswith("Llame al 555-0100.")
