"""The pipeline's one atomic write (pipeline/atomicwrite.py): whole or not at all, the replaced file's mode kept."""

from __future__ import annotations

import stat

import pytest

from pipeline.atomicwrite import write_atomic


def test_a_new_file_is_written_whole_with_its_folders(tmp_path):
    target = tmp_path / "a" / "b" / "state.json"
    write_atomic(target, b'{"ok": true}\n')
    assert target.read_bytes() == b'{"ok": true}\n'
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "cable.md"
    target.write_text("before\n")
    target.chmod(0o640)
    write_atomic(target, b"after\n")
    assert target.read_text() == "after\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_explicit_mode_wins(tmp_path):
    target = tmp_path / "public.json"
    write_atomic(target, b"{}", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_bytes(b"previous")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]  # fails halfway, inside the write
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
