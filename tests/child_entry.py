"""Entry of a spawned child: ``python -m child_entry MODULE:FUNCTION PAYLOAD_JSON RESULT_PATH``.

Calls the function with the decoded payload; writes its return value as JSON to RESULT_PATH
and exits 0, or prints the traceback and exits 1. See ``processes.spawn``.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    target, payload_json, result_path = argv
    try:
        module_name, _, function_name = target.partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(json.loads(payload_json))
        Path(result_path).write_text(json.dumps(result, default=str))
    except BaseException:  # noqa: BLE001 - the traceback is the child's report
        traceback.print_exc()
        sys.stdout.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
