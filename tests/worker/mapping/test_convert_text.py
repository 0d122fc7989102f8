from __future__ import annotations

from typing import Any

import pytest

from worker.mapping.convert_text import (
    SKIP,
    ValueRejected,
    gender_converter,
    list_converter,
    to_boolean,
    to_integer,
    to_number,
    to_string,
)


def rejection(convert: Any, value: Any) -> str:
    with pytest.raises(ValueRejected) as raised:
        convert(value)
    return raised.value.reason


def test_strings_pass_up_to_255_characters() -> None:
    assert to_string("Zoë Ångström-Nguyễn") == "Zoë Ångström-Nguyễn"
    assert to_string("x" * 255) == "x" * 255
    assert rejection(to_string, "x" * 256) == "longer than 255 characters"


def test_strings_accept_unquoted_numbers_but_not_structures() -> None:
    assert to_string(42) == "42"
    assert rejection(to_string, {"a": 1}) == "not a text value"
    assert rejection(to_string, ["a"]) == "not a text value"


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("-3", -3), ("+7", 7), ("2.5", 2.5), (".5", 0.5), ("1e3", 1000.0), (12, 12), (1.25, 1.25)],
)
def test_numbers_read_komo_text(text: Any, number: float) -> None:
    assert to_number(text) == number
    assert type(to_number(text)) is type(number)


@pytest.mark.parametrize("text", ["one", "1,000", "1.2.3", "nan", "inf", "1e999", "", "0x10", True])
def test_what_is_not_a_number_is_rejected(text: Any) -> None:
    assert "number" in rejection(to_number, text)


def test_huge_integers_become_floats_rather_than_lose_digits_silently() -> None:
    assert to_number(str(2**60)) == float(2**60)


TOO_LARGE_FOR_A_NUMBER = [
    pytest.param("9" * 400, id="400-digits"),
    pytest.param("-" + "9" * 400, id="minus-400-digits"),
    pytest.param("1" + "0" * 5000, id="more-digits-than-python-converts"),
    pytest.param(10**400, id="400-digit-int"),
    pytest.param("1e999", id="exponent"),
    pytest.param("-1E99999999999", id="huge-exponent"),
    pytest.param(float("inf"), id="infinity"),
]


@pytest.mark.parametrize("value", TOO_LARGE_FOR_A_NUMBER)
@pytest.mark.parametrize("convert", [to_number, to_integer])
def test_a_number_too_large_for_a_float_is_rejected_with_a_reason_never_raised(convert: Any, value: Any) -> None:
    assert rejection(convert, value) == "not a finite number"


def test_integers_refuse_fractions_and_overflow() -> None:
    assert to_integer("42") == 42
    assert to_integer("4.0") == 4
    assert rejection(to_integer, "4.5") == "not a whole number"
    assert rejection(to_integer, str(2**60)) == "too large for an integer"


@pytest.mark.parametrize("word", ["true", "TRUE", "yes", "Yes", "1", "on", "y", 1, True])
def test_true_words(word: Any) -> None:
    assert to_boolean(word) is True


@pytest.mark.parametrize("word", ["false", "False", "no", "0", "off", "n", 0, False])
def test_false_words(word: Any) -> None:
    assert to_boolean(word) is False


@pytest.mark.parametrize("word", ["maybe", "2", "", 2, None, []])
def test_other_words_are_not_booleans(word: Any) -> None:
    assert rejection(to_boolean, word) == "not a yes/no value"


@pytest.mark.parametrize(
    ("word", "letter"),
    [("Male", "M"), ("f", "F"), ("Non-binary", "O"), ("other", "O"), ("N/A", "N"), ("Prefer not to say", "P")],
)
def test_gender_words_become_braze_letters(word: str, letter: str) -> None:
    assert gender_converter({})(word) == letter


def test_a_hub_can_add_its_own_gender_labels() -> None:
    convert = gender_converter({"Mr": "M", "Ms": "F"})
    assert convert("mr") == "M"
    assert convert("Ms") == "F"
    assert rejection(gender_converter({}), "Mr") == "not a known gender word"


def test_lists_split_trim_and_drop_repeats() -> None:
    convert = list_converter(mode="set", separator=",", max_items=25)
    assert convert("footy, cricket ,, footy") == ["footy", "cricket"]
    assert convert('["footy", "tennis", 3]') == ["footy", "tennis", "3"]
    assert convert(["a", " b "]) == ["a", "b"]


def test_add_mode_adds_to_the_braze_array() -> None:
    assert list_converter(mode="add", separator="|", max_items=25)("a|b") == {"add": ["a", "b"]}


def test_an_empty_list_sends_nothing() -> None:
    assert list_converter(mode="set", separator=",", max_items=25)(" , ") is SKIP


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("[not json", "not a valid JSON list"),
        ({"a": 1}, "not a list"),
        ('["a", {"b": 1}]', "holds an item that is not text"),
        ([["nested"]], "holds an item that is not text"),
        (["x" * 256], "an item is longer than 255 characters"),
        (",".join(str(n) for n in range(26)), "more than 25 items"),
    ],
)
def test_lists_that_braze_would_refuse_are_rejected(value: Any, reason: str) -> None:
    assert rejection(list_converter(mode="set", separator=",", max_items=25), value) == reason
