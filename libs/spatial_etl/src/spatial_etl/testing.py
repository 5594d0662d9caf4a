"""Helpers for plugin authors' test suites (and the platform's own): no Docker, no I/O.

``check_plugin(my_plugin_module)`` registers a plugin exactly as the host would, resolves every
intent's plan for an example manifest of each accepted driver, and returns the plans, so a
plugin's tests catch declaration errors long before a user's run does. ``FakeGdalRunner``
stands in for :class:`spatial_etl.spatial_utils.runner.SubprocessGdalRunner`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from spatial_etl.errors import GdalError, GdalNotFoundError
from spatial_etl.models.drivers import extension_of
from spatial_etl.models.kinds import FileType
from spatial_etl.models.manifest import Manifest
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins.loading import register_plugin
from spatial_etl.plugins.registry import IntentCatalog, RegisteredIntent
from spatial_etl.run.planning import (
    InputBinding,
    Plan,
    RunValues,
    resolve_batch_plan,
    resolve_plan,
)
from spatial_etl.run.validation import check_manifest
from spatial_etl.spatial_utils.runner import (
    PROGRAMS,
    CommandResult,
    check_result,
    redact,
    redact_argv,
)

__all__ = [
    "FakeGdalRunner",
    "check_plugin",
    "example_manifest",
    "example_run",
    "load_plugin",
    "mongo_schema_errors",
]


def load_plugin(plugin: object, name: str = "plugin_under_test") -> list[RegisteredIntent]:
    """Register ``plugin`` (a module or object with hook implementations) as the host would.

    Raises whatever the host would report as the plugin's failure (an invalid intent, a
    duplicate name, a hook with a wrong signature).
    """
    return _catalog(plugin, name).intents


def _catalog(plugin: object, name: str) -> IntentCatalog:
    info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
    return IntentCatalog([register_plugin(info, plugin)])


def example_manifest(
    registered: RegisteredIntent,
    *,
    driver: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    batch_id: str = "example_batch",
    crs: str = "EPSG:4326",
    files: int = 1,
) -> Manifest:
    """A valid manifest for the intent, with ``files`` files of ``driver`` (default: the first).

    One file is ``example<ext>``; several are ``example_<i><ext>`` (a batch intent's tiles).
    """
    accepts = registered.intent.accepts
    driver = driver or sorted(accepts.drivers)[0]
    suffix = extension_of(driver) or ".dat"
    stems = ["example"] if files == 1 else [f"example_{i}" for i in range(files)]
    raw = {
        "batch_id": batch_id,
        "uploader": "plugin-tests",
        "intent": registered.intent.name,
        "files": [
            {
                "path": f"s3://landing-zone/{batch_id}/{stem}{suffix}",
                "type": accepts.file_type.value,
                "format": driver,
                "crs": crs,
            }
            for stem in stems
        ],
        "metadata": {
            "project": "TESTS",
            "description": "example",
            "parameters": dict(parameters or {}),
        },
    }
    return Manifest.model_validate(raw, context={"manifest_name": f"{batch_id}.json"})


def example_run(workdir: Path = Path("/tmp/spatial-etl-example")) -> RunValues:  # noqa: S108
    """Run values that look like a real run's, for resolving plans in tests."""
    return RunValues(
        run_id="0f2c4e1a-5b6d-4c8e-9a7b-3d2e1f0a9b8c",
        schema_name="proc_0f2c4e1a5b6d4c8e",
        workdir=workdir,
        postgis="PG:host=127.0.0.1 port=5432 dbname=compute user=etl",
    )


def check_plugin(
    plugin: object,
    *,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    name: str = "plugin_under_test",
) -> list[Plan]:
    """Register a plugin and resolve each intent's plan for every driver it accepts.

    A batch intent (``inputs='batch'``) is planned over a batch of two files. ``parameters``
    maps an intent name to the parameters to resolve with, so conditional steps can be
    exercised. Returns the plans; raises on the first declaration or resolution error.
    """
    plans: list[Plan] = []
    catalog = _catalog(plugin, name)
    for registered in catalog.intents:
        given = (parameters or {}).get(registered.intent.name, {})
        for driver in sorted(registered.intent.accepts.drivers):
            batch = registered.intent.takes_batch
            manifest = example_manifest(
                registered, driver=driver, parameters=given, files=2 if batch else 1
            )
            text = manifest.model_dump_json()
            report = check_manifest(text, source=f"{manifest.batch_id}.json", catalog=catalog)
            if not report.valid:
                raise AssertionError(f"example manifest rejected: {report.problems}")
            bindings = [
                InputBinding(
                    index=index,
                    file=item,
                    gdal_path=f"/vsis3/{item.landing.bucket}/{item.landing.key}",
                    layer=PurePosixPath(item.landing.key).stem
                    if registered.intent.accepts.file_type is FileType.VECTOR
                    else None,
                )
                for index, item in enumerate(manifest.files)
            ]
            if batch:
                plans.append(resolve_batch_plan(registered, manifest, bindings, example_run()))
            else:
                plans.append(resolve_plan(registered, manifest, bindings[0], example_run()))
    return plans


@dataclass
class _Response:
    program: str
    patterns: tuple[str, ...]
    stdout: str
    stderr: str
    returncode: int
    effect: Callable[[Sequence[str]], None] | None


@dataclass
class FakeGdalRunner:
    """A scripted stand-in for the GDAL runner: records calls, answers by program and pattern.

    Responses are matched in the order they were added: the program name must equal
    ``argv[0]`` and every glob pattern must match some argument. A non-zero ``returncode``
    raises :class:`spatial_etl.errors.GdalCommandError`, exactly like the real runner.
    """

    calls: list[tuple[str, ...]] = field(default_factory=list)
    _responses: list[_Response] = field(default_factory=list)

    def respond(
        self,
        program: str,
        *patterns: str,
        stdout: str = "",
        stderr: str = "",
        returncode: int = 0,
        effect: Callable[[Sequence[str]], None] | None = None,
    ) -> FakeGdalRunner:
        """Script the answer to commands of ``program`` whose arguments match ``patterns``."""
        if program not in PROGRAMS:
            raise ValueError(f"{program!r} is not a GDAL program")
        self._responses.append(_Response(program, patterns, stdout, stderr, returncode, effect))
        return self

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Answer like the real runner would, from the scripted responses."""
        if not argv:
            raise GdalError("empty command")
        self.calls.append(tuple(argv))
        for response in self._responses:
            if response.program == argv[0] and all(
                any(fnmatch.fnmatchcase(arg, pattern) for arg in argv[1:])
                for pattern in response.patterns
            ):
                if response.effect is not None:
                    response.effect(argv)
                result = CommandResult(
                    argv=redact_argv(argv),
                    returncode=response.returncode,
                    stdout=redact(response.stdout),
                    stderr=redact(response.stderr),
                    duration_s=0.0,
                )
                return check_result(result) if check else result
        raise GdalNotFoundError(f"FakeGdalRunner has no response scripted for {list(argv)}")


_INT32 = 2**31
_INT64 = 2**63


def _is_int(value: object, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound


_BSON_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "string": lambda _, v: isinstance(v, str),
    "int": lambda _, v: _is_int(v, _INT32),
    "long": lambda _, v: _is_int(v, _INT64),
    "double": lambda _, v: isinstance(v, float),
    "bool": lambda _, v: isinstance(v, bool),
    "object": lambda _, v: isinstance(v, dict),
    "array": lambda _, v: isinstance(v, list | tuple),  # pymongo encodes both as arrays
    "null": lambda _, v: v is None,
    "date": lambda _, v: isinstance(v, datetime),
    "binData": lambda _, v: isinstance(v, bytes),
}


@cache
def _mongo_validator() -> Any:
    # jsonschema is a test dependency only: imported when a test asks for the evaluator.
    from bson import ObjectId  # noqa: PLC0415
    from jsonschema import Draft4Validator, ValidationError, validators  # noqa: PLC0415

    def bson_type(validator: Any, expected: str | list[str], instance: Any, _: Any) -> Any:
        names = [expected] if isinstance(expected, str) else expected
        if not any(validator.is_type(instance, name) for name in names):
            yield ValidationError(f"{instance!r} is not of bsonType {expected}")

    checks = {**_BSON_CHECKS, "objectId": lambda _, v: isinstance(v, ObjectId)}
    return validators.extend(  # type: ignore[no-untyped-call]  # untyped in types-jsonschema
        Draft4Validator,
        validators={"bsonType": bson_type},
        type_checker=Draft4Validator.TYPE_CHECKER.redefine_many(checks),
    )


def mongo_schema_errors(schema: Mapping[str, Any], document: Mapping[str, Any]) -> list[str]:
    """What MongoDB's ``$jsonSchema`` validator would say about ``document``, one line each.

    MongoDB cannot run everywhere tests run, and mongomock ignores validators; this evaluates
    the same schema with ``jsonschema`` (draft 4, MongoDB's dialect, plus ``bsonType``, with
    datetimes as BSON dates). Needs the ``jsonschema`` package.
    """
    found = _mongo_validator()(dict(schema)).iter_errors(dict(document))
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found)
