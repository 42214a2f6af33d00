"""Static checks of the deployment files: docker-compose.yml, deploy/Dockerfile and deploy/k8s.

There is no Docker engine or cluster in CI, so these tests check what can drift without one: the compose file
against the Compose Specification schema, every path it mounts or builds from, healthchecks, volumes and ports,
every ``AUTERITY_*`` name against ``streams.settings.Settings``, and the Kubernetes manifests' references.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SECRET_EXAMPLE = "secret.example.yaml"

# A setting variable: AUTERITY_ then upper-case words joined by "_" (a field name) or "__" (a nested group).
_SETTING = re.compile(r"\bAUTERITY_[A-Z0-9]+(?:__?[A-Z0-9]+)*")
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default} (defaults without braces).
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


# ---------------------------------------------------------------------------------------------------------- helpers


@cache
def compose() -> dict[str, Any]:
    """docker-compose.yml as loaded by YAML (anchors and merge keys resolved, no interpolation)."""
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema that check-jsonschema vendors (a file read, no network)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    assert isinstance(schema, dict)
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every violation of the Compose Specification in ``document``, as 'path: message'."""
    schema = compose_schema()
    # The schema says draft-07 in a spelling jsonschema does not look up (".../draft-07/schema", no "#").
    assert "draft-07" in schema["$schema"]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(document)]


def interpolate(value: str) -> str:
    """``value`` as compose would see it with no variables set: every ${NAME:-default} becomes its default."""
    return _INTERPOLATION.sub(lambda match: match.group("default") or "", value)


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def one_shot_services() -> set[str]:
    """Services another one waits for to *finish* (service_completed_successfully): they exit, so no healthcheck."""
    return {name for service in services().values()
            for name, condition in _depends_on(service).items() if condition == "service_completed_successfully"}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """A service's dependencies and their conditions (short syntax means service_started)."""
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _mount_source(volume: str | dict[str, Any]) -> str | None:
    """The source of a short-syntax (SOURCE:TARGET[:MODE]) or long-syntax volume; None for an anonymous one."""
    if isinstance(volume, dict):
        source = volume.get("source")
        return str(source) if source else None
    parts = volume.split(":")
    return parts[0] if len(parts) > 1 else None


def _is_path(source: str) -> bool:
    return source.startswith(("./", "../", "/", "~")) or source == "."


def _published_ports(port: int | str | dict[str, Any]) -> list[str]:
    """Host ports a ports entry publishes (with their protocol); none when only a container port is given."""
    if isinstance(port, dict):
        published = port.get("published")
        return [f"{interpolate(str(published))}/{port.get('protocol', 'tcp')}"] if published else []
    spec = interpolate(str(port))
    spec, _, protocol = spec.partition("/")
    parts = spec.rsplit(":", 2)  # [HOST_IP:]HOST:CONTAINER; an IPv6 host IP is bracketed, so rsplit is safe
    if len(parts) < 2:
        return []
    host = parts[-2]
    if "-" in host:  # a range publishes each of its ports
        first, last = (int(p) for p in host.split("-"))
        return [f"{p}/{protocol or 'tcp'}" for p in range(first, last + 1)]
    return [f"{host}/{protocol or 'tcp'}"]


def setting_problem(variable: str) -> str | None:
    """Why ``variable`` is not a setting of ``Settings`` (None when it is): AUTERITY_X is field x, X__Y group x's y."""
    top, _, nested = variable.removeprefix("AUTERITY_").lower().partition("__")
    field = Settings.model_fields.get(top)
    if field is None:
        return f"{variable}: Settings has no field {top!r}"
    if not nested:
        return None
    group = field.annotation
    if not (isinstance(group, type) and issubclass(group, BaseModel)):
        return f"{variable}: Settings.{top} is not a nested group"
    if "__" in nested or nested not in group.model_fields:
        return f"{variable}: {group.__name__} has no field {nested!r}"
    return None


def k8s_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, document) for every manifest in deploy/k8s, multi-document files included."""
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path.name, document


def k8s_objects(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in k8s_documents() if document.get("kind") == kind]


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec = deployment["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


# ------------------------------------------------------------------------------------------------- docker-compose.yml


def test_compose_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(("break_it", "reported"), [
    pytest.param(lambda doc: doc["services"]["gateway"].update(ports=8080), "services/gateway/ports: 8080 is not",
                 id="ports-not-a-list"),
    pytest.param(lambda doc: doc["services"]["worker"].update(healthchek={"test": ["NONE"]}), "'healthchek'",
                 id="misspelt-key"),
    pytest.param(lambda doc: doc["services"]["worker"]["depends_on"]["kafka"].update(condition="healthy"),
                 "services/worker/depends_on", id="unknown-condition"),
])
def test_compose_validation_can_fail(break_it: Any, reported: str) -> None:
    """The schema check is not vacuous: a broken copy of the file fails it, at the broken place."""
    broken = copy.deepcopy(compose())
    break_it(broken)
    errors = schema_errors(broken)
    assert any(reported in error for error in errors), errors


def test_compose_mounts_and_builds_only_files_in_the_repository() -> None:
    missing = []
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = _mount_source(volume)
            if source is not None and _is_path(source):
                assert source.startswith("./"), f"{name}: mount {source} is outside the repository"
                if not (ROOT / source).exists():
                    missing.append(f"{name}: {source}")
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            for path in (context, dockerfile):
                if not path.exists():
                    missing.append(f"{name}: {path.relative_to(ROOT)}")
    assert missing == []


def test_the_observability_files_the_stack_mounts_exist() -> None:
    """Prometheus' config and rules, Grafana's provisioning and at least one dashboard (mounted by compose)."""
    for path in ("prometheus/prometheus.yml", "prometheus/rules/auterity.rules.yml", "otel/collector.yaml",
                 "grafana/provisioning"):
        assert (DEPLOY / path).exists(), path
    assert list((DEPLOY / "grafana" / "dashboards").glob("*.json")), "no Grafana dashboard"


def test_every_long_running_service_has_a_healthcheck() -> None:
    one_shots = one_shot_services()
    assert one_shots == {"createbuckets"}
    for name, service in services().items():
        if name in one_shots:
            assert service.get("restart") == "no", f"{name} is one-shot: it must not be restarted"
            continue
        healthcheck = service.get("healthcheck", {})
        assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name} has no healthcheck"
        assert healthcheck["test"][0] != "NONE", f"{name} disables its healthcheck"


def test_dependencies_exist_and_healthy_ones_can_become_healthy() -> None:
    for name, service in services().items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in services()[dependency], f"{name} waits for {dependency} to be healthy"


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    used = {source for service in services().values() for volume in service.get("volumes", [])
            if (source := _mount_source(volume)) is not None and not _is_path(source)}
    assert used - declared == set(), "volumes used but not declared"
    assert declared - used == set(), "volumes declared but never used"


def test_published_host_ports_are_unique() -> None:
    seen: dict[str, str] = {}
    for name, service in services().items():
        for port in service.get("ports", []):
            for host_port in _published_ports(port):
                assert host_port not in seen, f"{host_port} published by both {seen[host_port]} and {name}"
                seen[host_port] = name
    assert {"8080/tcp", "3000/tcp", "9090/tcp", "16686/tcp"} <= set(seen)


def test_scaled_services_publish_no_fixed_port() -> None:
    """Replicas of a service cannot all bind one host port: the worker scales, so it publishes none."""
    for name, service in services().items():
        replicas = interpolate(str(service.get("deploy", {}).get("replicas", 1)))
        if replicas != "1":
            assert not service.get("ports"), f"{name} has {replicas} replicas and publishes ports"
            assert "container_name" not in service, f"{name} has {replicas} replicas and a container_name"


def test_every_auterity_variable_in_compose_and_k8s_is_a_setting() -> None:
    texts = {COMPOSE.name: COMPOSE.read_text()}
    texts.update({f"k8s/{path.name}": path.read_text() for path in K8S.glob("*.yaml")})
    found = {name: sorted(set(_SETTING.findall(text))) for name, text in texts.items()}
    assert found[COMPOSE.name] and found["k8s/configmap.yaml"]
    problems = [f"{name}: {problem}" for name, variables in found.items() for variable in variables
                if (problem := setting_problem(variable)) is not None]
    assert problems == []


def test_the_setting_check_refuses_what_is_not_a_setting() -> None:
    assert setting_problem("AUTERITY_GATEWAY__API_KEYS") is None
    assert setting_problem("AUTERITY_WEB_HOST") is None
    assert setting_problem("AUTERITY_WEB_HOSTNAME") is not None
    assert setting_problem("AUTERITY_GATEWAY__HOSTNAME") is not None
    assert setting_problem("AUTERITY_WEB_HOST__X") is not None  # not a group
    assert setting_problem("AUTERITY_GATEWAY_HOST") is not None  # a group needs "__"


def _service_environment(name: str) -> dict[str, str]:
    environment = services()[name].get("environment", {})
    assert isinstance(environment, dict), f"{name}: use the mapping form of environment"
    return {key: interpolate(str(value)) for key, value in environment.items() if value is not None}


@pytest.mark.parametrize("service", ["worker", "gateway"])
def test_compose_settings_parse(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's and gateway's environment, with compose's defaults, is a valid Settings."""
    for key, value in _service_environment(service).items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.blob_store == "s3://auterity-blobs/blobs"
    if service == "worker":
        assert (settings.web_host, settings.web_port, settings.vector_uri) == ("0.0.0.0", 6066, "http://milvus:19530")
    else:
        assert settings.gateway.host == "0.0.0.0"


def test_spans_go_to_the_collectors_otlp_http_port() -> None:
    """streams.tracing exports OTLP over HTTP (opentelemetry-exporter-otlp-proto-http): port 4318, not gRPC's 4317."""
    (configmap,) = k8s_objects("ConfigMap")
    for where, environment in (("worker", _service_environment("worker")), ("gateway", _service_environment("gateway")),
                               ("configmap", configmap["data"])):
        assert environment["AUTERITY_TRACE_EXPORTER"] == "otlp", where
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318"), where
    collector = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert "otlp" in collector["service"]["pipelines"]["traces"]["receivers"]


def test_worker_and_gateway_healthchecks_probe_their_own_ports() -> None:
    worker, gateway = services()["worker"], services()["gateway"]
    assert "http://localhost:6066/monitoring" in " ".join(worker["healthcheck"]["test"])
    assert "http://localhost:8080/openapi.json" in " ".join(gateway["healthcheck"]["test"])
    assert any(port.endswith(":8080") for port in gateway["ports"])
    assert worker["volumes"] == ["model-cache:/app/var/models"]


# ---------------------------------------------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_the_no_deps_wheels_of_the_readme() -> None:
    """The image installs exactly what the README's set-up installs --no-deps, and runs `auterity`."""
    readme = (ROOT / "README.md").read_text()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    readme_wheels = re.search(r"pip install -q --no-deps ((?:'[^']+' ?)+)", readme)
    assert readme_wheels is not None
    for wheel in re.findall(r"'[^']+'", readme_wheels.group(1)):
        assert wheel in dockerfile, f"{wheel} missing from deploy/Dockerfile"
    assert "FROM python:3.11-slim-bookworm" in dockerfile
    assert 'ENTRYPOINT ["auterity"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    assert re.search(r"^USER (?!root|0$)", dockerfile, re.MULTILINE), "the image must not run as root"


# --------------------------------------------------------------------------------------------------------- deploy/k8s


def test_every_manifest_parses_and_is_named() -> None:
    documents = list(k8s_documents())
    assert len(documents) >= 8
    for file, document in documents:
        assert document.get("apiVersion") and document.get("kind"), file
        if document["kind"] != "Kustomization":
            assert document.get("metadata", {}).get("name"), f"{file}: {document['kind']} has no metadata.name"


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = k8s_objects("Kustomization")
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), f"kustomization lists missing {resource}"
    assert SECRET_EXAMPLE not in resources
    unlisted = {p.name for p in K8S.glob("*.yaml")} - set(resources) - {"kustomization.yaml", SECRET_EXAMPLE}
    assert unlisted == set(), "manifests not in kustomization.yaml"


def test_the_example_secret_is_marked_and_holds_only_placeholders() -> None:
    text = (K8S / SECRET_EXAMPLE).read_text()
    assert "EXAMPLE" in text
    (secret,) = k8s_objects("Secret")
    values = secret["stringData"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AUTERITY_GATEWAY__API_KEYS",
            "AUTERITY_WEBHOOKS__TARGETS"} <= set(values)
    assert all("REPLACE-ME" in value for value in values.values())


def test_configmap_and_example_secret_parse_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a pod gets from envFrom (the ConfigMap plus the example Secret's shape) is a valid Settings."""
    (configmap,) = k8s_objects("ConfigMap")
    (secret,) = k8s_objects("Secret")
    for key, value in {**configmap["data"], **secret["stringData"]}.items():
        assert isinstance(value, str), f"{key}: ConfigMap and Secret values must be strings"
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert (settings.web_host, settings.gateway.host) == ("0.0.0.0", "0.0.0.0")
    assert settings.gateway.api_keys and settings.webhooks.targets


def test_deployments_take_their_environment_from_objects_in_the_directory() -> None:
    configmaps = {c["metadata"]["name"] for c in k8s_objects("ConfigMap")}
    secrets = {s["metadata"]["name"] for s in k8s_objects("Secret")}
    deployments = k8s_objects("Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {"auterity-worker", "auterity-gateway"}
    for deployment in deployments:
        for container in pod_spec(deployment)["containers"]:
            sources = container.get("envFrom", [])
            assert sources, f"{container['name']} has no envFrom"
            for source in sources:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets


def test_probes_use_the_containers_ports_and_mounts_their_volumes() -> None:
    for deployment in k8s_objects("Deployment"):
        spec = pod_spec(deployment)
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            ports = {p["containerPort"] for p in container["ports"]} | {p.get("name") for p in container["ports"]}
            probes = [container.get(kind) for kind in ("startupProbe", "readinessProbe", "livenessProbe")]
            assert container.get("readinessProbe") and container.get("livenessProbe"), container["name"]
            for probe in filter(None, probes):
                action = probe.get("httpGet") or probe.get("tcpSocket")
                assert action["port"] in ports, f"{container['name']}: probe port {action['port']} not exposed"
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{container['name']} mounts undeclared {mount['name']}"


def test_worker_deployment_matches_the_partitions_and_the_sizing() -> None:
    (configmap,) = k8s_objects("ConfigMap")
    partitions = int(configmap["data"].get("AUTERITY_TOPIC_PARTITIONS", Settings.model_fields[
        "topic_partitions"].default))
    (worker,) = (d for d in k8s_objects("Deployment") if d["metadata"]["name"] == "auterity-worker")
    assert worker["spec"]["replicas"] == partitions
    (container,) = pod_spec(worker)["containers"]
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "1.5Gi"},
                                      "limits": {"cpu": "2", "memory": "2Gi"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/monitoring", "port": 6066}
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "6066"
    assert any(m["mountPath"] == "/app/var/models" for m in container["volumeMounts"])
    (hpa,) = k8s_objects("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "auterity-worker"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions


def test_gateway_service_reaches_the_gateway_pods() -> None:
    (service,) = k8s_objects("Service")
    (gateway,) = (d for d in k8s_objects("Deployment") if d["metadata"]["name"] == "auterity-gateway")
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod_spec(gateway)["containers"]
    ports = {p["containerPort"] for p in container["ports"]} | {p.get("name") for p in container["ports"]}
    assert all(port["targetPort"] in ports for port in service["spec"]["ports"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/openapi.json"
