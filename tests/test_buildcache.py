"""The build cache: parsed cables are remembered by their bytes, and give exactly what a parse gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from contentrepo import cable_text, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.buildcache import PARSED
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


def test_a_load_through_the_cache_tells_exactly_what_a_parse_tells(troubled, tmp_path):
    plain = seen(load(troubled.root))
    cache = tmp_path / "cache"
    assert seen(load(troubled.root, cache=cache)) == plain  # cold: every cable parsed and saved
    assert len(list((cache / PARSED).rglob("*.json"))) == len(list(troubled.root.rglob("*.md")))
    assert seen(load(troubled.root, cache=cache)) == plain  # warm: nothing parsed


def test_the_sample_content_loads_the_same_through_the_cache(tmp_path):
    root = tmp_path / "sample"
    shutil.copytree(PROJECT / "content", root / "content")
    shutil.copy(PROJECT / "communities.yaml", root)
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


def test_a_damaged_cache_entry_is_parsed_again_and_replaced(troubled, tmp_path):
    cache = tmp_path / "cache"
    plain = seen(load(troubled.root))
    load(troubled.root, cache=cache)
    entries = sorted((cache / PARSED).rglob("*.json"))
    for damage in ("{not json", "[]", json.dumps({"cable": 3, "findings": []}), ""):
        for entry in entries:
            entry.write_text(damage)
        assert seen(load(troubled.root, cache=cache)) == plain
        assert all(json.loads(entry.read_text())["findings"] is not None for entry in entries)


def test_other_parsing_code_uses_other_entries(troubled, tmp_path, monkeypatch):
    from pipeline import buildcache

    cache = tmp_path / "cache"
    load(troubled.root, cache=cache)
    monkeypatch.setattr(buildcache, "_code_version", lambda: "another version of the parsing code")
    load(troubled.root, cache=cache)
    assert len([d for d in (cache / PARSED).iterdir() if d.is_dir()]) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
