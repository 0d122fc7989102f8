"""The image, the compose file and its Prometheus and Grafana files name what the code uses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

from tests.deploy.compose import (
    ROOT,
    application_services,
    compose_config,
    container_ports,
    dockerfile_env,
    dockerfile_instructions,
    mounted,
)
from tests.deploy.manifests import bind_of, producer_routes, settings_of, settings_variables, worker_routes
from tests.monitoring.test_scrape import QUEUE_FAMILIES
from tests.prometheus import promtool
from worker.mapping import load_mapping


def test_the_image_installs_every_package_and_sets_only_known_variables() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        source.rstrip("/")
        for instruction, arguments in dockerfile_instructions()
        if instruction == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert packages | {"pyproject.toml", "README.md"} <= copied
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert {f"!{name}/" for name in packages} | {"!pyproject.toml", "!README.md"} <= set(ignore)
    env = {key: value for key, value in dockerfile_env().items() if key.startswith("KOMO_BRAZE_")}
    assert set(env) <= settings_variables()
    exposed = {
        int(port)
        for instruction, arguments in dockerfile_instructions()
        if instruction == "EXPOSE"
        for port in arguments.split()
    }
    assert exposed == {
        bind_of(env, "KOMO_BRAZE_PRODUCER_BIND").port,
        bind_of(env, "KOMO_BRAZE_WORKER_METRICS_BIND").port,
    }


def test_application_services_set_only_known_variables_and_mount_files_that_exist() -> None:
    config = compose_config()
    for name, service in application_services(config).items():
        env = {key: str(value) for key, value in service.get("environment", {}).items()}
        mapping_keys: set[str] = set()
        for target, source in mounted(service).items():
            assert source.is_file(), f"{name} mounts {source}"
            if env.get("KOMO_BRAZE_MAPPING") == target:
                mapping_keys = {
                    spec.api_key_env for spec in load_mapping(source).workspaces.values() if spec.api_key_env
                }
        assert set(env) <= settings_variables() | mapping_keys, name
        settings_of(env)  # every value given is one the settings accept
    for name, service in config["services"].items():
        for source in mounted(service).values():
            assert source.exists(), f"{name} mounts {source}, which the repository does not have"


def test_prometheus_scrapes_the_metrics_port_of_every_process() -> None:
    config = compose_config()
    services = config["services"]
    prometheus_files = mounted(services["prometheus"])
    scrape = yaml.safe_load(prometheus_files["/etc/prometheus/prometheus.yml"].read_text())
    assert scrape["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert prometheus_files["/etc/prometheus/alerts.yml"] == ROOT / "deploy" / "prometheus" / "alerts.yml"
    jobs = {
        target: job
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    targets = {target: job.get("metrics_path", "/metrics") for target, job in jobs.items()}
    metrics_ports = {
        name: bind_of(
            {k: str(v) for k, v in service["environment"].items()},
            "KOMO_BRAZE_PRODUCER_ADMIN_BIND"
            if service["command"] == ["producer"]
            else "KOMO_BRAZE_WORKER_METRICS_BIND",
        ).port
        for name, service in application_services(config).items()
        if service["command"][0] in ("producer", "worker")
    }
    assert {f"{name}:{port}" for name, port in metrics_ports.items()} <= set(targets)
    _, admin_routes = producer_routes()
    assert ("GET", "/metrics") in admin_routes & worker_routes()
    for target in targets:
        service, port = target.rsplit(":", 1)
        assert int(port) in container_ports(services[service]) or service == "rabbitmq", target
    # per-queue depth and consumers, as the alerts and the dashboard read them (and the scrape test scrapes)
    assert targets["rabbitmq:15692"] == "/metrics/detailed"
    assert jobs["rabbitmq:15692"]["params"] == {"family": QUEUE_FAMILIES}
    assert "15692" in {str(p).split(":")[-1].split("/")[0] for p in services["rabbitmq"]["ports"]}
    plugins = mounted(services["rabbitmq"])["/etc/rabbitmq/enabled_plugins"].read_text()
    assert plugins.strip() == "[rabbitmq_management,rabbitmq_prometheus]."


def test_grafana_is_provisioned_with_the_stack_s_prometheus_and_the_dashboard() -> None:
    services = compose_config()["services"]
    grafana = mounted(services["grafana"])
    provisioning = grafana["/etc/grafana/provisioning"]
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert 9090 in container_ports(services["prometheus"])
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "komo-braze.yml").read_text())["providers"]
    dashboards = grafana[provider["options"]["path"]]
    assert dashboards == ROOT / "deploy" / "grafana" / "dashboards"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    dashboard = json.loads((dashboards / Path(home).name).read_text())
    assert isinstance(dashboard["title"], str)
    assert isinstance(dashboard["panels"], list)


def test_promtool_accepts_the_stack_s_prometheus_configuration_with_its_mounted_rules(tmp_path: Path) -> None:
    prometheus = compose_config()["services"]["prometheus"]
    files = mounted(prometheus)
    config = files["/etc/prometheus/prometheus.yml"].read_text()
    for target, source in files.items():
        config = config.replace(target, str(source))  # the container's paths are the mounted files
    (tmp_path / "prometheus.yml").write_text(config)
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
