"""The build cache: parsed cables are remembered by their bytes, and give exactly what a parse gives."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from contentrepo import cable_text, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.buildcache import PARSED, row_check
from pipeline.repository import load

PROJECT = Path(__file__).resolve().parent.parent


def seen(repo) -> tuple[list, list]:
    """Everything a load tells: each cable field by field (``lines`` too), and every finding."""
    return ([(i, dataclasses.asdict(c), c.lines) for i, c in sorted(repo.cables.items())], list(repo.findings))


@pytest.fixture
def troubled(tmp_path):
    """A repository whose cables have a bit of everything: errors, approvals, embargoes, CRLF, BOM."""
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Texte.\n\nSECRET\n", title="Marqué")
    repo.cable("2026-BERLIN-0002", "Texte.\n", embargo=dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC),
               communities=["energie"])
    repo.cable("2026-BERLIN-0007", "<script>x</script>\n")
    repo.write("content/2026/2026-BERLIN-0003.md", "---\nid: [unclosed\n---\nTexte.\n")
    repo.write("content/2026/2026-BERLIN-0004.md", "\ufeff" + cable_text("2026-BERLIN-0004").replace("\n", "\r\n"))
    repo.cable("2026-BERLIN-0005", classification="SECRET", status="withdrawn", supersedes="2026-BERLIN-0001")
    repo.write("content/2026/2026-BERLIN-0006.md", b"---\nid: \xff\n---\n")
    repo.commit("cables")
    repo.approve("2026-BERLIN-0002", "energie")
    return repo


def index_of(cache: Path) -> Path:
    [index] = (cache / PARSED).glob("index-*.sqlite")
    return index


def rows(cache: Path) -> dict[str, dict]:
    """The index's rows by path, each as a mapping of its columns."""
    with contextlib.closing(sqlite3.connect(index_of(cache))) as db:
        db.row_factory = sqlite3.Row
        return {r["path"]: dict(r) for r in db.execute("SELECT * FROM files")}


def test_a_load_through_the_cache_tells_exactly_what_a_parse_tells(troubled, tmp_path):
    plain = seen(load(troubled.root))
    cache = tmp_path / "cache"
    assert seen(load(troubled.root, cache=cache)) == plain  # cold: every cable parsed and saved
    entries = rows(cache)
    assert sorted(entries) == sorted(p.relative_to(troubled.root).as_posix() for p in troubled.root.rglob("*.md"))
    assert seen(load(troubled.root, cache=cache)) == plain  # warm: nothing parsed


def test_a_past_version_is_parsed_through_one_entry_per_file(troubled, tmp_path):
    cache = tmp_path / "cache"
    plain = seen(load(troubled.root, ref="HEAD"))
    assert seen(load(troubled.root, ref="HEAD", cache=cache)) == plain
    assert len(list((cache / PARSED).rglob("*.json"))) == len(list(troubled.root.rglob("*.md")))
    assert seen(load(troubled.root, ref="HEAD", cache=cache)) == plain


def test_the_sample_content_loads_the_same_through_the_cache(tmp_path):
    root = tmp_path / "sample"
    shutil.copytree(PROJECT / "content", root / "content")
    shutil.copy(PROJECT / "communities.yaml", root)
    shutil.copy(PROJECT / "vocabulary.yaml", root)
    load(root, cache=tmp_path / "cache")
    assert seen(load(root, cache=tmp_path / "cache")) == seen(load(root))


def test_only_files_never_seen_are_parsed(troubled, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    load(troubled.root, cache=cache)
    parsed: list[str] = []
    from pipeline import cables

    real = cables.parse
    monkeypatch.setattr(cables, "parse", lambda path, data, found: parsed.append(path) or real(path, data, found))
    path = troubled.root / "content/2026/2026-BERLIN-0001.md"
    path.write_text(path.read_text().replace("title: Marqué", "title: Remarqué"))
    assert load(troubled.root, cache=cache).cables["2026-BERLIN-0001"].title == "Remarqué"
    assert parsed == ["content/2026/2026-BERLIN-0001.md"]


def test_a_damaged_cache_is_parsed_again_and_replaced(troubled, tmp_path):
    cache = tmp_path / "cache"
    plain = seen(load(troubled.root))
    load(troubled.root, cache=cache)
    index = index_of(cache)
    whole = index.read_bytes()
    for damage in (b"{not json", b"", whole[:2048], b"SQLite format 3\0" + b"\0" * 200, whole[:100] + b"\xff" * 300):
        for leftover in index.parent.glob(index.name + "-*"):
            leftover.unlink()
        index.write_bytes(damage)
        assert seen(load(troubled.root, cache=cache)) == plain
        assert len(rows(cache)) == len(list(troubled.root.rglob("*.md")))


def damaged(row: dict, how: str) -> dict:
    """One cache row spoilt in one way, its check made again to match (as a bug of this code could
    write it): each must make the load parse the file again."""
    row = dict(row)
    cable = json.loads(row["cable"])
    if how == "no cable":
        row["cable"] = None
    elif how == "cable not a mapping":
        row["cable"] = "3"
    elif how == "findings not a list":
        row["own"] = '{"x": 1}'
    elif how == "finding with an unknown field":
        row["own"] = '[{"path": "x", "spoilt": 1}]'
    elif how == "sig not text":
        row["sig"] = 5
    elif how == "seen not a number":
        row["seen"] = "later"
    elif how == "sha not text":
        row["sha"] = 5
    elif how == "date not a date" and cable:
        row["cable"] = json.dumps(dict(cable, date="yesterday"))
    row["csum"] = row_check(row["cable"])
    row["chk"] = row_check(row["path"], row["sha"], row["id"], row["idline"], row["own"], row["csum"])
    return row


@pytest.mark.parametrize("how", ["no cable", "cable not a mapping", "findings not a list", "sig not text",
                                 "finding with an unknown field", "seen not a number", "sha not text",
                                 "date not a date"])
def test_a_damaged_entry_is_parsed_again(troubled, tmp_path, how):
    cache = tmp_path / "cache"
    plain = seen(load(troubled.root))
    load(troubled.root, cache=cache)
    with contextlib.closing(sqlite3.connect(index_of(cache))) as db, db:
        for row in rows(cache).values():
            if row["cable"] is not None:
                spoilt = damaged(row, how)
                db.execute("DELETE FROM files WHERE path = ?", (row["path"],))
                db.execute(f"INSERT INTO files ({', '.join(spoilt)}) VALUES ({', '.join('?' * len(spoilt))})",
                           tuple(spoilt.values()))
    assert seen(load(troubled.root, cache=cache)) == plain


def test_other_parsing_code_uses_other_entries(troubled, tmp_path, monkeypatch):
    from pipeline import buildcache

    cache = tmp_path / "cache"
    load(troubled.root, cache=cache)
    monkeypatch.setattr(buildcache, "_code_version", lambda: "another version of the parsing code")
    load(troubled.root, cache=cache)
    assert len(list((cache / PARSED).glob("index-*.sqlite"))) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(front=st.text(alphabet="abcdefgilmnoprstuy:-[]{}'\" \n0123456789TZ_é", max_size=200),
       body=st.text(max_size=200))
def test_any_file_loads_the_same_through_the_cache(tmp_path_factory, front, body):
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    base = cable_text("2026-BERLIN-0001").split("---\n")[1]
    repo.write("content/2026/2026-BERLIN-0001.md", f"---\n{base}{front}\n---\n{body}")
    cache = tmp_path_factory.mktemp("cache")
    plain = seen(load(repo.root))
    assert seen(load(repo.root, cache=cache)) == plain
    assert seen(load(repo.root, cache=cache)) == plain


def settled(path: Path, racy_ns: int) -> None:
    """Wait (a few milliseconds) until the file's times are older than ``racy_ns``: from then on a
    load may trust its stat signature instead of reading it."""
    st = path.stat()
    while time.time_ns() <= max(st.st_mtime_ns, st.st_ctime_ns) + racy_ns:
        time.sleep(0.005)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_edit_is_seen_even_keeping_size_and_modification_time(tmp_path_factory, monkeypatch, data):
    """The stale-cache class: a cable edited in place (same inode), to the same size, with its
    modification time put back, after the cache trusted its stat signature. The edit is seen (its
    ctime moved), and the load tells what a parse tells."""
    from pipeline import buildcache

    monkeypatch.setattr(buildcache, "RACY_NS", 30_000_000)  # 30 ms, well above the kernel's tick
    repo = make_repo(tmp_path_factory.mktemp("stale") / "repo")
    path = repo.cable("2026-BERLIN-0001", "Premier paragraphe.\n\nSecond paragraphe, plus long.\n",
                      title="Titre", summary="Résumé.")
    cache = tmp_path_factory.mktemp("cache")
    load(repo.root, cache=cache)
    settled(path, buildcache.RACY_NS)
    load(repo.root, cache=cache)  # hashed again, now old enough: the next load trusts the signature
    entry = rows(cache)["content/2026/2026-BERLIN-0001.md"]
    before = path.stat()
    ctime = int(entry["sig"].split(",")[2])
    assert ctime + buildcache.RACY_NS < entry["seen"] and ctime == before.st_ctime_ns
    original = path.read_bytes()
    start = data.draw(st.integers(0, len(original) - 1), label="start")
    new = data.draw(st.binary(min_size=1, max_size=min(12, len(original) - start)), label="bytes")
    edited = original[:start] + new + original[start + len(new):]
    with path.open("r+b") as f:  # in place: same inode
        f.write(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert seen(load(repo.root, cache=cache)) == seen(load(repo.root))


def test_a_cable_changed_after_the_load_stops_its_body_being_read(troubled, tmp_path, monkeypatch):
    from pipeline import buildcache

    monkeypatch.setattr(buildcache, "RACY_NS", 30_000_000)
    cache = tmp_path / "cache"
    load(troubled.root, cache=cache)
    path = troubled.root / "content/2026/2026-BERLIN-0002.md"
    settled(path, buildcache.RACY_NS)
    load(troubled.root, cache=cache)
    repo = load(troubled.root, cache=cache)  # the body is read when asked for
    path.write_text(path.read_text().replace("Texte.", "Autre texte."))
    with pytest.raises(buildcache.ContentChanged, match="2026-BERLIN-0002.md changed"):
        assert repo.cables["2026-BERLIN-0002"].body


def test_a_librarys_version_is_read_as_importlib_metadata_reads_it():
    """The cache's keys name the versions of the libraries the checks depend on, read from each
    distribution's METADATA without importing importlib.metadata: the same versions, every installed
    distribution whatever the spelling of its name, and "absent" for one that is not installed."""
    import importlib.metadata

    from pipeline.buildcache import version_of

    names = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    for name in sorted(names) + ["email-validator", "Email_Validator", "pymdown_extensions", "PyYAML"]:
        assert version_of(name) == importlib.metadata.version(name), name
    assert version_of("no-such-distribution-here") == "absent"
