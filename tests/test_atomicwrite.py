"""The one atomic file writer (gate/files.py), used by the key files, the folder store and the pipeline:
whole or not at all, the replaced file's mode kept, create-if-absent with exactly one winner."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gate.files import create_atomic, write_atomic
from gate.store import FolderStore

PROJECT = Path(__file__).resolve().parent.parent


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def test_a_new_file_is_written_whole_with_its_folders(tmp_path):
    target = tmp_path / "a" / "b" / "state.json"
    write_atomic(target, b'{"ok": true}\n')
    assert target.read_bytes() == b'{"ok": true}\n'
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 & ~_umask()


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "cable.md"
    target.write_text("before\n")
    target.chmod(0o640)
    write_atomic(target, b"after\n")
    assert target.read_text() == "after\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_explicit_mode_wins_over_the_replaced_file_and_the_umask(tmp_path):
    target = tmp_path / "public.json"
    target.write_text("{}")
    target.chmod(0o600)
    write_atomic(target, b"{}", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_new_file_mode_is_subject_to_the_umask(tmp_path):
    target = tmp_path / "blob"
    write_atomic(target, b"x", new_mode=0o644, fsync=False)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 & ~_umask()


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_bytes(b"previous")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]  # fails halfway, inside the write
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize("writer", ["write_atomic", "create_atomic"])
def test_a_disk_that_fills_up_midway_leaves_the_previous_file_and_no_temporary(tmp_path, writer):
    """A real partial write: the file size limit stops the write after 4 KiB (EFBIG, as a full disk would)."""
    target = tmp_path / "keys.json"
    target.write_bytes(b"previous")
    fresh = tmp_path / "fresh.json"
    script = textwrap.dedent(f"""
        import errno, resource, signal, sys
        from pathlib import Path
        from gate.files import {writer} as write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            write(Path(sys.argv[1]), b"x" * 100_000)
        except OSError as exc:
            sys.exit(0 if exc.errno == errno.EFBIG else 3)
        sys.exit(2)
    """)
    for path in (target, fresh):
        done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=PROJECT, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})
        assert done.returncode == 0, done.stderr
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]


def test_create_writes_only_if_absent(tmp_path):
    target = tmp_path / "blobs" / "ab" / "abcd"
    assert create_atomic(target, b"first") is True
    assert create_atomic(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["abcd"]


def test_of_concurrent_creators_exactly_one_wins_and_its_bytes_stay(tmp_path):
    target = tmp_path / "pointer"
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: create_atomic(target, f"writer {i}".encode(), fsync=False), range(32)))
    assert won.count(True) == 1
    assert target.read_bytes() == f"writer {won.index(True)}".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["pointer"]


def test_a_file_where_a_folder_should_be_is_an_error_not_a_lost_race(tmp_path):
    (tmp_path / "blobs").write_bytes(b"not a folder")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        create_atomic(tmp_path / "blobs" / "ab", b"x")


def test_the_folder_store_writes_through_it(tmp_path):
    store = FolderStore(tmp_path / "store")
    store.put("releases/europe/manifest.json", b"{}")
    assert store.create("blobs/ab/abcd", b"blob") is True
    assert store.create("blobs/ab/abcd", b"other") is False
    assert store.get("blobs/ab/abcd") == b"blob"
    for key in ("releases/europe/manifest.json", "blobs/ab/abcd"):
        assert stat.S_IMODE((tmp_path / "store" / key).stat().st_mode) == 0o644 & ~_umask()
    assert not list((tmp_path / "store").rglob(".tmp-*"))
