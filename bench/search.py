"""The first search of a reader, in real headless Chromium with a cold cache: Pagefind (this tree)
side by side with mkdocs-material's lunr search (the same corpus built by a commit that had it).

    .venv/bin/python bench/search.py [--sizes 1000,4000] [--communities 8] [--baseline REF] [--runs 5]
                                     [--all-sites] [--no-edit] [--workdir DIR] [--script-from REF]

For each size, a corpus (bench/corpus.py) is built twice: by this tree, and by ``--baseline`` (a
commit of this repository with the lunr search, checked out in a temporary git worktree and run
with the same Python environment; ``--baseline ''`` skips it). Only the site of the community with
the most cables is built (``--community``: its site is the same whatever else is built), unless
``--all-sites``. With ``--workdir``, corpora and sites are kept there and reused by the next run (the
build is then incremental: a no-op when neither the corpus nor the code changed). The sites are served like the gate
serves them (``/c/<community>/``, each site's Content-Security-Policy on every response, no
compression: neither the gate nor the shipped nginx compresses yet). For the community with the
most cables, a reader opens a cable page in a fresh browser context (empty cache) and types a query
as soon as the page is parsed; the benchmark prints the time from the first key to the first result
shown, and the bytes of search data the page fetched by then (index, fragments, worker, WebAssembly,
filters; for lunr, its index, worker and language scripts). It does so ``--runs`` times, each in a
fresh context, and prints the median, beside the median CPU time the browser's processes spent from
the click in the field to the first result (on a shared machine, wall time grows with the load; CPU
time much less). For Pagefind, it then waits until every slice was searched and reports when, and
the longest task that held the page's thread from the first key until then and all of them together
(Chromium's long tasks: what a reader scrolling or typing meanwhile feels). ``--script-from REF``
also times, interleaved run by run, the same site with the search script (theme/assets/javascripts/search.js) of commit REF: what the script alone changes.

``--queries a,b`` types each query in its own cold first search (default ``budget``). ``--sites
LABEL=DIR,... --community NAME`` builds nothing: it times the built sites in those folders (e.g. two
trees' builds of one corpus), interleaved run by run, query by query and site by site.

Then one cable is edited (a paragraph appended, approved, committed) and the sites rebuilt: it
prints the bytes of search data whose content changed (what a publication uploads for the edit); a
reused corpus already holds the edit, and the figure of the run that made it is printed again.
Prints a Markdown table and the command that reproduces it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402
from bench.build import edit_one_cable  # noqa: E402
from tests.siteserver import serving  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: A word of both languages of the corpus (bench/corpus.py WORDS).
QUERY = "budget"
#: The commit before Pagefind replaced mkdocs-material's lunr search.
DEFAULT_BASELINE = "e9fa672"
#: What counts as search data, by build: URL parts.
SEARCH_DATA = {"pagefind": ("/pagefind/",), "lunr": ("/search/", "/lunr/", "/workers/search")}


def build(code: Path, root: Path, out: Path, communities: list[str]) -> float:
    """``python -m pipeline build`` of the tree at ``code`` (only ``communities``' sites, if given);
    returns its wall time."""
    start = time.perf_counter()
    only = [arg for c in communities for arg in ("--community", c)]
    done = subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(root), "--out", str(out), *only],
                          cwd=code, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(code)})
    if done.returncode != 0:
        raise SystemExit(f"build failed with {code}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def largest(n: int, k: int) -> tuple[str, int]:
    """The community of the corpus that publishes the most cables, and how many (known from the
    corpus generator, before anything is built)."""
    cables = corpus.make_cables(n, 1)
    counts = {name: sum(1 for c in cables if set(spec["select"]["subjects"]) & set(c.front["subjects"]))
              for name, spec in corpus.make_communities(k, 1).items()}
    name = max(counts, key=counts.get)
    return name, counts[name]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and every process under it, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total


def search_files(site: Path, kind: str) -> dict[str, tuple[str, int]]:
    """Search data of a built site: path -> (sha256, size)."""
    folder = site / ("pagefind" if kind == "pagefind" else "search")
    return {p.relative_to(site).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


#: Records, in the page, when the first key is pressed and when the first result is shown, and every
#: task that held the page's thread for more than 50 ms (Chromium's long tasks).
_WATCH = """(selector) => {
  window.__bench = { tasks: [] };
  document.addEventListener('keydown', () => { if (!window.__bench.key) window.__bench.key = performance.now(); }, true);
  new MutationObserver((_, observer) => {
    if (document.querySelector(selector)) { window.__bench.shown = performance.now(); observer.disconnect(); }
  }).observe(document.documentElement, { childList: true, subtree: true });
  new PerformanceObserver((list) => {
    list.getEntries().forEach((e) => window.__bench.tasks.push([e.startTime, e.duration]));
  }).observe({ type: 'longtask' });
}"""
#: The search is over: every slice searched (the status no longer ends with "…") and the list not busy.
_DONE = """() => { const status = document.querySelector('.dip-search__status').textContent;
  return status && !status.endsWith('…') && document.querySelector('.dip-search__results').getAttribute('aria-busy') === 'false'
    && (window.__bench.done = window.__bench.done || performance.now()); }"""


def first_search(browser, base: str, community: str, cable: str, kind: str,
                 query: str = QUERY) -> tuple[float, int, int, float, float, float, float, int, int]:
    """A reader opens ``cable``'s page and types ``query`` at once: (seconds from the first key to the
    first result shown, bytes of search data fetched by then, requests of search data, CPU seconds
    the browser spent from the click in the field to the first result; then, for Pagefind, seconds
    from the first key until every slice was searched, the longest task that held the page's thread
    meanwhile and all such tasks together, in seconds: what a reader scrolling or typing would feel;
    and the bytes and requests of search data fetched by then: what the whole query cost)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # a fresh context: cold cache
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(f"{base}/c/{community}/{cable}", wait_until="domcontentloaded")
    if kind == "pagefind":
        field, result = "#dip-search-q", ".dip-search__results li"
    else:
        field, result = "input.md-search__input", ".md-search-result__item"
    page.evaluate(_WATCH, result)
    cpu = cpu_seconds(os.getpid())
    page.locator(field).click()
    page.keyboard.type(query)
    page.wait_for_function("() => window.__bench.shown", timeout=120_000, polling=20)
    cpu = cpu_seconds(os.getpid()) - cpu
    seconds = page.evaluate("() => (window.__bench.shown - window.__bench.key) / 1000")
    data = [r for r in requests if any(part in r.url for part in SEARCH_DATA[kind])]
    size, count = sum(r.sizes()["responseBodySize"] for r in data), len(data)
    done = held = busy = float("nan")
    whole, asked = size, count
    if kind == "pagefind":
        page.wait_for_function(_DONE, timeout=120_000, polling=20)
        done, held, busy = page.evaluate(
            "() => { const t = window.__bench.tasks.filter(t => t[0] + t[1] > window.__bench.key).map(t => t[1]);"
            " return [(window.__bench.done - window.__bench.key) / 1000, Math.max(0, ...t) / 1000,"
            " t.reduce((a, b) => a + b, 0) / 1000]; }")
        data = [r for r in requests if any(part in r.url for part in SEARCH_DATA[kind])]
        whole, asked = sum(r.sizes()["responseBodySize"] for r in data), len(data)
    context.close()
    return seconds, size, count, cpu, done, held, busy, whole, asked


def published_by(community: str, n: int, k: int) -> float:
    """The position (``edit_one_cable``'s ``at``) of the first cable past the middle of the corpus
    that ``community`` publishes: the edit must change a site."""
    subjects = set(corpus.make_communities(k, 1)[community]["select"]["subjects"])
    cables = corpus.make_cables(n, 1)
    i = next(i for i in range(n // 2, n) if subjects & set(cables[i].front["subjects"]))
    return (i + 0.5) / n


def edit_bytes(code: Path, root: Path, out: Path, kind: str, n: int, k: int, community: str,
               built: list[str]) -> tuple[int, int]:
    """Edit one cable ``community`` publishes, rebuild; (bytes, files) of search data whose content
    changed, over the sites built."""
    before = {site.name: search_files(site, kind) for site in out.iterdir() if site.is_dir() and not site.name.startswith(".")}
    edit_one_cable(root, n, k, seed=1, at=published_by(community, n, k))
    build(code, root, out, built)
    size = files = 0
    for name, old in before.items():
        for rel, (digest, length) in search_files(out / name, kind).items():
            if old.get(rel, ("", 0))[0] != digest:
                size, files = size + length, files + 1
    return size, files


def measure(code: Path, kind: str, n: int, k: int, work: Path, browser, options: argparse.Namespace) -> dict:
    """Build (or reuse) the sites, time ``options.runs`` cold first searches in the largest
    community's site (medians), then edit one cable and count what changed in the search data."""
    root, out = work / f"corpus-{kind}", work / f"out-{kind}"
    if not (root / ".git").is_dir():
        corpus.write_corpus(root, n, k, seed=1, git=True)
    community, cables = largest(n, k)
    built = [] if options.all_sites else [community]
    seconds_build = build(code, root, out, built)
    cable = sorted(p.relative_to(out / community).as_posix() for p in (out / community).glob("[0-9]*/*.html"))[cables // 2]
    runs, runs_before = [], []
    with contextlib.ExitStack() as servers:
        base = servers.enter_context(serving(out))
        before = (servers.enter_context(serving(script_of(options.script_from, out, work, community)))
                  if kind == "pagefind" and options.script_from else None)
        for _ in range(options.runs):  # interleaved: both scripts see the same load
            runs.append(first_search(browser, base, community, cable, kind))
            if before:
                runs_before.append(first_search(browser, before, community, cable, kind))
    index = sum(size for _, size in search_files(out / community, kind).values())
    extra: dict = {}
    edited: tuple[int, int] | None = None
    record = work / f"edit-{kind}.json"
    if record.is_file():  # the corpus already holds the edit: the figure of the run that made it
        edited = tuple(json.loads(record.read_text())["edit"])
    elif options.edit:
        edited = edit_bytes(code, root, out, kind, n, k, community, built)
        record.write_text(json.dumps({"edit": edited, "sites": built or "all"}))
    if runs_before:
        extra["before"] = {"seconds": statistics.median(r[0] for r in runs_before),
                           "cpu": statistics.median(r[3] for r in runs_before),
                           "all_seconds": [round(r[0], 3) for r in runs_before],
                           "bytes": statistics.median(r[1] for r in runs_before),
                           "requests": statistics.median(r[2] for r in runs_before)}
    return {**extra, "community": community, "cables": cables, "build": seconds_build, "runs": len(runs),
            "seconds": statistics.median(r[0] for r in runs), "cpu": statistics.median(r[3] for r in runs),
            "all_seconds": [round(r[0], 3) for r in runs],
            "bytes": statistics.median(r[1] for r in runs), "requests": statistics.median(r[2] for r in runs),
            "index": index, "edit": edited}


def script_of(ref: str, out: Path, work: Path, community: str) -> Path:
    """A copy of ``community``'s built site whose search script is the one of commit ``ref`` (the same
    index, the same pages: what the script alone changes), to be served like the site."""
    copy = work / f"out-pagefind-script-{ref}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(out / community, copy / community, copy_function=os.link)  # hard links: nothing is written through
    script = copy / community / "assets/javascripts/search.js"
    script.unlink()
    script.write_bytes(subprocess.run(["git", "show", f"{ref}:theme/assets/javascripts/search.js"], cwd=PROJECT,
                                      capture_output=True, check=True).stdout)
    return copy


def baseline_tree(ref: str, work: Path) -> Path:
    """``ref`` checked out in ``<work>/baseline`` (the same place in every run: its sites' build cache
    stays valid)."""
    tree = work / "baseline"
    if tree.exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True).stdout
        wanted = subprocess.run(["git", "rev-parse", f"{ref}^{{commit}}"], cwd=PROJECT, capture_output=True, text=True).stdout
        if head and head == wanted:
            return tree  # kept by an earlier run with the same --workdir
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT, check=False)
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), ref], cwd=PROJECT, check=True)
    return tree


def compare_sites(browser, sites: dict[str, Path], community: str, queries: list[str], runs: int) -> list[tuple]:
    """Built sites (``label -> out folder`` holding ``community``'s site), each served like the gate
    serves it: ``runs`` cold first searches of each query, interleaved run by run and site by site
    (every site sees the same load). Rows of (label, query, medians, all wall times)."""
    found: dict[tuple[str, str], list] = {(label, q): [] for label in sites for q in queries}
    with contextlib.ExitStack() as servers:
        bases = {label: servers.enter_context(serving(out)) for label, out in sites.items()}
        cables = {label: sorted(p.relative_to(out / community).as_posix() for p in (out / community).glob("[0-9]*/*.html"))
                  for label, out in sites.items()}
        for _ in range(runs):
            for q in queries:
                for label in sites:
                    cable = cables[label][len(cables[label]) // 2]
                    found[label, q].append(first_search(browser, bases[label], community, cable, "pagefind", q))
                    print(f"{label} {q}: {[round(x, 3) for x in found[label, q][-1]]}", file=sys.stderr, flush=True)
    return [(label, q, statistics.median(r[0] for r in rs), statistics.median(r[3] for r in rs),
             statistics.median(r[1] for r in rs), statistics.median(r[2] for r in rs), [round(r[0], 2) for r in rs],
             statistics.median(r[4] for r in rs), max(r[5] for r in rs), statistics.median(r[6] for r in rs))
            for (label, q), rs in found.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000", help="corpus sizes (cables), e.g. 1000,4000,20000")
    parser.add_argument("--communities", type=int, default=8)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE,
                        help="a commit with mkdocs-material's lunr search ('' to measure Pagefind only)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep corpora and sites here and reuse them in the next run (default: a temp dir)")
    parser.add_argument("--runs", type=int, default=5, help="cold first searches per site (the median is printed)")
    parser.add_argument("--all-sites", action="store_true",
                        help="build every community's site, not only the largest one's")
    parser.add_argument("--script-from", default="", metavar="REF",
                        help="also time the Pagefind site with the search script of commit REF (same index), interleaved")
    parser.add_argument("--no-edit", dest="edit", action="store_false",
                        help="skip the one-cable edit and its rebuild")
    parser.add_argument("--queries", default=QUERY,
                        help="comma-separated queries, each typed in its own cold first search (default: budget)")
    parser.add_argument("--sites", default="", metavar="LABEL=DIR,...",
                        help="time these built sites (folders of community sites) instead of building, interleaved")
    parser.add_argument("--community", default="", help="with --sites: the community whose site is searched")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if args.sites:
        sites = {label: Path(folder) for label, folder in (item.split("=", 1) for item in args.sites.split(","))}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            rows = compare_sites(browser, sites, args.community, args.queries.split(","), args.runs)
            browser.close()
        print(f"| site | query | first results after typing (median of {args.runs}) | browser CPU meanwhile | "
              "search data fetched (requests) | all runs (s) | every slice searched after (median) | "
              "longest task holding the page (worst run) | tasks over 50 ms, in all (median) |")
        print("|---|---|---:|---:|---:|---|---:|---:|---:|")
        for label, q, seconds, cpu, size, requests, every, done, held, busy in rows:
            print(f"| {label} | `{q}` | {seconds:.2f} s | {cpu:.2f} s | {size / 1e6:.2f} MB ({requests:g}) | "
                  f"{', '.join(f'{x:g}' for x in every)} | {done:.2f} s | {held * 1000:.0f} ms | {busy * 1000:.0f} ms |")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nLoad average at the end: {load} on {os.cpu_count()} CPUs.")
        print(f"Reproduce: .venv/bin/python bench/search.py {shlex.join(sys.argv[1:])}")
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    trees = {"pagefind": PROJECT}
    if args.baseline:
        trees["lunr"] = baseline_tree(args.baseline, work)
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            for n in [int(s) for s in args.sizes.split(",") if s]:
                for kind, code in trees.items():
                    result = measure(code, kind, n, args.communities, work / f"{n}", browser, args)
                    rows.append((n, kind, result))
                    print(f"{n} cables, {kind}: {json.dumps(result)}", file=sys.stderr, flush=True)
            browser.close()
    finally:
        if "lunr" in trees and args.workdir is None:  # a kept --workdir keeps it for the next run
            subprocess.run(["git", "worktree", "remove", "--force", str(trees["lunr"])], cwd=PROJECT, check=False)
    print("| cables | search | largest community (cables) | first results after typing (median) | browser CPU "
          "meanwhile | search data fetched (requests) | whole index on disk | one-cable edit changes |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for n, kind, r in rows:
        edit = f"{r['edit'][0] / 1e6:.2f} MB ({r['edit'][1]} files)" if r["edit"] else "—"
        print(f"| {n:,} | {kind} | {r['community']} ({r['cables']:,}) | {r['seconds']:.2f} s | {r['cpu']:.2f} s | "
              f"{r['bytes'] / 1e6:.2f} MB ({r['requests']:g}) | {r['index'] / 1e6:.1f} MB | {edit} |")
        if "before" in r:
            b = r["before"]
            print(f"| {n:,} | pagefind, search.js of {args.script_from} | {r['community']} ({r['cables']:,}) | "
                  f"{b['seconds']:.2f} s | {b['cpu']:.2f} s | {b['bytes'] / 1e6:.2f} MB ({b['requests']:g}) | — | — |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad average at the end: {load} on {os.cpu_count()} CPUs (a shared machine: times scale with it).")
    print(f"Reproduce: .venv/bin/python bench/search.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
