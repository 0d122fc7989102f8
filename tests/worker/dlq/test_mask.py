from __future__ import annotations

from worker.dlq.mask import looks_like_phone, mask, mask_email, mask_phone


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
