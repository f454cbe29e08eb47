"""``pipeline.siteconfig``: a content repository's mkdocs.yml enables only what reads no file and runs
no code; ``check`` and ``build`` refuse the rest, naming the line."""

from __future__ import annotations

import pytest
from contentrepo import make_repo
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import siteconfig
from pipeline.build import PROJECT_DIR, BuildError, build_sites
from pipeline.plan import make_plan
from pipeline.repository import load

BASE = (PROJECT_DIR / "mkdocs.yml").read_text(encoding="utf-8")

REFUSED = [
    ("hooks:\n  - hooks.py\n", "key 'hooks'"),
    ("INHERIT: /etc/diplomatie/mkdocs.yml\n", "key 'INHERIT'"),
    ("markdown_extensions:\n  - pymdownx.snippets:\n      base_path: /\n", "'pymdownx.snippets'"),
    ("markdown_extensions:\n  - markdown_include.include\n", "'markdown_include.include'"),
    ("markdown_extensions:\n  - pymdownx.emoji\n", "'pymdownx.emoji'"),
    ("markdown_extensions:\n  - toc:\n      slugify: !!python/name:os.system\n", "YAML tag"),
    ("plugins:\n  - macros\n", "plugin 'macros'"),
    ("plugins:\n  - mkdocs-simple-hooks:\n      hooks: {on_env: x:y}\n", "plugin 'mkdocs-simple-hooks'"),
    ("plugins:\n  search: {}\n  git-revision-date: {}\n", "plugin 'git-revision-date'"),
    ("extra:\n  home: !ENV HOME\n", "YAML tag !ENV"),
    ("extra_css:\n  - https://fonts.example.org/a.css\n", "extra_css entry"),
    ("extra_javascript:\n  - path: //cdn.example.org/a.js\n", "extra_javascript entry"),
    ("theme:\n  name: material\n  custom_dir: ../elsewhere\n", "outside the repository"),
    ("theme:\n  name: material\n  custom_dir: /etc\n", "outside the repository"),
]
ALLOWED = sorted(siteconfig.ALLOWED_EXTENSIONS)


def test_the_projects_own_configuration_is_allowed():
    assert siteconfig.problems(BASE, PROJECT_DIR) == []


@pytest.mark.parametrize("snippet, named", REFUSED, ids=[n for _, n in REFUSED])
def test_what_reads_files_or_runs_code_is_refused_at_its_line(tmp_path, snippet, named):
    text = "site_name: Diplomatie\nuse_directory_urls: false\n" + snippet
    found = siteconfig.problems(text, tmp_path)
    assert found and named in found[0].message and found[0].line >= 3


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(ALLOWED), min_size=1, max_size=6, unique=True), st.booleans())
def test_allowed_extensions_pass_in_either_list_form(names, as_mapping):
    items = "".join(f"  - {n}:\n      {{}}\n" if as_mapping else f"  - {n}\n" for n in names)
    text = f"site_name: x\nmarkdown_extensions:\n{items}plugins:\n  - search\n"
    assert siteconfig.problems(text.replace(":\n      {}", ": {}"), PROJECT_DIR) == []


def _repo_with_macros(root):
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001")
    repo.approve("2026-BERLIN-0001", "energie")
    repo.write("mkdocs.yml", BASE.replace("plugins:\n  - search\n", "plugins:\n  - search\n  - macros\n"))
    repo.commit("config", date="2026-11-20T10:00:00Z")
    return repo


def test_check_and_build_refuse_a_plugin_off_the_list(tmp_path):
    repo = _repo_with_macros(tmp_path / "content")
    result = repo.run("check")
    assert result.code == 1 and "mkdocs.yml:" in result.output and "E502" in result.output \
        and "plugin 'macros'" in result.output and "allowed: material/search, search" in result.output
    loaded = load(repo.root)
    with pytest.raises(BuildError, match=r"mkdocs.yml:\d+:\d+: plugin 'macros' is not on the allow-list"):
        build_sites(loaded, make_plan(loaded), tmp_path / "out", versions={}, progress=False, jobs=1)
