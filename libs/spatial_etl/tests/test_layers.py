"""The core's packages depend on each other in one direction only, and never on Dagster.

The tree is meant to tell the story: contracts at the bottom, then the GDAL runner and the
backends, the step kinds, the plugin host (intents are built from steps), then the run's
stages, then the CLI. An import against that order is the first step
of a cycle, so it fails here with the module and the import that broke it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import spatial_etl

ROOT = Path(spatial_etl.__file__).parent
FOUNDATION = {"errors", "settings"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "settings": {"errors"},
    "models": {"models", "errors"},
    "spatial_utils": {"spatial_utils", "models"} | FOUNDATION,
    "steps": {"steps", "backends", "spatial_utils", "models"} | FOUNDATION,
    "plugins": {"plugins", "steps", "models"} | FOUNDATION,
    "backends": {"backends", "models"} | FOUNDATION,
    "export": {"export", "backends", "spatial_utils", "models"} | FOUNDATION,
    "metadata": {"metadata", "models"} | FOUNDATION,
    "screening": {"screening", "plugins", "spatial_utils", "models"} | FOUNDATION,
    "run": {
        "run",
        "backends",
        "export",
        "metadata",
        "screening",
        "plugins",
        "steps",
        "spatial_utils",
        "models",
    }
    | FOUNDATION,
    "uploads": {"uploads", "run", "backends", "plugins", "steps", "spatial_utils", "models"}
    | FOUNDATION,
}


def _layer(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _violations() -> list[str]:
    found: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        layer = _layer(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "dagster" or top.startswith("dagster_"):
                found.append(
                    f"{path.relative_to(ROOT)} imports {name}: the core never imports Dagster"
                )
            if top != "spatial_etl" or name == "spatial_etl" or layer not in ALLOWED:
                continue
            target = name.split(".")[1]
            if target in {"__version__", "hookimpl", "SpatialEtlError"}:
                continue
            if target not in ALLOWED[layer] and target != layer:
                found.append(f"{path.relative_to(ROOT)} ({layer}) imports {name}")
    return found


def test_the_core_packages_import_downwards_only() -> None:
    assert _violations() == []


def test_every_module_belongs_to_a_known_layer() -> None:
    tops = {_layer(path) for path in ROOT.rglob("*.py")}
    assert tops - set(ALLOWED) <= {"__init__", "cli", "testing"}


def test_the_shipped_plugins_use_only_the_public_plugin_api() -> None:
    """A plugin imports ``spatial_etl``'s top-level names only, as a third party would."""
    repository = ROOT.parents[3]
    public = set(spatial_etl.__all__)
    found: list[str] = []
    sources = sorted(repository.glob("plugins/*/src/**/*.py"))
    assert sources, "no plugin sources found"
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spatial_etl"):
                names = {alias.name for alias in node.names}
                if node.module != "spatial_etl" or not names <= public:
                    found.append(f"{path.name}: from {node.module} import {sorted(names)}")
            elif isinstance(node, ast.Import) and any(
                alias.name.startswith("spatial_etl.") for alias in node.names
            ):
                found.append(f"{path.name}: import of a spatial_etl submodule")
    assert found == []


def test_every_public_name_resolves() -> None:
    for name in spatial_etl.__all__:
        assert getattr(spatial_etl, name) is not None, name
