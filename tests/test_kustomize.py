"""The Kubernetes deployment (configs/k8s) renders and every reference in it resolves.

Each overlay is rendered with ``kubectl kustomize`` (a real renderer, offline); the rendered
documents are then checked the way the API server and Dagster would read them: every
ConfigMap, Secret, PVC and ServiceAccount a pod names exists in the render (except the prod
Secret, which the operator creates), every Service selects a pod template, images are pinned,
dagster.yaml is a valid Dagster instance with the K8s run launcher, and every ``EnvVar`` of the
code location reaches the user-code server and the run pods.
"""

from __future__ import annotations

import ast
import base64
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ROOT / "configs" / "k8s" / "overlays"
DEFINITIONS = ROOT / "services/dagster/src/spatial_etl_dagster/definitions.py"
PROD_SECRET = "spatial-etl-secrets"  # noqa: S105 - the Secret's name, not a value
NAMESPACE = "spatial-etl"

pytestmark = pytest.mark.kubectl

Doc = dict[str, Any]


@cache
def _render(overlay: str) -> tuple[Doc, ...]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"kubectl kustomize {overlay} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(params=["dev", "prod"])
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _named(docs: tuple[Doc, ...], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == kind}


def _one(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _pod_specs(docs: tuple[Doc, ...]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for every object that makes pods."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def _references(spec: Doc) -> Iterator[tuple[str, str]]:
    """(kind, name) of every object a pod spec refers to by name."""
    if "serviceAccountName" in spec:
        yield "ServiceAccount", spec["serviceAccountName"]
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
    for container in _containers(spec):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"]
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"]
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"]
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"]


def _instance(docs: tuple[Doc, ...]) -> Doc:
    config_map = _one(docs, "ConfigMap", "dagster-instance")
    instance = yaml.safe_load(config_map["data"]["dagster.yaml"])
    assert isinstance(instance, dict)
    return instance


def _env_vars_read_by_definitions() -> set[str]:
    """Names passed to dg.EnvVar(...) / dg.EnvVar.int(...) in definitions.py."""
    names = set()
    for node in ast.walk(ast.parse(DEFINITIONS.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        is_env_var = (isinstance(func, ast.Attribute) and func.attr == "EnvVar") or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "EnvVar"
        )
        if is_env_var and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


def _keys(docs: tuple[Doc, ...], kind: str, name: str) -> set[str]:
    return set(_one(docs, kind, name).get("data", {}))


# ----------------------------------------------------------------------------- the tests


def test_renders_in_one_namespace(overlay: str) -> None:
    docs = _render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= kinds
    assert {"dagster-webserver", "dagster-daemon", "dagster-user-code"} <= _named(
        docs, "Deployment"
    )
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_every_named_reference_resolves(overlay: str) -> None:
    docs = _render(overlay)
    missing = []
    for workload, spec in _pod_specs(docs):
        for kind, name in _references(spec):
            if overlay == "prod" and (kind, name) == ("Secret", PROD_SECRET):
                continue
            if name not in _named(docs, kind):
                missing.append(
                    f"{workload['kind']}/{workload['metadata']['name']} -> {kind}/{name}"
                )
    # Names that dagster.yaml hands to the run launcher as plain strings.
    launcher = _instance(docs)["run_launcher"]["config"]
    for name in [launcher["instance_config_map"], *launcher["env_config_maps"]]:
        if name not in _named(docs, "ConfigMap"):
            missing.append(f"dagster.yaml -> ConfigMap/{name}")
    if launcher["service_account_name"] not in _named(docs, "ServiceAccount"):
        missing.append(f"dagster.yaml -> ServiceAccount/{launcher['service_account_name']}")
    for name in launcher["env_secrets"]:
        if name not in _named(docs, "Secret") and not (overlay == "prod" and name == PROD_SECRET):
            missing.append(f"dagster.yaml -> Secret/{name}")
    assert launcher["job_namespace"] == NAMESPACE
    assert not missing, missing


def test_prod_expects_the_secret_and_does_not_define_it() -> None:
    docs = _render("prod")
    assert PROD_SECRET not in _named(docs, "Secret")
    assert not _named(docs, "Secret"), "prod must not carry secret values"
    referenced = {name for _, spec in _pod_specs(docs) for kind, name in _references(spec)}
    assert PROD_SECRET in referenced
    assert PROD_SECRET in _instance(docs)["run_launcher"]["config"]["env_secrets"]
    documented = (OVERLAYS / "prod" / "README.md").read_text()
    assert f"create secret generic {PROD_SECRET}" in documented


def test_dev_secrets_are_generated_and_marked_dev_only() -> None:
    docs = _render("dev")
    for name in _named(docs, "Secret"):
        values = _one(docs, "Secret", name)["data"].values()
        decoded = [base64.b64decode(v).decode() for v in values]
        assert any("dev-only" in value for value in decoded), name


def test_services_select_a_pod_template(overlay: str) -> None:
    docs = _render(overlay)
    templates = [
        doc["spec"]["template"]["metadata"].get("labels", {})
        for doc in docs
        if doc["kind"] in {"Deployment", "StatefulSet"}
    ]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in templates), service
        # Named target ports exist on the selected containers.
        ports = {
            port.get("name")
            for doc in docs
            if doc["kind"] in {"Deployment", "StatefulSet"}
            and selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
            for container in doc["spec"]["template"]["spec"]["containers"]
            for port in container.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert isinstance(target, int) or target in ports, (service, target)


def test_images_are_pinned_and_run_pods_use_the_code_server_image(overlay: str) -> None:
    docs = _render(overlay)
    for workload, spec in _pod_specs(docs):
        for container in _containers(spec):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag and tag != "latest", (workload["metadata"], image)
    user_code = _one(docs, "Deployment", "dagster-user-code")["spec"]["template"]["spec"]
    [container] = user_code["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == container["image"]
    assert container["command"] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "spatial_etl_dagster.definitions",
        "-h",
        "0.0.0.0",  # noqa: S104 - the pod's interface, as the Service needs
        "-p",
        "4000",
    ]


def test_pods_run_as_non_root_with_probes_and_limits(overlay: str) -> None:
    docs = _render(overlay)
    for workload, spec in _pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        for container in _containers(spec):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"requests", "limits"} <= set(container["resources"])
            if workload["kind"] == "Deployment":
                assert "livenessProbe" in container and "readinessProbe" in container


def test_rbac_lets_the_launcher_manage_jobs_and_pods(overlay: str) -> None:
    docs = _render(overlay)
    role = _one(docs, "Role", "dagster-run-launcher")
    granted = {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for resource in ("jobs", "pods"):
        for verb in ("create", "get", "list", "watch", "delete"):
            assert (resource, verb) in granted
    assert ("pods/log", "get") in granted
    binding = _one(docs, "RoleBinding", "dagster-run-launcher")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    [subject] = binding["subjects"]
    assert (subject["name"], subject["namespace"]) == ("dagster", NAMESPACE)
    for name in ("dagster-webserver", "dagster-daemon"):
        spec = _one(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == "dagster"


def test_dagster_yaml_is_a_valid_instance_with_the_k8s_launcher(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster_k8s import K8sRunLauncher

    docs = _render(overlay)
    instance = _instance(docs)
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    # {env: ...} sources resolve as in a pod: the ConfigMap's values, a stand-in password.
    for key, value in _one(docs, "ConfigMap", "spatial-etl-settings")["data"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "stand-in")
    outcome = process_config(dagster_instance_config_schema(), instance)
    assert outcome.success, outcome.errors
    checked = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    workspace = yaml.safe_load(
        _one(docs, "ConfigMap", "dagster-instance")["data"]["workspace.yaml"]
    )
    [location] = workspace["load_from"]
    assert location["grpc_server"]["host"] in _named(docs, "Service")
    assert location["grpc_server"]["port"] == 4000


def test_every_env_var_reaches_the_code_server_and_the_run_pods(overlay: str) -> None:
    docs = _render(overlay)
    wanted = _env_vars_read_by_definitions()
    assert "SPATIAL_ETL_POSTGIS_DSN" in wanted and len(wanted) >= 13
    # Read by the sensor each tick (services/dagster/CONTEXT.md), not through EnvVar.
    wanted |= {"SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S", "SPATIAL_ETL_SENSOR_MAX_MANIFESTS_PER_TICK"}

    # Keys a Secret must hold: generated in dev, required of the operator in prod.
    secret_keys = {
        "SPATIAL_ETL_S3_ACCESS_KEY_ID",
        "SPATIAL_ETL_S3_SECRET_ACCESS_KEY",
        "SPATIAL_ETL_POSTGIS_DSN",
        "SPATIAL_ETL_MONGODB_URI",
        "DAGSTER_PG_PASSWORD",
    }

    def provided(config_maps: list[str], secrets: list[str]) -> set[str]:
        names: set[str] = set()
        for name in config_maps:
            names |= _keys(docs, "ConfigMap", name)
        for name in secrets:
            names |= (
                secret_keys
                if overlay == "prod" and name == PROD_SECRET
                else _keys(docs, "Secret", name)
            )
        return names

    settings = _keys(docs, "ConfigMap", "spatial-etl-settings")
    assert not settings & secret_keys, "secrets belong in the Secret"
    if overlay == "prod":
        documented = (OVERLAYS / "prod" / "README.md").read_text()
        for key in secret_keys:
            assert f"--from-literal={key}=" in documented, key
    else:
        assert _keys(docs, "Secret", PROD_SECRET) == secret_keys

    spec = _one(docs, "Deployment", "dagster-user-code")["spec"]["template"]["spec"]
    [container] = spec["containers"]
    sources = container["envFrom"]
    to_code_server = provided(
        [s["configMapRef"]["name"] for s in sources if "configMapRef" in s],
        [s["secretRef"]["name"] for s in sources if "secretRef" in s],
    ) | {e["name"] for e in container.get("env", [])}
    assert wanted <= to_code_server, wanted - to_code_server

    launcher = _instance(docs)["run_launcher"]["config"]
    to_run_pods = provided(launcher["env_config_maps"], launcher["env_secrets"])
    assert wanted <= to_run_pods, wanted - to_run_pods

    # Dagster's storage settings, read by dagster.yaml in every process.
    storage = _instance(docs)["storage"]["postgres"]["postgres_db"]
    storage_env = {v["env"] for v in storage.values() if isinstance(v, dict)}
    assert storage_env <= to_run_pods, storage_env - to_run_pods
    for name in ("dagster-webserver", "dagster-daemon"):
        [c] = _one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        got = provided([s["configMapRef"]["name"] for s in c.get("envFrom", [])], []) | {
            e["name"] for e in c.get("env", [])
        }
        assert storage_env <= got, (name, storage_env - got)
