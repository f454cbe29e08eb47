"""Writing a file whole or not at all: the one atomic writer of the pipeline.

A temporary file in the same folder is written, then renamed over the target with ``os.replace``
(atomic on one file system), so a crash or a full disk leaves the previous file, never half of the
new one. An existing file keeps its permission bits.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a crash leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(FileNotFoundError):  # a new file keeps mkstemp's owner-only mode
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
