from __future__ import annotations

from worker.merge import merge_attributes, merge_field


def test_the_later_submission_wins_each_field_it_sets() -> None:
    merged = merge_attributes(
        [
            {"external_id": "u1", "first_name": "Jo", "favourite_team": "Swans"},
            {"external_id": "u1", "favourite_team": "Cats"},
        ]
    )
    assert merged == {"external_id": "u1", "first_name": "Jo", "favourite_team": "Cats"}


def test_a_null_later_removes_the_attribute_as_braze_would() -> None:
    assert merge_attributes([{"team": "Swans"}, {"team": None}]) == {"team": None}


def test_array_additions_accumulate_and_stay_disjoint_from_removals() -> None:
    merged = merge_attributes(
        [
            {"interests": {"add": ["footy", "cricket"]}},
            {"interests": {"remove": ["cricket"], "add": ["tennis"]}},
            {"interests": {"add": ["cricket"]}},
        ]
    )
    assert merged == {"interests": {"add": ["footy", "tennis", "cricket"]}}


def test_a_removal_after_an_addition_cancels_it() -> None:
    merged = merge_attributes([{"interests": {"add": ["footy"]}}, {"interests": {"remove": ["footy"]}}])
    assert merged == {"interests": {"remove": ["footy"]}}


def test_an_edit_after_a_plain_list_edits_that_list() -> None:
    merged = merge_attributes([{"tags": ["a", "b"]}, {"tags": {"add": ["c"], "remove": ["a"]}}])
    assert merged == {"tags": ["b", "c"]}


def test_a_plain_list_after_an_edit_replaces_it() -> None:
    assert merge_attributes([{"tags": {"add": ["x"]}}, {"tags": ["y"]}]) == {"tags": ["y"]}


def test_increments_add_up() -> None:
    assert merge_attributes([{"n": {"inc": 1}}, {"n": {"inc": 2}}]) == {"n": {"inc": 3}}
    assert merge_field("n", 5, {"inc": 2}) == 7


def test_subscription_groups_merge_per_group_with_the_later_state_winning() -> None:
    merged = merge_attributes(
        [
            {
                "subscription_groups": [
                    {"subscription_group_id": "g1", "subscription_state": "subscribed"},
                    {"subscription_group_id": "g2", "subscription_state": "subscribed"},
                ]
            },
            {"subscription_groups": [{"subscription_group_id": "g1", "subscription_state": "unsubscribed"}]},
        ]
    )
    assert merged["subscription_groups"] == [
        {"subscription_group_id": "g2", "subscription_state": "subscribed"},
        {"subscription_group_id": "g1", "subscription_state": "unsubscribed"},
    ]


def test_one_submission_that_may_create_the_profile_is_enough() -> None:
    merged = merge_attributes([{"_update_existing_only": True}, {"_update_existing_only": False}])
    assert merged == {"_update_existing_only": False}
    assert merge_attributes([{"_update_existing_only": True}] * 2) == {"_update_existing_only": True}
