"""Build time of ``diplomatie build`` side by side with plain MkDocs and with Hugo, in one run.

    .venv/bin/python bench/build.py [--cables 2000] [--communities 8] [--sizes 200,1000,4000] [--jobs N]

On one synthetic corpus (bench/corpus.py), times in turn:

- ``diplomatie build`` with a cold cache, then ``--force`` (the per-cable cache warm);
- (a) plain ``mkdocs build`` run once per community, sequentially, on the same Markdown pages with
  the project's mkdocs.yml (mkdocs-material, search plugin, the same Markdown extensions) and a small
  nav — what a competent team would script by hand;
- (b) Hugo (Debian's ``hugo``), once per community, on the same pages with a minimal theme written
  here (single.html and list.html), as the fast reference. To do comparable work it also writes a
  search index (``index.json``: every page's title, address and text, as mkdocs' search plugin
  writes ``search_index.json``) and copies mkdocs-material's assets (stylesheets, scripts, fonts)
  into each site; it omits what only ours does (sanitising, the isolation, marking, script and
  off-site audits, the CSP hashes, feeds, version pages) and says so in its output;
- a rebuild after editing one cable (edit and commit), and a rebuild with nothing changed.

Then builds corpora of ``--sizes`` cables and reports the mean cable page size, which must not grow
with the number of cables. Prints Markdown tables, the ratios, and the command that reproduces them.
The machine is shared and noisy: compare ratios, which are measured back to back.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402

BIN = Path(sys.executable).parent
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org",
           "GIT_AUTHOR_DATE": "2026-11-02T12:00:00Z", "GIT_COMMITTER_DATE": "2026-11-02T12:00:00Z"}

HUGO_SINGLE = """<!doctype html>
<html lang="{{ .Site.LanguageCode }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} · {{ .Site.Title }}</title></head>
<body><header><a href="{{ .Site.BaseURL }}">{{ .Site.Title }}</a></header>
<main><h1>{{ .Title }}</h1>{{ .TableOfContents }}{{ .Content }}</main></body></html>
"""
#: The search index, as mkdocs' search plugin writes one: each page's title, address and text.
HUGO_SEARCH = """{{- $docs := slice -}}
{{- range .Site.RegularPages -}}
{{- $docs = $docs | append (dict "location" .RelPermalink "title" .Title "text" .Plain) -}}
{{- end -}}
{{- dict "docs" $docs | jsonify -}}
"""
HUGO_OMITS = ("sanitising, the isolation/marking/script/off-site audits, CSP hashes, feeds and version "
              "pages (only ours does them)")
HUGO_LIST = """<!doctype html>
<html lang="{{ .Site.LanguageCode }}"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><h1>{{ .Title }}</h1>{{ .Content }}
<ul>{{ range .Paginator.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
</body></html>
"""


def run(args: Sequence[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Run a command to completion (output captured, shown on failure); return its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(map(str, args))}\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def ours(root: Path, out: Path, jobs: int | None, *extra: str, cache: Path | None = None) -> float:
    args: list[str | Path] = [BIN / "diplomatie", "build", "--root", root, "--out", out, *extra]
    if jobs:
        args += ["--jobs", str(jobs)]
    if cache:
        args += ["--cache", cache]
    return run(args)


def published(root: Path) -> dict:
    """Per community: (Community, cables it publishes), from the project's own plan."""
    from pipeline.plan import make_plan
    from pipeline.repository import load

    plan = make_plan(load(root))
    return {name: (cp.community, cp.publish) for name, cp in plan.communities.items()}


def page_markdown(cable) -> str:
    """The same page content for both baselines: title, the metadata, the summary, the body."""
    meta = "\n".join([f"- **{k}** : {v}" for k, v in (
        ("Id", cable.id), ("Date", cable.date.isoformat()), ("Poste", cable.post), ("Ministère", cable.ministry),
        ("Sujets", ", ".join(cable.subjects)), ("Langue", cable.language))])
    return f"{meta}\n\n> {cable.summary}\n\n{cable.body}\n"


def mkdocs_projects(sites: dict, base: Path) -> list[Path]:
    """One plain MkDocs project per community: the project's theme, plugins and extensions, small nav."""
    config = yaml.safe_load((PROJECT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["theme"].pop("custom_dir", None)
    configs = []
    for name, (community, cables) in sorted(sites.items()):
        project = base / name
        docs = project / "docs"
        (docs).mkdir(parents=True)
        (docs / "index.md").write_text(f"# {community.title}\n\n{community.description}\n", encoding="utf-8")
        for cable in cables:
            path = docs / str(cable.year) / f"{cable.id}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"# {cable.title}\n\n{page_markdown(cable)}", encoding="utf-8")
        site_config = {**config, "site_name": community.title, "docs_dir": "docs", "site_dir": "site",
                       "theme": {**config["theme"], "language": community.language},
                       "plugins": [{"search": {"lang": community.language}}],
                       "nav": [{"Accueil" if community.language == "fr" else "Home": "index.md"}]}
        (project / "mkdocs.yml").write_text(yaml.safe_dump(site_config, allow_unicode=True), encoding="utf-8")
        configs.append(project / "mkdocs.yml")
    return configs


def hugo_projects(sites: dict, base: Path) -> list[Path]:
    """One Hugo project per community with a minimal theme written here; same pages."""
    projects = []
    for name, (community, cables) in sorted(sites.items()):
        project = base / name
        (project / "layouts" / "_default").mkdir(parents=True)
        (project / "layouts" / "_default" / "single.html").write_text(HUGO_SINGLE, encoding="utf-8")
        (project / "layouts" / "_default" / "list.html").write_text(HUGO_LIST, encoding="utf-8")
        (project / "layouts" / "index.json").write_text(HUGO_SEARCH, encoding="utf-8")
        shutil.copytree(material_assets(), project / "static" / "assets")  # copied by every build, as mkdocs does
        (project / "config.yaml").write_text(yaml.safe_dump({
            "baseURL": "/", "title": community.title, "languageCode": community.language,
            "disableKinds": ["taxonomy", "term", "RSS"], "relativeURLs": True,
            "outputs": {"home": ["HTML", "JSON"]},
            "markup": {"tableOfContents": {"startLevel": 2, "endLevel": 3}}}, allow_unicode=True), encoding="utf-8")
        content = project / "content"
        content.mkdir()
        (content / "_index.md").write_text(f"---\ntitle: {community.title!r}\n---\n{community.description}\n",
                                           encoding="utf-8")
        for cable in cables:
            path = content / str(cable.year) / f"{cable.id}.md"
            path.parent.mkdir(exist_ok=True)
            front = yaml.safe_dump({"title": cable.title, "date": cable.date.isoformat()}, allow_unicode=True)
            path.write_text(f"---\n{front}---\n{page_markdown(cable)}", encoding="utf-8")
        projects.append(project)
    return projects


def material_assets() -> Path:
    """mkdocs-material's assets folder (what every one of its sites ships)."""
    import material

    return Path(material.__file__).parent / "templates" / "assets"


#: The edits a benchmark can make to one cable. What an edit costs the search index depends on
#: which words' positions it changes (Pagefind keeps every word's positions in each page): a word
#: replaced changes two words' entries; a sentence appended only its own words'; a sentence inserted
#: near the start moves every later word of the page, so every index chunk holding one of them.
EDITS = {
    "append": "a paragraph appended at the end",
    "insert": "a sentence inserted after the first paragraph's first sentence",
    "replace": "one word of the first paragraph replaced by another",
}


def edited_body(body: str, kind: str) -> str:
    """``body`` with the edit ``kind`` (:data:`EDITS`) made to it."""
    if kind == "append":
        return body + "\nParagraphe ajouté lors d'une relecture.\n"
    cut = body.index(". ") + 2
    if kind == "insert":
        return body[:cut] + "Phrase ajoutée lors d'une relecture. " + body[cut:]
    if kind == "replace":
        end = body.index(" ", cut)
        return body[:cut] + "Relecture" + body[end:]
    raise ValueError(f"unknown edit {kind!r}: one of {', '.join(EDITS)}")


def edit_one_cable(root: Path, n: int, k: int, seed: int, commit: bool = True, at: float = 0.5,
                   words: int | None = None, kind: str = "append") -> str:
    """Edit the cable at fraction ``at`` of the corpus (``kind``: see :data:`EDITS`), re-approve it,
    commit (unless told not to). Returns its id. ``words``: as the corpus was made (bench/corpus.py)."""
    cables = corpus.make_cables(n, seed, words)
    communities = corpus.make_communities(k, seed)
    cable = cables[int(n * at)]
    edited = corpus.CorpusCable(cable.id, cable.front, edited_body(cable.body, kind))
    approve_for = [c for c, spec in communities.items()
                   if set(spec["select"]["subjects"]) & set(cable.front["subjects"])]
    path = root / "content" / cable.id[:4] / f"{cable.id}.md"
    path.write_text(corpus.cable_file(edited, approve_for, corpus.dt.datetime(2026, 11, 2, 12, 0, tzinfo=corpus.dt.UTC)),
                    encoding="utf-8")
    if commit:
        commit_all(root, f"edit {cable.id}")
    return cable.id


def commit_all(root: Path, message: str) -> None:
    subprocess.run(["git", "commit", "-q", "-am", message], cwd=root, check=True, env={**os.environ, **GIT_ENV})


def cable_pages(out: Path) -> list[Path]:
    """Cable pages of every site: <site>/<year>/<id>.html."""
    return [p for p in out.glob("*/*/*.html") if p.parent.name.isdigit() and len(p.parent.name) == 4]


def tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def median(fn, repeat: int) -> float:
    """The median of ``repeat`` runs: the fastest would flatter whichever tool got a quiet moment."""
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=2000, help="N, cables in the corpus")
    parser.add_argument("--communities", type=int, default=8, help="K, communities")
    parser.add_argument("--sizes", default="200,1000,4000", help="corpus sizes for the page-size table ('' skips)")
    parser.add_argument("--jobs", type=int, default=None, help="diplomatie build --jobs (default: its own)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each timing; the median is kept")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep everything here (default: a temp dir)")
    parser.add_argument("--skip-baselines", action="store_true", help="time only diplomatie build")
    args = parser.parse_args()
    for tool in ("hugo",):
        if not args.skip_baselines and not shutil.which(tool):
            raise SystemExit(f"{tool} not found: install Debian's {tool} (tools/install-system-packages.sh)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="diplomatie-bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, work: Path) -> None:
    n, k, repeat = args.cables, args.communities, args.repeat
    root = work / f"corpus-{n}"
    shutil.rmtree(root, ignore_errors=True)
    corpus.write_corpus(root, n, k, args.seed, git=True)
    sites = published(root)
    pages = sum(len(cables) for _, cables in sites.values())
    print(f"corpus: {n} cables, {k} communities, {pages} cable pages in all "
          f"({pages / n:.2f} per cable); {os.cpu_count()} CPUs", flush=True)

    out = work / "site"
    rows: list[tuple[str, float]] = []

    def cold() -> float:
        shutil.rmtree(work / "cache", ignore_errors=True)
        return ours(root, out, args.jobs, "--force", cache=work / "cache")

    t_cold = median(cold, repeat)
    rows.append((f"diplomatie build, cold cache (--jobs {args.jobs or os.cpu_count()})", t_cold))
    t_one_core = None
    if (args.jobs or os.cpu_count() or 1) > 1:
        def cold_one_core() -> float:
            shutil.rmtree(work / "cache", ignore_errors=True)
            return ours(root, out, 1, "--force", cache=work / "cache")

        t_one_core = median(cold_one_core, repeat)
        rows.append(("diplomatie build, cold cache, --jobs 1 (one core, like mkdocs)", t_one_core))
    t_force = median(lambda: ours(root, out, args.jobs, "--force", cache=work / "cache"), repeat)
    rows.append(("diplomatie build --force (cable cache warm)", t_force))
    files, size = tree_size(out)
    t_mkdocs = t_hugo = None
    if not args.skip_baselines:
        configs = mkdocs_projects(sites, work / "mkdocs")
        t_mkdocs = median(lambda: sum(run([BIN / "mkdocs", "build", "-q", "-f", c]) for c in configs), repeat)
        rows.append((f"(a) plain mkdocs build, {k} runs in sequence", t_mkdocs))
        projects = hugo_projects(sites, work / "hugo")
        t_hugo = median(lambda: sum(run(["hugo", "--quiet", "-s", p, "-d", p / "public"]) for p in projects), repeat)
        rows.append((f"(b) hugo, {k} runs in sequence (with a search index and the theme's assets; "
                     f"omits {HUGO_OMITS})", t_hugo))
    edited = edit_one_cable(root, n, k, args.seed, at=0.25)
    t_one = ours(root, out, args.jobs, cache=work / "cache")
    rows.append((f"diplomatie build after editing one cable ({edited}) and committing", t_one))
    edited = edit_one_cable(root, n, k, args.seed, commit=False, at=0.75)
    t_edit = ours(root, out, args.jobs, cache=work / "cache")
    rows.append((f"  part of it: editing another ({edited}), not committed", t_edit))
    commit_all(root, f"edit {edited}")
    t_commit = ours(root, out, args.jobs, cache=work / "cache")
    rows.append(("  part of it: committing that edit (a new commit: each site's version page changes)", t_commit))
    t_none = median(lambda: ours(root, out, args.jobs, cache=work / "cache"), repeat)
    rows.append(("diplomatie build, nothing changed", t_none))

    print(f"\n### Build: N = {n} cables, K = {k} communities ({pages} cable pages; our output {files} files, "
          f"{size / 1e6:.1f} MB)\n")
    print("| build | wall time (s) | ms per cable page |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {1000 * seconds / pages:.2f} |")
    print("\nRatios (same run):")
    if t_mkdocs:
        print(f"- ours (cold) vs (a) plain mkdocs: {t_mkdocs / t_cold:.1f}x faster (target: >= 3x)")
        print(f"- ours (cold) vs (b) hugo: {t_cold / t_hugo:.1f}x hugo's time (target: <= 3x)")
        if t_one_core:
            print(f"- ours on one core (cold, --jobs 1) vs (a) plain mkdocs (one core): {t_mkdocs / t_one_core:.1f}x faster")
    print(f"- one-cable rebuild (edit and commit) / full build (cold): {100 * t_one / t_cold:.1f} % "
          f"(target: <= 10 %); the edit alone {100 * t_edit / t_cold:.1f} %, the commit alone "
          f"{100 * t_commit / t_cold:.1f} %")
    print(f"- no-change rebuild / full build (cold): {100 * t_none / t_cold:.1f} %")

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        print("\n### Cable page size as the corpus grows (diplomatie build, cold cache)\n")
        print("| cables | communities | cable pages | mean cable page (bytes) | largest (bytes) | "
              "output files | output MB | build (s) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size_n in sizes:
            r = work / f"corpus-{size_n}-sizes"
            shutil.rmtree(r, ignore_errors=True)
            corpus.write_corpus(r, size_n, k, args.seed, git=True)
            o, c = work / f"site-{size_n}", work / f"cache-{size_n}"
            seconds = ours(r, o, args.jobs, "--force", cache=c)
            cp = cable_pages(o)
            lengths = [p.stat().st_size for p in cp]
            nfiles, nbytes = tree_size(o)
            print(f"| {size_n} | {k} | {len(cp)} | {sum(lengths) / len(lengths):.0f} | {max(lengths)} | "
                  f"{nfiles} | {nbytes / 1e6:.1f} | {seconds:.1f} |", flush=True)
            shutil.rmtree(r, ignore_errors=True)
            shutil.rmtree(o, ignore_errors=True)
            shutil.rmtree(c, ignore_errors=True)
    print(f"\nReproduce: .venv/bin/python bench/build.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
