"""The plugin host: discovery, isolation of failures, conflicts, allow/block lists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint, version
from pathlib import Path

import pytest
from spatial_etl.errors import IntentConflictError, PluginLoadError, UnknownIntentError
from spatial_etl.plugins import loading as host
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.settings import PluginSettings

INTENT_TEMPLATE = """
from spatial_etl import hookimpl
from spatial_etl import Accepts, ExportFormat, ExportStep, FileType, Intent

def make(name):
    return Intent(
        name=name,
        summary="test intent " + name,
        accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({{"GTiff"}})),
        steps=(ExportStep(name="export", description="cog", format=ExportFormat.COG),),
    )

{body}
"""

PLUGINS = {
    "good_plugin": """
@hookimpl
def register_intents(registry):
    registry.register(make("good_intent"))
""",
    "other_plugin": """
@hookimpl
def register_intents(registry):
    registry.register(make("other_intent"))
    registry.register(make("shared_intent"))
""",
    "rival_plugin": """
@hookimpl
def register_intents(registry):
    registry.register(make("shared_intent"))
""",
    "broken_import": """
raise RuntimeError("cannot find libfoo.so")
""",
    "raising_hook": """
@hookimpl
def register_intents(registry):
    raise KeyError("configuration missing")
""",
    "twice_plugin": """
@hookimpl
def register_intents(registry):
    registry.register(make("twice_intent"))
    registry.register(make("twice_intent"))
""",
    "bad_signature": """
@hookimpl
def register_intents(catalog):
    pass
""",
    "invalid_intent": """
from spatial_etl import GdalProgram, GdalStep

@hookimpl
def register_intents(registry):
    registry.register(
        Intent(
            name="invalid_intent",
            summary="bad placeholder",
            accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
            steps=(
                GdalStep(name="warp", description="w", program=GdalProgram.GDALWARP,
                         args=("{src}", "{nowhere}")),
                ExportStep(name="export", description="cog", format=ExportFormat.COG),
            ),
        )
    )
""",
}


@pytest.fixture
def fake_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Write the plugin modules above and make them the only installed entry points."""
    for module, body in PLUGINS.items():
        (tmp_path / f"{module}.py").write_text(INTENT_TEMPLATE.format(body=textwrap.dedent(body)))
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [EntryPoint(name=m, value=m, group=host.ENTRY_POINT_GROUP) for m in PLUGINS]
    monkeypatch.setattr(
        host, "entry_points", lambda group: points if group == host.ENTRY_POINT_GROUP else []
    )
    for module in PLUGINS:
        monkeypatch.delitem(sys.modules, module, raising=False)
    return points


def _failures(catalog: host.IntentCatalog) -> dict[str, tuple[str, str]]:
    return {f.name: (f.stage, f.reason) for f in catalog.failures}


def test_installed_plugins_load_with_distribution_and_version() -> None:
    catalog = load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))
    by_intent = {r.intent.name: r.plugin for r in catalog.intents}
    assert by_intent["ingest_vector_boundary"].distribution == "spatial-etl-vector-boundary"
    assert by_intent["ingest_vector_boundary"].version == version("spatial-etl-vector-boundary")
    assert by_intent["ingest_satellite_raster"].distribution == "spatial-etl-satellite-raster"
    assert by_intent["ingest_satellite_raster"].version == version("spatial-etl-satellite-raster")
    assert by_intent["ingest_vector_features"].distribution == "spatial-etl-vector-features"
    assert by_intent["ingest_raster_mosaic"].distribution == "spatial-etl-raster-mosaic"
    assert catalog.failures == []


def test_failures_are_reported_by_name_and_the_others_still_load(
    fake_entry_points: list[EntryPoint],
) -> None:
    catalog = load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))
    assert catalog.names() == ["good_intent", "other_intent"]
    failures = _failures(catalog)
    assert failures["broken_import"] == ("import", "RuntimeError: cannot find libfoo.so")
    assert failures["raising_hook"] == ("register", "KeyError: 'configuration missing'")
    stage, reason = failures["twice_plugin"]
    assert stage == "register"
    assert "DuplicateIntentError" in reason
    assert "registers intent 'twice_intent' twice" in reason
    stage, reason = failures["bad_signature"]
    assert stage == "register"
    assert "catalog" in reason  # pluggy names the argument the spec does not have
    stage, reason = failures["invalid_intent"]
    assert stage == "register"
    assert "unknown placeholder {nowhere}" in reason
    assert "step 'warp'" in reason


def test_two_plugins_claiming_one_intent_is_an_error_naming_both(
    fake_entry_points: list[EntryPoint],
) -> None:
    catalog = load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))
    assert "shared_intent" not in catalog.names()
    [conflict] = catalog.conflicts
    assert conflict.intent == "shared_intent"
    assert [p.name for p in conflict.plugins] == ["other_plugin", "rival_plugin"]
    with pytest.raises(IntentConflictError) as raised:
        catalog.get("shared_intent")
    message = str(raised.value)
    assert "'other_plugin'" in message
    assert "'rival_plugin'" in message
    assert "SPATIAL_ETL_BLOCK_PLUGINS" in message
    # other_plugin's other intent is unaffected
    assert catalog.get("other_intent").plugin.name == "other_plugin"


def test_blocking_one_claimant_resolves_the_conflict(
    fake_entry_points: list[EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_BLOCK_PLUGINS", "rival_plugin, broken_import")
    catalog = load_plugins()
    assert catalog.conflicts == []
    assert catalog.get("shared_intent").plugin.name == "other_plugin"
    assert "broken_import" not in _failures(catalog)


def test_allow_list_loads_only_the_named_plugins(
    fake_entry_points: list[EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "good_plugin,not_installed")
    catalog = load_plugins()
    assert catalog.names() == ["good_intent"]
    assert [p.name for p in catalog.plugins] == ["good_plugin"]
    assert _failures(catalog) == {
        "not_installed": (
            "missing",
            "listed in SPATIAL_ETL_PLUGINS but no installed plugin has this name",
        )
    }


def test_empty_allow_list_loads_nothing(
    fake_entry_points: list[EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "")
    catalog = load_plugins()
    assert catalog.names() == []
    assert catalog.failures == []
    with pytest.raises(UnknownIntentError, match="registered intents: none"):
        catalog.get("good_intent")


def test_allow_and_block_match_distribution_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "spatial-etl-vector-boundary")
    assert load_plugins().names() == ["ingest_vector_boundary"]
    monkeypatch.delenv("SPATIAL_ETL_PLUGINS")
    monkeypatch.setenv("SPATIAL_ETL_BLOCK_PLUGINS", "spatial-etl-vector-boundary")
    assert load_plugins().names() == [
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_features",
    ]


def test_strict_loading_raises_with_every_failure(fake_entry_points: list[EntryPoint]) -> None:
    with pytest.raises(PluginLoadError) as raised:
        load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()), strict=True)
    message = str(raised.value)
    for name in (
        "broken_import",
        "raising_hook",
        "twice_plugin",
        "bad_signature",
        "invalid_intent",
    ):
        assert name in message
    assert "intent 'shared_intent' is registered by both" in message


def test_unknown_intent_lists_the_registered_ones() -> None:
    catalog = load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))
    with pytest.raises(UnknownIntentError) as raised:
        catalog.get("ingest_lidar")
    assert raised.value.known == [
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_boundary",
        "ingest_vector_features",
    ]
    assert "unknown intent 'ingest_lidar'" in str(raised.value)


def test_importing_the_core_loads_no_plugin_and_reads_no_setting() -> None:
    code = (
        "import sys, spatial_etl, spatial_etl.plugins.loading, spatial_etl.cli, spatial_etl.testing;"
        "print(sorted(m for m in sys.modules if m.startswith('spatial_etl_')))"
    )
    env = {"SPATIAL_ETL_PLUGINS": "{not valid", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"
    assert (
        "dagster"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, spatial_etl.cli; print(sorted(sys.modules))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
