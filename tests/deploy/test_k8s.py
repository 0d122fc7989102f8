"""deploy/k8s/: every manifest valid for Kubernetes (and KEDA), and naming what the code uses."""

from __future__ import annotations

import copy
import math
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from komo_braze.settings import load_settings
from komo_braze.topology import DEFAULT_WORKSPACE, Names
from tests.deploy.keda_schema import SCHEMAS, validate_keda
from tests.deploy.manifests import (
    all_documents,
    bind_of,
    container_port,
    containers,
    env_names,
    manifest_files,
    of_kind,
    plain_env,
    producer_routes,
    secret_refs,
    settings_of,
    settings_variables,
    worker_routes,
)
from worker.mapping import MappingConfig

KUBERNETES_VERSION = "1.29.0"  # the oldest version still supported by its makers when this was written
#: Braze's /users/track limit per workspace (requests per second), and the round trip the arithmetic assumes
BRAZE_REQUESTS_PER_S = 3000 / 3
ASSUMED_ROUND_TRIP_S = 0.1


def validate(document: dict[str, Any]) -> None:
    if document["kind"] in SCHEMAS:
        validate_keda(document)
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def mapping() -> MappingConfig:
    (config_map,) = of_kind("ConfigMap").values()
    return MappingConfig.from_text(config_map["data"]["mapping.yaml"], "komo-braze-mapping")


def workers() -> dict[str, dict[str, Any]]:
    """The worker Deployments, by the workspace their command names."""
    by_workspace = {}
    for deployment in of_kind("Deployment").values():
        args = containers(deployment)[0]["args"]
        if args[0] == "worker":
            assert args[1:-1] == ["--workspace"], args
            by_workspace[args[2]] = deployment
    return by_workspace


def test_every_manifest_is_valid_kubernetes_or_keda() -> None:
    documents = all_documents()
    assert len(manifest_files()) == 6
    assert sorted(doc["kind"] for doc in documents) == sorted(
        ["ConfigMap", "Secret", "Service", "TriggerAuthentication"]
        + ["Deployment", "PodDisruptionBudget"] * 3
        + ["ScaledObject"] * 2
    )
    for document in documents:
        validate(document)


def test_validation_refuses_a_misspelt_field_and_keda_s_own_rules() -> None:
    deployment = copy.deepcopy(of_kind("Deployment")["komo-braze-producer"])
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSecond"] = 45
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = of_kind("ScaledObject")["komo-braze-worker-default"]
    misspelt = copy.deepcopy(scaled)
    misspelt["spec"]["triggers"][0]["metadata"]["queueNme"] = misspelt["spec"]["triggers"][0]["metadata"].pop(
        "queueName"
    )
    with pytest.raises(jsonschema.ValidationError, match="queueNme"):
        validate(misspelt)
    inverted = copy.deepcopy(scaled)
    inverted["spec"]["minReplicaCount"] = inverted["spec"]["maxReplicaCount"] + 1
    with pytest.raises(ValueError, match="minReplicaCount must be less than or equal to maxReplicaCount"):
        validate(inverted)


def test_one_worker_deployment_and_scaled_object_per_workspace_of_the_mapping() -> None:
    workspaces = {DEFAULT_WORKSPACE, *mapping().workspaces}
    assert set(workers()) == workspaces == {"default", "client_b"}
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in of_kind("ScaledObject").values()}
    assert set(scaled) == {deployment["metadata"]["name"] for deployment in workers().values()}
    for workspace, deployment in workers().items():
        (trigger,) = scaled[deployment["metadata"]["name"]]["spec"]["triggers"]
        prefix = settings_of(plain_env(containers(deployment)[0])).prefix
        assert trigger["metadata"]["queueName"] == Names(prefix).work_queue(workspace)
        assert trigger["authenticationRef"]["name"] in of_kind("TriggerAuthentication")


def test_workers_that_may_run_side_by_side_share_the_state_store_of_the_secret() -> None:
    """KEDA may start several replicas of a worker: per-user order, one event per submission and the shared
    limit hold across them only through the state store, whose URL (with its password) is a secret."""
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in of_kind("ScaledObject").values()}
    for deployment in workers().values():
        assert scaled[deployment["metadata"]["name"]]["spec"]["maxReplicaCount"] > 1
        (container,) = containers(deployment)
        assert secret_refs(container).get("KOMO_BRAZE_STATE_URL") == ("komo-braze", "KOMO_BRAZE_STATE_URL")
        assert "KOMO_BRAZE_STATE_URL" not in plain_env(container)
    (producer,) = (d for d in of_kind("Deployment").values() if containers(d)[0]["args"][0] == "producer")
    assert "KOMO_BRAZE_STATE_URL" not in env_names(containers(producer)[0])  # the intake keeps no state


def test_max_replicas_are_braze_s_limit_over_what_one_worker_keeps_in_flight() -> None:
    for deployment in workers().values():
        settings = settings_of(plain_env(containers(deployment)[0]))
        per_worker = settings.braze_max_in_flight / ASSUMED_ROUND_TRIP_S
        expected = math.ceil(BRAZE_REQUESTS_PER_S / per_worker)
        (scaled,) = (
            doc
            for doc in of_kind("ScaledObject").values()
            if doc["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        )
        assert scaled["spec"]["maxReplicaCount"] == expected == 13


def test_termination_grace_is_above_the_shutdown_grace() -> None:
    for deployment in of_kind("Deployment").values():
        settings = settings_of(plain_env(containers(deployment)[0]))
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > settings.shutdown_grace_s


def test_variables_are_the_code_s_settings_or_keys_the_mapping_names() -> None:
    api_key_variables = {spec.api_key_env for spec in mapping().workspaces.values() if spec.api_key_env}
    assert api_key_variables == {"CLIENT_B_BRAZE_KEY"}
    known = settings_variables() | api_key_variables
    for deployment in of_kind("Deployment").values():
        for container in containers(deployment):
            assert set(env_names(container)) <= known, deployment["metadata"]["name"]
            settings_of(plain_env(container))  # every value given is one the settings accept


def test_secrets_are_referenced_by_keys_the_template_has_and_the_template_holds_no_value() -> None:
    (secret,) = of_kind("Secret").values()
    assert secret["stringData"]
    assert set(secret["stringData"].values()) == {""}
    referenced = {
        ref
        for deployment in of_kind("Deployment").values()
        for c in containers(deployment)
        for ref in secret_refs(c).values()
    }
    referenced |= {
        (ref["name"], ref["key"])
        for auth in of_kind("TriggerAuthentication").values()
        for ref in auth["spec"]["secretTargetRef"]
    }
    assert referenced == {(secret["metadata"]["name"], key) for key in secret["stringData"]}


def test_probes_and_ports_are_the_routes_and_binds_of_the_code() -> None:
    intake_routes, admin_routes = producer_routes()
    assert ("POST", "/v1/submissions") in intake_routes
    assert {("GET", "/readyz"), ("GET", "/metrics")} <= admin_routes - intake_routes
    for name, deployment in of_kind("Deployment").items():
        (container,) = containers(deployment)
        env = plain_env(container)
        is_producer = container["args"] == ["producer"]
        routes = admin_routes if is_producer else worker_routes()
        bind = bind_of(env, "KOMO_BRAZE_PRODUCER_ADMIN_BIND" if is_producer else "KOMO_BRAZE_WORKER_METRICS_BIND")
        assert bind.host == "0.0.0.0", name  # the kubelet and Prometheus reach the pod's address
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            assert container[probe]["httpGet"]["path"] == path
            assert ("GET", path) in routes
            assert container_port(container, container[probe]["httpGet"]["port"]) == bind.port, (name, probe)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == bind.port
        assert ("GET", annotations["prometheus.io/path"]) in routes


def test_the_service_exposes_the_intake_port_only() -> None:
    producer = of_kind("Deployment")["komo-braze-producer"]
    (container,) = containers(producer)
    (service,) = of_kind("Service").values()
    assert service["spec"]["selector"].items() <= producer["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert (
        container_port(container, port["targetPort"]) == bind_of(plain_env(container), "KOMO_BRAZE_PRODUCER_BIND").port
    )


def test_each_disruption_budget_selects_the_pods_of_one_deployment() -> None:
    deployments = of_kind("Deployment")
    for name, budget in of_kind("PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"] == deployments[name]["spec"]["selector"]["matchLabels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        others = [d for other, d in deployments.items() if other != name]
        for other in others:
            other_labels = other["spec"]["template"]["metadata"]["labels"]
            assert not budget["spec"]["selector"]["matchLabels"].items() <= other_labels.items()


def test_workers_read_the_mapping_of_the_config_map() -> None:
    (config_map,) = of_kind("ConfigMap").values()
    for deployment in workers().values():
        (container,) = containers(deployment)
        mapping_path = settings_of(plain_env(container)).mapping
        assert mapping_path is not None
        (mount,) = (m for m in container["volumeMounts"] if str(mapping_path).startswith(m["mountPath"] + "/"))
        (volume,) = (v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
        assert volume["configMap"]["name"] == config_map["metadata"]["name"]
        assert mapping_path.name in config_map["data"]


def test_a_worker_needs_only_the_braze_settings_of_its_workspace() -> None:
    for workspace, deployment in workers().items():
        names = set(env_names(containers(deployment)[0]))
        gives_default = {"KOMO_BRAZE_BRAZE_URL", "KOMO_BRAZE_BRAZE_API_KEY"} <= names
        assert gives_default == (workspace == DEFAULT_WORKSPACE)
        assert ("CLIENT_B_BRAZE_KEY" in names) == (workspace == "client_b")
    assert load_settings().braze_max_in_flight == 8  # the arithmetic of the ScaledObjects' comment
