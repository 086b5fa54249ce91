"""The answer parser: one number however it is written, judged against the survey's scale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carereach.engagement.answers import Answer, Verdict, _fold, answer_parse

ENGLISH = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
SPANISH = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
]

padding = st.sampled_from(["", " ", "  ", "\n", "\t"])
ending = st.sampled_from(["", "!", ".", "!!", "?", " :)", ", thanks", " gracias"])


def spelled(n: int, draw_case: str, spanish: bool) -> str:
    word = (SPANISH if spanish else ENGLISH)[n]
    return {"upper": word.upper(), "title": word.title(), "lower": word}[draw_case]


@st.composite
def written(draw: st.DrawFn, n: int) -> str:
    style = draw(st.sampled_from(["digits", "slash", "out_of", "de", "word", "es_word"]))
    case = draw(st.sampled_from(["upper", "title", "lower"]))
    core = {
        "digits": str(n),
        "slash": f"{n}/10",
        "out_of": f"{n} out of 10",
        "de": f"{n} de 10",
        "word": spelled(n, case, spanish=False),
        "es_word": spelled(n, case, spanish=True),
    }[style]
    return draw(padding) + core + draw(ending) + draw(padding)


@given(st.integers(0, 10).flatmap(lambda n: st.tuples(st.just(n), written(n))))
def test_any_way_of_writing_a_score_in_the_scale_reads_as_that_score(pair: tuple[int, str]) -> None:
    n, text = pair
    assert answer_parse(text, low=0, high=10) == Answer(Verdict.OK, n)


@given(st.integers(11, 100_000))
def test_a_number_above_the_scale_is_out_of_range(n: int) -> None:
    assert answer_parse(f"{n}", low=0, high=10) == Answer(Verdict.OUT_OF_RANGE, n)


@given(st.integers(0, 10).flatmap(lambda n: st.tuples(st.just(n), written(n))))
def test_satisfaction_scale_accepts_one_to_five_only(pair: tuple[int, str]) -> None:
    n, text = pair
    verdict = answer_parse(text, low=1, high=5).verdict
    assert verdict == (Verdict.OK if 1 <= n <= 5 else Verdict.OUT_OF_RANGE)


@given(st.text(max_size=300))
def test_any_text_gets_a_verdict_and_never_raises(text: str) -> None:
    answer = answer_parse(text, low=0, high=10)
    assert answer.verdict in set(Verdict)
    assert (answer.value is None) == (answer.verdict == Verdict.UNREADABLE)


@given(st.text(alphabet=st.characters(exclude_categories=("Nd",)), max_size=50))
def test_text_without_digits_or_number_words_is_unreadable(text: str) -> None:
    words = set(ENGLISH + SPANISH + ["una", "eleven"])
    folded = _fold(text)  # superscript and full-width digits fold to digits: numbers too
    tokens = set("".join(c if c.isalpha() else " " for c in folded).split())
    if tokens & words or any(c in "0123456789" for c in folded):
        return
    assert answer_parse(text, low=0, high=10).verdict == Verdict.UNREADABLE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9", Answer(Verdict.OK, 9)),
        ("nine", Answer(Verdict.OK, 9)),
        ("9/10", Answer(Verdict.OK, 9)),
        ("Nine!", Answer(Verdict.OK, 9)),
        ("NUEVE", Answer(Verdict.OK, 9)),
        ("I'd say 8", Answer(Verdict.OK, 8)),
        ("10/10 would recommend", Answer(Verdict.OK, 10)),
        ("ten out of ten", Answer(Verdict.OK, 10)),
        ("Diez.", Answer(Verdict.OK, 10)),
        ("someone told me", Answer(Verdict.UNREADABLE)),
        ("7 or 8", Answer(Verdict.UNREADABLE)),
        ("7.5", Answer(Verdict.UNREADABLE)),
        ("8.0", Answer(Verdict.OK, 8)),
        ("great podcast", Answer(Verdict.UNREADABLE)),
        ("11", Answer(Verdict.OUT_OF_RANGE, 11)),
        ("", Answer(Verdict.UNREADABLE)),
    ],
)
def test_examples(text: str, expected: Answer) -> None:
    assert answer_parse(text, low=0, high=10) == expected
