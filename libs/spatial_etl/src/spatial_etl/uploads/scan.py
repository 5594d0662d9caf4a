"""Which local files a batch is made of: every regular file below the directory, in order."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path


def glob_matches(pattern: str, relative: str) -> bool:
    """Match the whole relative path, or, for a pattern without ``/``, any name in it.

    So ``*.xml`` matches such files anywhere and ``scratch`` a folder and all below it, which
    is what a user means when leaving things out or naming a driver for some files.
    """
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in relative.split("/"))
    return fnmatch.fnmatchcase(relative, pattern)


def scan_directory(directory: Path, exclude: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """Regular files below ``directory`` as (POSIX relative path, path), sorted by path.

    Hidden files and folders are skipped (editor and VCS droppings are never data), and so
    are files matching an ``exclude`` glob (see :func:`glob_matches`). Symbolic links to files
    are followed; links to folders are not, so a link cannot pull a whole tree in.
    """
    found: list[tuple[str, Path]] = []
    for root, folders, names in os.walk(directory):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in names:
            path = Path(root, name)
            if name.startswith(".") or not path.is_file():
                continue
            relative = path.relative_to(directory).as_posix()
            if any(glob_matches(pattern, relative) for pattern in exclude):
                continue
            found.append((relative, path))
    return sorted(found)
