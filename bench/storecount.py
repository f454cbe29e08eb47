"""Run one ``diplomatie`` command with every store request counted and every upload recorded.

    python bench/storecount.py LOG.json -- publish --root … --store …

Wraps the folder and S3 stores of ``gate/store.py`` (whichever version of the project is first on
``PYTHONPATH``), so the same accounting applies to both: one request per ``get``, ``put``,
``create``, ``head``, ``exists`` and ``delete`` call, and one per 1,000 keys listed (S3's
ListObjectsV2 page) for ``scan``/``list``; a call made inside another counted call (the folder
store's ``list`` reads ``scan``) is not counted twice. Writes to LOG the requests by method, each
upload's key and size, the path → blob map of every manifest uploaded (to tell what each uploaded
blob is: a format 2 manifest's leaves uploaded name every changed file), and which uploaded blobs
are manifest nodes.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
from pathlib import Path

# This script's folder (bench/, which holds a gate.py of its own) is first on sys.path: take it out,
# so that ``gate`` is the project's package of the version on PYTHONPATH.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from gate import store  # noqa: E402

requests: collections.Counter[str] = collections.Counter()
uploads: list[tuple[str, int]] = []
manifests: dict[str, list[str]] = collections.defaultdict(list)  # blob sha256 -> site paths
nodes: list[str] = []  # blobs uploaded that are manifest nodes (format 2), not site files
_depth = threading.local()


def _count(name: str, n: int = 1) -> None:
    if getattr(_depth, "value", 0) == 0:
        requests[name] += n


def _plain(cls: type, name: str) -> None:
    real = getattr(cls, name)

    def counted(self, *args, **kwargs):
        outer = getattr(_depth, "value", 0) == 0
        _depth.value = getattr(_depth, "value", 0) + 1
        try:
            result = real(self, *args, **kwargs)
        finally:
            _depth.value -= 1
        if outer:
            requests[name] += 1
            if name in ("put", "create"):
                key, data = args[0], args[1]
                uploads.append((key, len(data)))
                _learn_paths(key, data)
        return result
    setattr(cls, name, counted)


def _file_entry(path: str, entry: dict) -> None:
    manifests[entry["sha256"]].append(path)
    for encoded in (entry.get("encodings") or {}).values():  # a precompressed copy counts as its file
        manifests[encoded["sha256"]].append(path)


def _learn_paths(key: str, data: bytes) -> None:
    """Which site path each uploaded blob is, from the manifests uploaded: a format 1 manifest's
    ``files``, a format 2 table's leaves (a changed file's entry is always in a leaf uploaded with it).
    A format 2 manifest's own nodes are marked as such (``nodes``)."""
    try:
        obj = json.loads(data)
    except ValueError:
        return
    if not isinstance(obj, dict):
        return
    try:
        if key.startswith(store.RELEASES_PREFIX) and isinstance(obj.get("files"), dict):
            for path, entry in obj["files"].items():
                _file_entry(path, entry)
        elif key.startswith(store.BLOBS_PREFIX) and obj.get("kind") in ("leaf", "node", "cables"):
            nodes.append(key[len(store.BLOBS_PREFIX):])
            for name, entry in (obj.get("entries") or {}).items():
                if name.startswith("f:"):
                    _file_entry(name[2:], entry)
    except (KeyError, TypeError, AttributeError):
        pass


def _listing(cls: type, name: str) -> None:
    real = getattr(cls, name)

    def counted(self, *args, **kwargs):
        outer = getattr(_depth, "value", 0) == 0
        _depth.value = getattr(_depth, "value", 0) + 1
        n = 0
        try:
            for item in real(self, *args, **kwargs):
                n += 1
                yield item
        finally:
            _depth.value -= 1
            if outer:
                requests[name] += 1 + n // 1000
    setattr(cls, name, counted)


def main() -> None:
    log, args = Path(sys.argv[1]), sys.argv[sys.argv.index("--") + 1:]
    for cls in (store.FolderStore, store.S3Store):
        for name in ("get", "put", "create", "head", "exists", "delete"):
            _plain(cls, name)
        for name in ("scan", "list"):
            _listing(cls, name)
    from pipeline.cli import main as diplomatie

    try:
        diplomatie(args, prog_name="diplomatie")
    finally:
        log.write_text(json.dumps({"requests": requests, "uploads": uploads, "manifests": manifests,
                                   "nodes": nodes}))


if __name__ == "__main__":
    main()
