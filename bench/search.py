"""The first search of a reader, in real headless Chromium with a cold cache: Pagefind (this tree)
side by side with mkdocs-material's lunr search (the same corpus built by a commit that had it).

    .venv/bin/python bench/search.py [--sizes 1000,4000] [--communities 8] [--baseline REF]

For each size, a corpus (bench/corpus.py) is built twice: by this tree, and by ``--baseline`` (a
commit of this repository with the lunr search, checked out in a temporary git worktree and run
with the same Python environment; ``--baseline ''`` skips it). The sites are served like the gate
serves them (``/c/<community>/``, each site's Content-Security-Policy on every response, no
compression: neither the gate nor the shipped nginx compresses yet). For the community with the
most cables, a reader opens a cable page in a fresh browser context (empty cache) and types a query
as soon as the page is parsed; the benchmark prints the time from the first key to the first result
shown, and the bytes of search data the page fetched by then (index, fragments, worker, WebAssembly,
filters; for lunr, its index, worker and language scripts).

Then one cable is edited (a paragraph appended, approved, committed) and the sites rebuilt: it
prints the bytes of search data whose content changed (what a publication uploads for the edit).
Prints a Markdown table and the command that reproduces it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402
from bench.build import edit_one_cable  # noqa: E402
from gate.csp import site_policy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
#: A word of both languages of the corpus (bench/corpus.py WORDS).
QUERY = "budget"
#: The commit before Pagefind replaced mkdocs-material's lunr search.
DEFAULT_BASELINE = "e9fa672"
#: What counts as search data, by build: URL parts.
SEARCH_DATA = {"pagefind": ("/pagefind/",), "lunr": ("/search/", "/lunr/", "/workers/search")}


class _GateLike(http.server.SimpleHTTPRequestHandler):
    """/c/<community>/<path> from <out>/<community>/ with the site's policy, as the gate serves it."""

    def __init__(self, *args, out: Path, **kwargs):
        self.out = out
        super().__init__(*args, directory=str(out), **kwargs)

    def log_message(self, *args):
        pass

    def _community(self) -> str:
        parts = self.path.split("?")[0].split("/")
        return parts[2] if len(parts) > 3 and parts[1] == "c" else ""

    def translate_path(self, path):
        community = self._community()
        return str(self.out / community / path.split("?")[0].split("/", 3)[3]) if community else str(self.out / ".none")

    def end_headers(self):
        community = self._community()
        csp = self.out / community / ".diplomatie/csp.json"
        if community and csp.is_file():
            code = json.loads(csp.read_text())
            self.send_header("Content-Security-Policy", site_policy(code["script_hashes"], code["style_hashes"]))
        super().end_headers()


def serve(out: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_GateLike, out=out))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def build(code: Path, root: Path, out: Path) -> float:
    """``python -m pipeline build`` of the tree at ``code``; returns its wall time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(root), "--out", str(out)],
                          cwd=code, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(code)})
    if done.returncode != 0:
        raise SystemExit(f"build failed with {code}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def largest(out: Path) -> tuple[str, int]:
    counts = {site.name: sum(1 for p in site.glob("[0-9][0-9][0-9][0-9]/*.html")) for site in out.iterdir()
              if site.is_dir() and not site.name.startswith(".")}
    name = max(counts, key=counts.get)
    return name, counts[name]


def search_files(site: Path, kind: str) -> dict[str, tuple[str, int]]:
    """Search data of a built site: path -> (sha256, size)."""
    folder = site / ("pagefind" if kind == "pagefind" else "search")
    return {p.relative_to(site).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


#: Records, in the page, when the first key is pressed and when the first result is shown.
_WATCH = """(selector) => {
  window.__bench = {};
  document.addEventListener('keydown', () => { if (!window.__bench.key) window.__bench.key = performance.now(); }, true);
  new MutationObserver((_, observer) => {
    if (document.querySelector(selector)) { window.__bench.shown = performance.now(); observer.disconnect(); }
  }).observe(document.documentElement, { childList: true, subtree: true });
}"""


def first_search(browser, base: str, community: str, cable: str, kind: str) -> tuple[float, int, int]:
    """A reader opens ``cable``'s page and types at once: (seconds from the first key to the first
    result shown, bytes of search data fetched by then, requests of search data)."""
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
    page.locator(field).click()
    page.keyboard.type(QUERY)
    page.wait_for_function("() => window.__bench.shown", timeout=120_000, polling=20)
    seconds = page.evaluate("() => (window.__bench.shown - window.__bench.key) / 1000")
    data = [r for r in requests if any(part in r.url for part in SEARCH_DATA[kind])]
    size = sum(r.sizes()["responseBodySize"] for r in data)
    context.close()
    return seconds, size, len(data)


def published_by(community: str, n: int, k: int) -> float:
    """The position (``edit_one_cable``'s ``at``) of the first cable past the middle of the corpus
    that ``community`` publishes: the edit must change a site."""
    subjects = set(corpus.make_communities(k, 1)[community]["select"]["subjects"])
    cables = corpus.make_cables(n, 1)
    i = next(i for i in range(n // 2, n) if subjects & set(cables[i].front["subjects"]))
    return (i + 0.5) / n


def edit_bytes(code: Path, root: Path, out: Path, kind: str, n: int, k: int, community: str) -> tuple[int, int]:
    """Edit one cable ``community`` publishes, rebuild; (bytes, files) of search data whose content
    changed, over all sites."""
    before = {site.name: search_files(site, kind) for site in out.iterdir() if site.is_dir() and not site.name.startswith(".")}
    edit_one_cable(root, n, k, seed=1, at=published_by(community, n, k))
    build(code, root, out)
    size = files = 0
    for name, old in before.items():
        for rel, (digest, length) in search_files(out / name, kind).items():
            if old.get(rel, ("", 0))[0] != digest:
                size, files = size + length, files + 1
    return size, files


def measure(code: Path, kind: str, n: int, k: int, work: Path, browser) -> dict:
    root, out = work / f"corpus-{kind}", work / f"out-{kind}"
    corpus.write_corpus(root, n, k, seed=1, git=True)
    seconds_build = build(code, root, out)
    community, cables = largest(out)
    cable = sorted(p.relative_to(out / community).as_posix() for p in (out / community).glob("[0-9]*/*.html"))[cables // 2]
    server, base = serve(out)
    try:
        first = first_search(browser, base, community, cable, kind)
    finally:
        server.shutdown()
        server.server_close()
    index = sum(size for _, size in search_files(out / community, kind).values())
    edited = edit_bytes(code, root, out, kind, n, k, community)
    return {"community": community, "cables": cables, "build": seconds_build, "seconds": first[0],
            "bytes": first[1], "requests": first[2], "index": index, "edit": edited}


def baseline_tree(ref: str, work: Path) -> Path:
    tree = work / "baseline"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), ref], cwd=PROJECT, check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000", help="corpus sizes (cables), e.g. 1000,4000,20000")
    parser.add_argument("--communities", type=int, default=8)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE,
                        help="a commit with mkdocs-material's lunr search ('' to measure Pagefind only)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep everything here (default: a temp dir)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

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
                    result = measure(code, kind, n, args.communities, work / f"{n}", browser)
                    rows.append((n, kind, result))
                    print(f"{n} cables, {kind}: {json.dumps(result)}", file=sys.stderr, flush=True)
            browser.close()
    finally:
        if "lunr" in trees:
            subprocess.run(["git", "worktree", "remove", "--force", str(trees["lunr"])], cwd=PROJECT, check=False)
    print("| cables | search | largest community (cables) | first results after typing | search data fetched "
          "(requests) | whole index on disk | one-cable edit changes |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for n, kind, r in rows:
        print(f"| {n:,} | {kind} | {r['community']} ({r['cables']:,}) | {r['seconds']:.2f} s | "
              f"{r['bytes'] / 1e6:.2f} MB ({r['requests']}) | {r['index'] / 1e6:.1f} MB | "
              f"{r['edit'][0] / 1e6:.2f} MB ({r['edit'][1]} files) |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad average at the end: {load} on {os.cpu_count()} CPUs (a shared machine: times scale with it).")
    print(f"Reproduce: .venv/bin/python bench/search.py {shlex.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
