from __future__ import annotations

import pytest

from worker.dlq.mask import looks_like_phone, mask, mask_email, mask_phone, mask_text


def test_emails_are_masked_wherever_they_appear() -> None:
    assert mask_email("joe.bloggs@example.com") == "j***@e***.com"
    assert mask_email("Invalid email address 'joe@bloggs.co.uk' given") == "Invalid email address 'j***@b***.uk' given"


def test_phone_numbers_keep_only_their_last_two_digits() -> None:
    assert mask_phone("+61 412 345 678") == "+** *** *** *78"
    assert looks_like_phone("0412345678")
    assert looks_like_phone("+1 (555) 010-9999")


def test_dates_ids_and_short_numbers_are_not_phone_numbers() -> None:
    for text in ("2026-11-29", "29/11/2026", "1", "2000", "54e635de-92f5-4419-a498-5f69323db34c", "12345"):
        assert not looks_like_phone(text), text


def test_a_body_is_masked_by_value_and_by_phone_like_keys() -> None:
    body = {
        "email": "joe@bloggs.com",
        "contact": "joe@bloggs.com",
        "mobile": "0412 345 678",
        "home_phone": 61412345678,
        "other": "+61412345678",
        "first_name": "Joe",
        "score": "1",
        "date_of_birth": "1990-01-31",
        "answers": ["a", "jane@doe.org"],
    }
    masked = mask(body)
    assert masked == {
        "email": "j***@b***.com",
        "contact": "j***@b***.com",
        "mobile": "**** *** *78",
        "home_phone": "*********78",
        "other": "+*********78",
        "first_name": "Joe",
        "score": "1",
        "date_of_birth": "1990-01-31",
        "answers": ["a", "j***@d***.org"],
    }
    assert "joe@bloggs.com" in str(body)  # the original is untouched


UNICODE_CONTACTS = [
    pytest.param("Invalid email address 'jöe@bücher.de'", "Invalid email address 'j***@b***.de'", id="umlauts"),
    pytest.param("用户@例子.广告 refused", "用***@例***.广告 refused", id="chinese"),
    pytest.param("адрес: иван@пример.рф.", "адрес: и***@п***.рф.", id="cyrillic-then-full-stop"),
    pytest.param("not an address: joe@bloggs", "not an address: j***@***", id="invalid-still-masked"),
    pytest.param("call +61 412 345 678 now", "call +** *** *** *78 now", id="phone-in-text"),
    pytest.param("tel=+44 20 7946 0958;", "tel=+** ** **** **58;", id="uk-phone"),
    pytest.param("＋６１ ４１２ ３４５ ６７８ (fullwidth)", "＋** *** *** *７８ (fullwidth)", id="fullwidth-digits"),
    pytest.param("order 2026-11-29 for 42 items", "order 2026-11-29 for 42 items", id="no-contact"),
]


@pytest.mark.parametrize(("text", "masked"), UNICODE_CONTACTS)
def test_unicode_emails_and_phone_numbers_inside_a_text_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_an_error_detail_header_is_masked_with_the_rest_of_a_letter() -> None:
    record = {"headers": {"x-error-detail": "Braze: 'zoë@exämple.com' / +61 412 345 678 invalid"}}
    assert mask(record) == {"headers": {"x-error-detail": "Braze: 'z***@e***.com' / +** *** *** *78 invalid"}}


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_text("joe@bloggs.com, jöe@bücher.de, +61 412 345 678")
    assert mask_text(once) == once == "j***@b***.com, j***@b***.de, +** *** *** *78"
