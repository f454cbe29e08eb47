"""Writing a file whole or not at all: the one atomic file writer of the gate and the pipeline.

A crash, a full disk or an exception halfway leaves the previous file as it was (or no file), never
a truncated one: the bytes go to a temporary file in the same folder (named ``.tmp-<name>.<random>``,
which the folder store's listing skips), are flushed to disk (``fsync``, unless the caller writes a
cache it can rebuild), and the temporary file is then renamed over the target (``os.replace``,
atomic on POSIX) or linked to it if absent (``os.link``, atomic create-if-absent). The temporary file
is removed on every path out.

The key files (gate/tokens.py), the folder store (gate/store.py), the pipeline's build cache and its
edits of the content (pipeline/yamledit.py) all write through here. A contract module: it imports
nothing of the gate or the pipeline.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The prefix of the temporary files; whoever lists a folder written here skips the names it starts.
TEMP_PREFIX = ".tmp-"


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, new_mode: int = 0o600,
                 fsync: bool = True) -> None:
    """Write ``data`` to ``path`` whole or not at all, replacing it if present, creating its folders.

    ``mode``: the file's exact permission bits. By default those of the file replaced (an edited
    source file keeps its mode), else ``new_mode`` less the process umask, as ``open`` would.
    ``fsync=False`` only for what can be rebuilt (a cache): the rename stays atomic, but the bytes
    may not have reached the disk when the call returns.
    """
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)
    with _written_temporary(path, data, mode=mode, new_mode=new_mode, fsync=fsync) as temporary:
        os.replace(temporary, path)


def create_atomic(path: Path, data: bytes, *, new_mode: int = 0o600, fsync: bool = True) -> bool:
    """Create ``path`` holding ``data`` whole, unless it exists: False (and nothing written) if it does.

    The file appears complete or not at all, and of two concurrent creators exactly one wins. A
    folder or file standing where a parent folder should be raises (``FileExistsError`` or
    ``NotADirectoryError``): that is a broken tree, not a lost race.
    """
    with _written_temporary(path, data, mode=None, new_mode=new_mode, fsync=fsync) as temporary:
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    return True


@contextlib.contextmanager
def _written_temporary(path: Path, data: bytes, *, mode: int | None, new_mode: int,
                       fsync: bool) -> Iterator[Path]:
    """A temporary file beside ``path`` holding ``data`` (flushed if ``fsync``), removed when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f"{TEMP_PREFIX}{path.name}.{uuid.uuid4().hex}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_mode if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)
