"""A plugin written outside the project is pip-installed and shows up with no project change.

The plugin is a real distribution (pyproject.toml, hatchling, an entry point in the
``spatial_etl`` group), built and installed by uv into a throw-away target directory that the
CLI subprocess sees through PYTHONPATH; the project's own environment is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from uv import find_uv_bin

PYPROJECT = """
[project]
name = "acme-spatial-plugin"
version = "1.2.3"
requires-python = ">=3.11"
dependencies = ["spatial-etl"]

[project.entry-points.spatial_etl]
acme = "acme_spatial_plugin"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""

MODULE = '''
"""ACME's elevation tiles intent."""
from spatial_etl import (
    hookimpl, Accepts, ExportFormat, ExportStep, FileType, GdalProgram, GdalStep, Intent,
)

INTENT = Intent(
    name="ingest_acme_elevation",
    summary="ACME elevation tiles -> COG with hillshade-friendly overviews",
    accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
    steps=(
        GdalStep(
            name="fill_nodata",
            description="Mark -32768 as nodata.",
            program=GdalProgram.GDAL_TRANSLATE,
            args=("-of", "VRT", "-a_nodata", "-32768", "{src}", "{dst}"),
            output_suffix=".vrt",
        ),
        ExportStep(
            name="export",
            description="COG",
            format=ExportFormat.COG,
            creation_options={"OVERVIEW_RESAMPLING": "AVERAGE"},
        ),
    ),
)


@hookimpl
def register_intents(registry):
    registry.register(INTENT)
'''

MANIFEST = {
    "batch_id": "acme_0001",
    "uploader": "acme-ci",
    "intent": "ingest_acme_elevation",
    "files": [
        {
            "path": "s3://landing-zone/acme_0001/tile_31_55.tif",
            "type": "raster",
            "format": "GTiff",
            "crs": "EPSG:25832",
        }
    ],
    "metadata": {"project": "ACME", "description": "elevation tiles"},
}


def _cli(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPATIAL_ETL_PLUGINS")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    exe = Path(sys.executable).with_name("spatial-etl")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, check=False)


def test_a_pip_installed_plugin_registers_its_intent(tmp_path: Path) -> None:
    source = tmp_path / "acme-spatial-plugin"
    package = source / "src" / "acme_spatial_plugin"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (package / "__init__.py").write_text(MODULE)
    site = tmp_path / "site"

    before = json.loads(_cli("intents", "list", "--json").stdout)
    assert "ingest_acme_elevation" not in {item["name"] for item in before}

    subprocess.run(
        [
            find_uv_bin(),
            "pip",
            "install",
            "--offline",
            "--no-deps",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert (site / "acme_spatial_plugin" / "__init__.py").exists()

    listed = _cli("intents", "list", "--json", pythonpath=site)
    assert listed.returncode == 0, listed.stderr
    by_name = {item["name"]: item for item in json.loads(listed.stdout)}
    acme = by_name["ingest_acme_elevation"]
    assert acme["plugin"]["name"] == "acme"
    assert acme["plugin"]["distribution"] == "acme-spatial-plugin"
    assert acme["plugin"]["version"] == "1.2.3"
    assert {"ingest_vector_boundary", "ingest_satellite_raster"} <= set(by_name)

    manifest = tmp_path / "acme_0001.json"
    manifest.write_text(json.dumps(MANIFEST))
    validated = _cli("manifest", "validate", str(manifest), "--json", pythonpath=site)
    assert validated.returncode == 0, validated.stdout
    assert json.loads(validated.stdout)[0]["plugin"]["distribution"] == "acme-spatial-plugin"

    shutil.rmtree(site)  # uninstall
    after = _cli("intents", "list", "--json", pythonpath=site)
    assert "ingest_acme_elevation" not in {item["name"] for item in json.loads(after.stdout)}
    rejected = _cli("manifest", "validate", str(manifest), "--json")
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)[0]["problems"][0]["code"] == "unknown_intent"
