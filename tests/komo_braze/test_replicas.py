from __future__ import annotations

import pytest
from aiohttp import web

from komo_braze.http import start_site
from komo_braze.replicas import ClusterView, ManagementUnavailable, Replicas, cluster_view, durability_note
from tests.broker import BrokerKit
from tests.own_broker import free_port


def replicas(members: int, online: int | None = None) -> Replicas:
    nodes = tuple(f"rabbit@node-{n}" for n in range(1, members + 1))
    return Replicas(nodes, nodes[: members if online is None else online], nodes[0])


def test_a_majority_of_replicas_is_what_a_queue_needs_to_keep_working() -> None:
    assert [replicas(n).tolerates for n in (1, 2, 3, 4, 5)] == [0, 0, 1, 1, 2]
    assert replicas(3, online=2).describe() == "2/3 online, leader rabbit@node-1"


def test_a_single_node_is_explained_as_surviving_a_restart_but_not_the_loss_of_its_machine() -> None:
    note = durability_note(ClusterView(("rabbit@solo",), {"komo.braze.default": replicas(1)}))
    assert note.startswith("one node (rabbit@solo): a quorum queue on one node keeps every confirmed message")
    assert "losing that machine or its disk loses them" in note


def test_three_replicas_on_three_nodes_survive_one_loss() -> None:
    view = ClusterView(("a", "b", "c"), {"q1": replicas(3), "q2": replicas(3)})
    assert durability_note(view).startswith("3 nodes; every queue survives the loss of 1 node(s)")


def test_a_queue_with_two_replicas_on_a_cluster_is_called_out() -> None:
    view = ClusterView(("a", "b", "c"), {"q1": replicas(3), "q2": replicas(2)})
    assert durability_note(view) == "3 nodes, but a queue has fewer than 3 replicas: losing one of its nodes stops it"


def test_without_the_management_api_the_replicas_are_unknown_and_the_single_node_caveat_stands() -> None:
    note = durability_note(None)
    assert note.startswith("replicas unknown (see `rabbitmq-queues quorum_status QUEUE` on a node)")


async def test_asking_without_a_management_url_says_which_setting_is_missing(broker: BrokerKit) -> None:
    with pytest.raises(ManagementUnavailable, match="KOMO_BRAZE_MANAGEMENT_URL is not set"):
        await cluster_view(broker.settings(), ["q"])


async def test_a_management_api_that_does_not_answer_is_one_line_without_credentials(broker: BrokerKit) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = broker.settings(management_url=url, amqp_url="amqp://ops:s3cret@localhost:5672/")
    with pytest.raises(ManagementUnavailable, match="did not answer") as raised:
        await cluster_view(settings, ["q"])
    assert "s3cret" not in str(raised.value)
    assert url in str(raised.value)


async def test_another_service_at_the_management_url_is_one_line_not_a_crash(broker: BrokerKit) -> None:
    async def not_rabbitmq(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", not_rabbitmq)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        settings = broker.settings(management_url=f"http://127.0.0.1:{port}")
        with pytest.raises(ManagementUnavailable, match="answered, but not as RabbitMQ's does"):
            await cluster_view(settings, ["q"])
    finally:
        await runner.cleanup()
