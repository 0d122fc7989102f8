"""The example objects of Braze's documentation (``/users/track``, the user attributes, event and
purchase object pages), as fixtures: the simulator must accept every one of them.

Where a documented example is not valid JSON (``"app_id": App Identifier``) a string stands in.
"""

from __future__ import annotations

from typing import Any

#: "Update a user profile by email address"
TRACK_BY_EMAIL: dict[str, Any] = {
    "attributes": [
        {
            "email": "test@braze.com",
            "string_attribute": "fruit",
            "boolean_attribute_1": True,
            "integer_attribute": 26,
            "array_attribute": ["banana", "apple"],
        }
    ],
    "events": [
        {
            "email": "test@braze.com",
            "app_id": "your_app_identifier",
            "name": "rented_movie",
            "time": "2022-12-06T19:20:45+01:00",
            "properties": {
                "release": {"studio": "FilmStudio", "year": "2022"},
                "cast": [{"name": "Actor1"}, {"name": "Actor2"}],
            },
        },
        {
            "user_alias": {"alias_name": "device123", "alias_label": "my_device_identifier"},
            "app_id": "your_app_identifier",
            "name": "rented_movie",
            "time": "2013-07-16T19:20:50+01:00",
        },
    ],
    "purchases": [
        {
            "email": "test@braze.com",
            "app_id": "your_app_identifier",
            "product_id": "product_name",
            "currency": "USD",
            "price": 12.12,
            "quantity": 6,
            "time": "2017-05-12T18:47:12Z",
            "properties": {
                "color": "red",
                "monogram": "ABC",
                "checkout_duration": 180,
                "size": "Large",
                "brand": "Backpack Locker",
            },
        }
    ],
}

#: "Update a user profile by phone number"
TRACK_BY_PHONE: dict[str, Any] = {
    "attributes": [
        {
            "phone": "+15043277269",
            "string_attribute": "fruit",
            "boolean_attribute_1": True,
            "integer_attribute": 25,
            "array_attribute": ["banana", "apple"],
        }
    ]
}

#: "Set subscription groups"
TRACK_SUBSCRIPTION_GROUPS: dict[str, Any] = {
    "attributes": [
        {
            "external_id": "user_identifier",
            "email": "example@email.com",
            "email_subscribe": "subscribed",
            "subscription_groups": [
                {"subscription_group_id": "subscription_group_identifier_1", "subscription_state": "unsubscribed"},
                {"subscription_group_id": "subscription_group_identifier_2", "subscription_state": "subscribed"},
                {"subscription_group_id": "subscription_group_identifier_3", "subscription_state": "subscribed"},
            ],
        }
    ]
}

#: "Example request to create an alias-only user"
TRACK_ALIAS_ONLY: dict[str, Any] = {
    "attributes": [
        {
            "_update_existing_only": False,
            "user_alias": {"alias_name": "example_name", "alias_label": "example_label"},
            "email": "email@example.com",
        }
    ]
}

#: the user attributes object page's example request
USER_ATTRIBUTES_EXAMPLE: list[dict[str, Any]] = [
    {
        "external_id": "user1",
        "first_name": "Jon",
        "has_profile_picture": True,
        "dob": "1988-02-14",
        "music_videos_favorited": {"add": ["calvinharris-summer"], "remove": ["nickiminaj-anaconda"]},
    },
    {
        "external_id": "user2",
        "first_name": "Jill",
        "has_profile_picture": False,
        "push_tokens": [{"app_id": "App Identifier", "token": "abcd", "device_id": "optional_field_value"}],
    },
    {
        "user_alias": {"alias_name": "device123", "alias_label": "my_device_identifier"},
        "first_name": "Alice",
        "has_profile_picture": False,
    },
]

#: the event object page's example request (note the "+1:00" style offsets Braze's pages also use)
EVENTS_EXAMPLE: list[dict[str, Any]] = [
    {"external_id": "user1", "app_id": "your-app-id", "name": "watched_trailer", "time": "2013-07-16T19:20:30+01:00"},
    {
        "external_id": "user1",
        "app_id": "your-app-id",
        "name": "rented_movie",
        "time": "2013-07-16T19:20:45+01:00",
        "properties": {"movie": "The Sad Egg", "director": "Dan Alexander"},
    },
    {
        "user_alias": {"alias_name": "device123", "alias_label": "my_device_identifier"},
        "app_id": "your-app-id",
        "name": "watched_trailer",
        "time": "2013-07-16T19:20:50+1:00",
    },
]

#: the purchase object page's example request
PURCHASES_EXAMPLE: list[dict[str, Any]] = [
    {
        "external_id": "user1",
        "app_id": "11ae5b4b-2445-4440-a04f-bf537764c9ad",
        "product_id": "backpack",
        "currency": "USD",
        "price": 40.00,
        "time": "2013-07-16T19:20:30+01:00",
        "properties": {"color": "red", "monogram": "ABC", "checkout_duration": 180, "size": "Large"},
    },
    {
        "external_id": "user1",
        "app_id": "11ae5b4b-2445-4440-a04f-bf537764c9ad",
        "product_id": "pencil",
        "currency": "USD",
        "price": 2.00,
        "time": "2013-07-17T19:20:20+01:00",
        "properties": {"number": 2, "sharpened": True},
    },
    {
        "user_alias": {"alias_name": "device123", "alias_label": "my_device_identifier"},
        "app_id": "11ae5b4b-2445-4440-a04f-bf537764c9ad",
        "product_id": "pen",
        "currency": "USD",
        "price": 2.50,
        "time": "2013-07-17T19:20:20+01:00",
        "properties": {"color": "blue"},
    },
]
