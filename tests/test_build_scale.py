"""A cable page does not grow with the corpus: the navigation lists indexes, never every cable."""

from __future__ import annotations

import re
from pathlib import Path

from contentrepo import cli

from bench.corpus import write_corpus
from pipeline.build import build_sites
from pipeline.history import published_versions
from pipeline.plan import make_plan
from pipeline.repository import load


def page_overhead(site: Path) -> list[int]:
    """Bytes of each cable page outside its own article and table of contents."""
    sizes = []
    for page in site.glob("2*/*.html"):
        text = page.read_text(encoding="utf-8")
        article = re.search(r'<article class="md-content__inner md-typeset"[^>]*>.*?</article>', text, re.S).group(0)
        toc = re.search(r'<nav class="md-nav md-nav--secondary".*?</nav>\s*</div>', text, re.S).group(0)
        title = re.search(r"<title>(.*?)</title>", text).group(1)
        sizes.append(len(text) - len(article) - len(toc) - 3 * len(title))
    return sizes


def test_cable_page_size_is_flat_as_the_corpus_grows(tmp_path):
    overheads = {}
    for n in (20, 200):
        root = tmp_path / f"corpus-{n}"
        write_corpus(root, n, 2, git=True)
        repo = load(root)
        plan = make_plan(repo)
        results = build_sites(repo, plan, root / "site", versions=published_versions(repo, plan.published()), progress=False)
        site = results["communaute-1"].path
        assert len(results["communaute-1"].cables) > n // 10
        overheads[n] = page_overhead(site)
    # Ten times the cables: the template around a cable's own text stays within a few bytes
    # (description and ids vary), where a navigation listing every cable would add kilobytes.
    assert max(overheads[200]) - min(overheads[20]) < 400, (min(overheads[20]), max(overheads[200]))


def test_build_command_prints_one_line_per_community_and_fails_clearly(tmp_path):
    root = tmp_path / "corpus"
    write_corpus(root, 12, 2, git=True)
    first = cli("build", "--root", str(root), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["built", "communaute-1"], ["built", "communaute-2"]]
    assert (tmp_path / "out/communaute-1/index.html").is_file()
    again = cli("build", "--root", str(root), "--out", str(tmp_path / "out"), "--json")
    assert '"cached": true' in again.stdout
    unknown = cli("build", "--root", str(root), "--community", "nowhere")
    assert unknown.returncode == 1
    assert "Error: unknown community: nowhere (known: communaute-1, communaute-2)" in unknown.stderr
    assert "Traceback" not in unknown.stderr
