"""The Kubernetes deployment (configs/k8s) renders and every reference in it resolves.

Each overlay is rendered with ``kubectl kustomize`` (a real renderer, offline); the rendered
documents are then checked the way the API server and Dagster would read them: every
ConfigMap, Secret, PVC and ServiceAccount a pod names exists in the render (except the prod
Secret, which the operator creates), every Service selects a pod template, images are pinned,
dagster.yaml is a valid Dagster instance with the K8s run launcher, every variable of the
settings models reaches the user-code server and the run pods, and the deployment agrees with
docker-compose.yaml (image tags, variable names, the least-privilege accounts).
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from spatial_etl.settings import variables

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ROOT / "configs" / "k8s" / "overlays"
COMPOSE = ROOT / "docker-compose.yaml"
BASE_SETTINGS = ROOT / "configs/k8s/base/settings.yaml"
PROD_SECRET = "spatial-etl-secrets"  # noqa: S105 - the Secret's name, not a value
CATALOGUE_SECRET = "spatial-etl-catalogue-secrets"  # noqa: S105 - a name, not a value
OPERATOR_SECRETS = {PROD_SECRET, CATALOGUE_SECRET}
"""The Secrets the operator creates in prod (README.md there), generated in dev."""
CATALOGUE_SECRET_KEYS = {
    "SPATIAL_ETL_S3_ACCESS_KEY_ID",
    "SPATIAL_ETL_S3_SECRET_ACCESS_KEY",
    "SPATIAL_ETL_MONGODB_URI",
}
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


def _settings_passed_by_default() -> set[str]:
    """Variables of the settings models that have a value unless set (all but "unset" ones)."""
    return {
        name
        for name, field in variables().items()
        if field.is_required() or field.get_default(call_default_factory=True) is not None
    }


def _keys(docs: tuple[Doc, ...], kind: str, name: str) -> set[str]:
    return set(_one(docs, kind, name).get("data", {}))


# ----------------------------------------------------------------------------- the tests


def test_renders_in_one_namespace(overlay: str) -> None:
    docs = _render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= kinds
    assert {"dagster-webserver", "dagster-daemon", "dagster-user-code", "catalogue"} <= _named(
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
            if overlay == "prod" and kind == "Secret" and name in OPERATOR_SECRETS:
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
    assert CATALOGUE_SECRET in referenced
    assert f"create secret generic {CATALOGUE_SECRET}" in documented
    for key in CATALOGUE_SECRET_KEYS:
        assert f"--from-literal={key}=" in documented.split(CATALOGUE_SECRET, 1)[1], key


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
    wanted = _settings_passed_by_default()
    assert "SPATIAL_ETL_POSTGIS_DSN" in wanted and len(wanted) >= 25

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


# ----------------------------------------------------------------------------- one source of settings


def test_the_settings_config_map_holds_every_setting_at_its_default() -> None:
    """Base ConfigMap: each non-secret variable with the model's default, "unset" as a comment."""
    docs = _render("dev")
    data = _one(docs, "ConfigMap", "spatial-etl-settings")["data"]
    secret = _keys(docs, "Secret", PROD_SECRET)
    text = BASE_SETTINGS.read_text()
    for name, field in variables().items():
        if name in secret:
            assert name not in data, f"{name} is a secret"
            continue
        default = field.get_default(call_default_factory=True)
        if name == "SPATIAL_ETL_S3_ENDPOINT_URL":
            assert data[name], "the deployment names its object store"
        elif default is None:
            assert name not in data, f"{name}: unset by default, an empty value is not unset"
            assert f"# {name}:" in text, f"{name}: say in settings.yaml how to set it"
        else:
            spelled = (
                ",".join(sorted(default))
                if isinstance(default, frozenset)
                else str(int(default))
                if isinstance(default, float) and default.is_integer()
                else str(default)
            )
            assert data.get(name) == spelled, f"{name}: {data.get(name)!r} is not the default"


# ----------------------------------------------------------------------------- Compose agrees


def _compose() -> Doc:
    compose = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(compose, dict)
    return compose


def test_compose_and_the_dev_overlay_run_the_same_images() -> None:
    docs = _render("dev")
    in_k8s = {container["image"] for _, spec in _pod_specs(docs) for container in _containers(spec)}
    in_compose = {service["image"] for service in _compose()["services"].values()}
    assert in_compose == in_k8s, in_compose ^ in_k8s
    user_code = _one(docs, "Deployment", "dagster-user-code")["spec"]["template"]["spec"]
    assert user_code["containers"][0]["image"] == _compose()["x-user-code-image"]["image"]


def test_compose_and_kubernetes_name_dagsters_storage_alike(overlay: str) -> None:
    compose_names = set(_compose()["x-dagster-env"])
    instance = _instance(_render(overlay))["storage"]["postgres"]["postgres_db"]
    k8s_names = {v["env"] for v in instance.values() if isinstance(v, dict)}
    assert k8s_names <= compose_names, k8s_names - compose_names
    compose_instance = yaml.safe_load((ROOT / "services/dagster/dagster.yaml").read_text())
    compose_storage = compose_instance["storage"]["postgres"]["postgres_db"]
    assert {v["env"] for v in compose_storage.values() if isinstance(v, dict)} == k8s_names
    settings = _keys(_render(overlay), "ConfigMap", "spatial-etl-settings")
    assert {n for n in settings if n.startswith("DAGSTER_PG_")} <= compose_names


def _secret(docs: tuple[Doc, ...], name: str) -> dict[str, str]:
    data = _one(docs, "Secret", name)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _env_of(container: Doc, docs: tuple[Doc, ...]) -> dict[str, str]:
    """What a container's environment holds once Kubernetes has resolved every reference."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            env |= _secret(docs, source["secretRef"]["name"])
        if "configMapRef" in source:
            env |= _one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
    for item in container.get("env", []):
        ref = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in ref:
            env[item["name"]] = _secret(docs, ref["secretKeyRef"]["name"])[
                ref["secretKeyRef"]["key"]
            ]
        elif "configMapKeyRef" in ref:
            config_map = _one(docs, "ConfigMap", ref["configMapKeyRef"]["name"])
            env[item["name"]] = config_map["data"][ref["configMapKeyRef"]["key"]]
    return env


def _container(docs: tuple[Doc, ...], kind: str, workload: str, name: str) -> Doc:
    spec = _one(docs, kind, workload)["spec"]["template"]["spec"]
    [found] = [c for c in _containers(spec) if c["name"] == name]
    return found


def test_the_dev_overlay_gives_the_platform_no_root_account() -> None:
    """As in Compose: the etl role, the ledger's application user, the pipeline's MinIO account."""
    docs = _render("dev")
    platform = _secret(docs, PROD_SECRET)
    postgis = _env_of(_container(docs, "Deployment", "postgis", "postgis"), docs)
    mongodb = _env_of(_container(docs, "Deployment", "mongodb", "mongodb"), docs)
    minio = _env_of(_container(docs, "Job", "storage-init", "minio-init"), docs)

    dsn = urlsplit(platform["SPATIAL_ETL_POSTGIS_DSN"])
    assert (dsn.username, dsn.password) == (
        postgis["POSTGIS_ETL_USER"],
        postgis["POSTGIS_ETL_PASSWORD"],
    )
    assert dsn.username != postgis["POSTGRES_USER"]
    assert dsn.path == "/" + postgis["POSTGIS_COMPUTE_DB"]

    uri = urlsplit(platform["SPATIAL_ETL_MONGODB_URI"])
    database = mongodb["SPATIAL_ETL_MONGODB_DATABASE"]
    assert (uri.username, uri.password) == (
        mongodb["MONGO_APP_USERNAME"],
        mongodb["MONGO_APP_PASSWORD"],
    )
    assert uri.username != mongodb["MONGO_INITDB_ROOT_USERNAME"]
    assert f"authSource={database}" in uri.query and "authSource=admin" not in uri.query

    assert minio["MINIO_PIPELINE_ACCESS_KEY"] == platform["SPATIAL_ETL_S3_ACCESS_KEY_ID"]
    assert minio["MINIO_PIPELINE_SECRET_KEY"] == platform["SPATIAL_ETL_S3_SECRET_ACCESS_KEY"]
    assert platform["SPATIAL_ETL_S3_ACCESS_KEY_ID"] != minio["MINIO_ROOT_USER"]

    # Dagster's storage: its own role, created by the same init.sql.
    assert postgis["DAGSTER_PG_USER"] not in {postgis["POSTGRES_USER"], dsn.username}
    assert postgis["DAGSTER_PG_PASSWORD"] == platform["DAGSTER_PG_PASSWORD"]

    # No platform pod sees a storage server's root credentials.
    roots = {"dev-minio-credentials", "dev-mongodb-credentials", "dev-postgis-credentials"}
    for name in ("dagster-user-code", "dagster-webserver", "dagster-daemon"):
        spec = _one(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert not {n for k, n in _references(spec) if k == "Secret"} & roots, name
    assert not set(_instance(docs)["run_launcher"]["config"]["env_secrets"]) & roots


def test_the_catalogue_serves_with_its_own_read_only_accounts(overlay: str) -> None:
    """`spatial-etl serve` on the pod's interface, probed on /api/health, with its own Secret."""
    docs = _render(overlay)
    deployment = _one(docs, "Deployment", "catalogue")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"][:2] == ["spatial-etl", "serve"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SPATIAL_ETL_WEB_HOST"] == "0.0.0.0"  # noqa: S104 - the pod's interface
    [port] = container["ports"]
    assert str(port["containerPort"]) == env["SPATIAL_ETL_WEB_PORT"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/api/health"
    secrets = {n for k, n in _references(spec) if k == "Secret"}
    assert secrets == {CATALOGUE_SECRET}, "the catalogue never sees the platform's Secret"
    service = _one(docs, "Service", "catalogue")
    assert (
        service["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    if overlay == "dev":
        assert _keys(docs, "Secret", CATALOGUE_SECRET) == CATALOGUE_SECRET_KEYS


def test_the_dev_overlay_creates_the_catalogues_accounts() -> None:
    """Its MinIO account by storage-init (policy catalogue.json), its MongoDB user by the
    init script MongoDB runs; neither is the platform's nor a root account."""
    docs = _render("dev")
    catalogue = _secret(docs, CATALOGUE_SECRET)
    platform = _secret(docs, PROD_SECRET)
    mongodb = _env_of(_container(docs, "Deployment", "mongodb", "mongodb"), docs)
    minio = _env_of(_container(docs, "Job", "storage-init", "minio-init"), docs)
    assert minio["MINIO_CATALOGUE_ACCESS_KEY"] == catalogue["SPATIAL_ETL_S3_ACCESS_KEY_ID"]
    assert minio["MINIO_CATALOGUE_SECRET_KEY"] == catalogue["SPATIAL_ETL_S3_SECRET_ACCESS_KEY"]
    assert catalogue["SPATIAL_ETL_S3_ACCESS_KEY_ID"] not in {
        platform["SPATIAL_ETL_S3_ACCESS_KEY_ID"],
        minio["MINIO_ROOT_USER"],
        minio["MINIO_USERS_ACCESS_KEY"],
    }
    uri = urlsplit(catalogue["SPATIAL_ETL_MONGODB_URI"])
    assert (uri.username, uri.password) == (
        mongodb["MONGO_CATALOGUE_USERNAME"],
        mongodb["MONGO_CATALOGUE_PASSWORD"],
    )
    assert uri.username not in {
        mongodb["MONGO_APP_USERNAME"],
        mongodb["MONGO_INITDB_ROOT_USERNAME"],
    }
    assert f"authSource={mongodb['SPATIAL_ETL_MONGODB_DATABASE']}" in uri.query


@pytest.mark.parametrize(
    ("config_map", "workload", "container", "mounts"),
    [
        (
            "postgis-init",
            "postgis",
            "postgis",
            {
                "init.sh": "/docker-entrypoint-initdb.d/20-spatial-etl.sh",
                "init.sql": "/opt/spatial-etl/init.sql",
            },
        ),
        (
            "mongodb-init",
            "mongodb",
            "mongodb",
            {"init-app-user.js": "/docker-entrypoint-initdb.d/10-app-user.js"},
        ),
        (
            "minio-init",
            "storage-init",
            "minio-init",
            {
                "init.sh": "/init/init.sh",
                "users.json": "/policies/users.json",
                "pipeline.json": "/policies/pipeline.json",
                "catalogue.json": "/policies/catalogue.json",
            },
        ),
    ],
)
def test_the_dev_overlay_runs_composes_init_files(
    config_map: str, workload: str, container: str, mounts: dict[str, str]
) -> None:
    """The very files Compose mounts (services/*), where Compose mounts them."""
    docs = _render("dev")
    server = config_map.removesuffix("-init")
    data = _one(docs, "ConfigMap", config_map)["data"]
    for key, path in mounts.items():
        [source] = (ROOT / "services" / server).rglob(key)
        assert data[key] == source.read_text(), key
        compose_mounts = " ".join(
            str(volume)
            for service in _compose()["services"].values()
            for volume in service.get("volumes", [])
        )
        if not key.endswith(".json"):
            assert f"{source.relative_to(ROOT)}:{path}" in compose_mounts, key
    kind = "Job" if workload == "storage-init" else "Deployment"
    spec = _one(docs, kind, workload)["spec"]["template"]["spec"]
    volumes = {
        v["name"] for v in spec["volumes"] if v.get("configMap", {}).get("name") == config_map
    }
    [found] = [c for c in _containers(spec) if c["name"] == container]
    mounted = {m["subPath"]: m["mountPath"] for m in found["volumeMounts"] if m["name"] in volumes}
    assert mounted == mounts


def test_gdal_output_reaches_the_ui_in_both_deployments(overlay: str) -> None:
    """GDAL's stderr lines go through the `spatial_etl` logger into the run's event log."""
    compose = yaml.safe_load((ROOT / "services/dagster/dagster.yaml").read_text())
    for instance in (_instance(_render(overlay)), compose):
        assert "spatial_etl" in instance["python_logs"]["managed_python_loggers"]
        assert instance["python_logs"]["python_log_level"] == "INFO"
    # Compose keeps the raw stdout/stderr too, on the volume its Dagster containers share.
    logs = compose["compute_logs"]
    assert logs["class"] == "LocalComputeLogManager"
    for service in ("user-code", "dagster-webserver", "dagster-daemon"):
        volumes = _compose()["services"][service]["volumes"]
        mount = next(v.split(":")[1] for v in volumes if v.startswith("dagster-storage:"))
        assert logs["config"]["base_dir"].startswith(mount + "/"), service
