"""Documentation that must not drift from the code (datasette's habit)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from spatial_etl import errors
from spatial_etl.plugins import hookspecs
from spatial_etl.settings import (
    ArchiveSettings,
    GdalSettings,
    LedgerSettings,
    PluginSettings,
    PostgisSettings,
    StorageSettings,
)
from spatial_etl_dagster import resources

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = [
    "libs/spatial_etl",
    "services/dagster",
    "services/minio",
    "services/mongodb",
    "services/postgis",
    "plugins/vector_boundary",
    "plugins/satellite_raster",
    "configs",
]


def _hooks() -> list[str]:
    return [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "spatial_etl_spec")
    ]


def test_there_are_hooks() -> None:
    assert _hooks() == ["register_intents", "register_step_kinds"]


@pytest.mark.parametrize("hook", _hooks())
def test_every_hook_is_documented_with_its_arguments(hook: str) -> None:
    function = getattr(hookspecs, hook)
    doc = inspect.getdoc(function) or ""
    assert len(doc) > 80, f"hook {hook} needs a real docstring"
    for argument in inspect.signature(function).parameters:
        assert f"{argument}:" in doc, f"hook {hook} does not document argument {argument!r}"
    context = (ROOT / "libs/spatial_etl/CONTEXT.md").read_text()
    assert f"`{hook}" in context, f"hook {hook} is missing from libs/spatial_etl/CONTEXT.md"


def _exceptions() -> list[type[BaseException]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]


@pytest.mark.parametrize("error", _exceptions(), ids=lambda e: e.__name__)
def test_every_error_derives_from_the_root_and_is_documented(error: type[BaseException]) -> None:
    assert issubclass(error, errors.SpatialEtlError)
    assert error.__doc__ and error.__doc__.strip(), f"{error.__name__} has no docstring"


def _env_names() -> list[str]:
    names = []
    for settings in (
        PluginSettings,
        GdalSettings,
        StorageSettings,
        PostgisSettings,
        LedgerSettings,
        ArchiveSettings,
    ):
        prefix = settings.model_config.get("env_prefix", "")
        names += [f"{prefix}{field}".upper() for field in settings.model_fields]
    return names


@pytest.mark.parametrize("name", _env_names())
def test_every_setting_is_in_env_example(name: str) -> None:
    example = (ROOT / ".env.example").read_text()
    assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), f"{name} missing from .env.example"


def test_every_dagster_resource_field_is_described() -> None:
    for resource in (resources.GDALResource,):
        for name, field in resource.model_fields.items():
            assert field.description, f"{resource.__name__}.{name}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_has_a_context_file(component: str) -> None:
    text = (ROOT / component / "CONTEXT.md").read_text()
    for heading in ("Responsibility", "Contracts", "Relation", "Configuration"):
        assert re.search(rf"^##+ .*{heading}", text, re.MULTILINE | re.IGNORECASE), (
            f"{component}/CONTEXT.md has no '{heading}' section"
        )


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "make test" in readme
    assert re.search(r"^exec make test$", ci, re.MULTILINE)


def test_readme_example_manifest_is_valid() -> None:
    from spatial_etl.plugins.loading import load_plugins
    from spatial_etl.run.validation import check_manifest

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```json\n(\{.*?\n\})\n```", readme, re.DOTALL)
    assert block, "README has no JSON manifest example"
    report = check_manifest(block.group(1), source="batch_XYZ.json", catalog=load_plugins())
    assert report.valid, report.problems


def test_readme_plugin_example_registers_and_its_test_passes(tmp_path: Path) -> None:
    import importlib.util

    readme = (ROOT / "README.md").read_text()
    module_code = re.search(
        r"```python\n# src/acme_elevation/__init__.py\n(.*?)```", readme, re.DOTALL
    )
    test_code = re.search(r"```python\nimport acme_elevation\n(.*?)```", readme, re.DOTALL)
    assert module_code and test_code
    path = tmp_path / "acme_elevation.py"
    path.write_text(module_code.group(1))
    spec = importlib.util.spec_from_file_location("acme_elevation", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    namespace: dict[str, object] = {"acme_elevation": module}
    exec(test_code.group(1), namespace)  # noqa: S102 - the README's own example test
    namespace["test_plan_resolves"]()  # type: ignore[operator]


def test_example_manifests_validate_and_the_rejected_one_says_why() -> None:
    from spatial_etl.plugins.loading import load_plugins
    from spatial_etl.run.validation import check_manifest

    catalog = load_plugins()
    for path in sorted((ROOT / "examples/manifests").glob("*.json")):
        report = check_manifest(path.read_bytes(), source=path.name, catalog=catalog)
        assert report.valid, (path.name, report.problems)
    rejected = ROOT / "examples/rejected/roads_2026.json"
    report = check_manifest(rejected.read_bytes(), source=rejected.name, catalog=catalog)
    assert {p.loc for p in report.problems} == {
        "files[0].path",
        "files[0].crs",
        "files[1].path",
        "files[1].type",
        "metadata.parameters.layr",
    }
