"""Writing a file whole or not at all: the one atomic writer of the pipeline.

A crash, a full disk or an exception halfway leaves the previous file as it was, never a truncated
one: the bytes go to a temporary file in the same folder, which is then renamed over the target
(``os.replace``, atomic on POSIX). The build cache, its memories and the approvals written into a
cable all go through :func:`write_atomic`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` whole or not at all, creating its folders.

    ``mode``: the file's permission bits; by default those of the file replaced (an edited source
    file keeps its mode), else 0600, the temporary file's own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
