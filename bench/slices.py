"""How the size of the search index's slices trades a reader's query against an edit's upload.

    .venv/bin/python bench/slices.py --site OUT/communaute-8 [--caps 1000,250,100] [--runs 3]
                                     [--query budget] [--workdir DIR]

Pagefind keeps, in each index chunk, every page's positions of the chunk's words: a sentence
inserted near the start of a cable changed nearly all of its slice's index, so what an edit
uploaded for search was about the size of its slice, and only smaller slices made it smaller, while
a query searches every slice (the newest first, then the others) and fetches one chunk and the
metadata of each: more, smaller slices cost the reader more. The site's index now leaves the
positions out (pipeline/build/pagefindindex.py, bench/postings.py), which makes an edit's cost
small at any cap; this benchmark still shows the trade-off for the reader.

For each cap (the most pages a slice holds, pipeline/build/searchindex.py ``SLICE_PAGES``), the
built community site given (``--site``, e.g. one built by ``diplomatie build`` or bench/search.py)
is copied with hard links and its index rebuilt with that cap; it prints the slices, their index
size, the search data a sentence inserted in one cable changes (the index rebuilt on a copy with
that edit, files compared), and in real headless Chromium (cold cache, median of ``--runs``) the
reader's first results and the whole query: time and search data fetched.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench.search import CHROMIUM, QUERY, first_search, search_files  # noqa: E402
from pipeline.build.searchindex import SEARCH_DIR, index_site  # noqa: E402
from tests.siteserver import serving  # noqa: E402

#: A cable page's month, as site.cable_header marks it for Pagefind's filters.
MONTH = re.compile(r'data-pagefind-filter="month:(\d{4}-\d{2})"')
#: What the edit inserts after the first sentence of the cable's first paragraph.
SENTENCE = "Phrase ajoutée lors d'une relecture. "


def cable_months(site: Path) -> dict[str, str]:
    """Each cable page of ``site`` (``<year>/<id>.html``) and its month."""
    months = {}
    for page in sorted(site.glob("[0-9][0-9][0-9][0-9]/*.html")):
        found = MONTH.search(page.read_text(encoding="utf-8"))
        if found:
            months[page.relative_to(site).as_posix()] = found.group(1)
    return months


def site_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a benchmark run on one built community site (``--site``, ``--language``,
    ``--workdir``)."""
    parser.add_argument("--site", type=Path, required=True, help="a built community site (its folder)")
    parser.add_argument("--language", default="fr")
    parser.add_argument("--workdir", type=Path, default=None, help="work here (default: a temp dir, removed)")


def built_site(path: Path) -> tuple[Path, dict[str, str]]:
    """The community site at ``path`` (resolved) and its cable pages' months; exits with a message
    when it has none."""
    site = path.resolve()
    months = cable_months(site)
    if not months:
        raise SystemExit(f"{site}: no cable page with a month (is it a built community site?)")
    return site, months


def linked_copy(site: Path, copy: Path) -> None:
    """``site`` at ``copy`` by hard links, without its index (rebuilt there; never written through)."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(site, copy, copy_function=os.link, ignore=lambda folder, names:
                    [SEARCH_DIR] if Path(folder) == site else [])


def insert_sentence(page: Path) -> None:
    """A sentence inserted after the first sentence of the page's first paragraph (a new file: the
    page is a hard link)."""
    text = page.read_text(encoding="utf-8")
    start = text.index("<p>", text.index("data-pagefind-body"))
    cut = text.index(". ", start) + 2
    page.unlink()
    page.write_text(text[:cut] + html.escape(SENTENCE, quote=False) + text[cut:], encoding="utf-8")


def changed_bytes(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> tuple[int, int]:
    """(bytes, files) of ``after`` whose content ``before`` does not hold at that path."""
    changed = [size for rel, (digest, size) in after.items() if before.get(rel, ("", 0))[0] != digest]
    return sum(changed), len(changed)


def measure_cap(site: Path, work: Path, cap: int, months: dict[str, str], language: str) -> dict:
    """The site indexed with slices of at most ``cap`` pages, and the same with one cable edited."""
    copy = work / f"cap-{cap}" / site.name
    linked_copy(site, copy)
    start = time.perf_counter()
    index_site(copy, language, months, cap)
    seconds = time.perf_counter() - start
    files = search_files(copy, "pagefind")
    by_slice: dict[str, int] = {}
    for rel, (_, size) in files.items():
        parts = rel.split("/")  # pagefind/<slice>/index/<chunk>, .../filter/..., .../pagefind.<hash>.pf_meta
        if len(parts) > 2 and (parts[2] in ("index", "filter") or parts[2].endswith(".pf_meta")):
            by_slice[parts[1]] = by_slice.get(parts[1], 0) + size
    cables = sorted(months)
    edited = work / f"cap-{cap}-edited" / site.name
    linked_copy(copy, edited)
    insert_sentence(edited / cables[len(cables) // 2])
    index_site(edited, language, months, cap)
    edit = changed_bytes(files, search_files(edited, "pagefind"))
    shutil.rmtree(edited.parent)
    return {"copy": copy, "seconds": seconds, "slices": len(by_slice), "edit": edit,
            "slice_median": statistics.median(by_slice.values()), "slice_max": max(by_slice.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    site_arguments(parser)
    parser.add_argument("--caps", default="1000,250,100", help="the most pages a slice holds, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="cold searches per cap (the median is printed)")
    parser.add_argument("--query", default=QUERY)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    site, months = built_site(args.site)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-slices-"))
    rows = {}
    try:
        for cap in (int(c) for c in args.caps.split(",")):
            rows[cap] = measure_cap(site, work, cap, months, args.language)
            print(f"cap {cap}: {rows[cap]}", file=sys.stderr, flush=True)
        cable = sorted(months)[len(months) // 2]
        found: dict[int, list] = {cap: [] for cap in rows}
        with sync_playwright() as playwright, contextlib.ExitStack() as servers:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            bases = {cap: servers.enter_context(serving(row["copy"].parent)) for cap, row in rows.items()}
            for _ in range(args.runs):  # interleaved: every cap sees the same load
                for cap, base in bases.items():
                    found[cap].append(first_search(browser, base, site.name, cable, "pagefind", args.query))
            browser.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n### Search slices of {site.name} ({len(months):,} cables): query `{args.query}`, "
          f"median of {args.runs} cold searches\n")
    print("| most pages a slice holds | slices | index of a slice: chunks, filters, metadata (median, largest) | a sentence inserted in one "
          "cable changes | first results after typing | search data by then | every slice searched after | "
          "search data by then |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cap, row in rows.items():
        runs = found[cap]
        edit = f"{row['edit'][0] / 1e3:.0f} KB ({row['edit'][1]} files)"
        print(f"| {cap:,} | {row['slices']} | {row['slice_median'] / 1e3:.0f} KB, {row['slice_max'] / 1e3:.0f} KB | "
              f"{edit} | {statistics.median(r[0] for r in runs):.2f} s | "
              f"{statistics.median(r[1] for r in runs) / 1e3:.0f} KB ({statistics.median(r[2] for r in runs):g}) | "
              f"{statistics.median(r[4] for r in runs):.2f} s | "
              f"{statistics.median(r[7] for r in runs) / 1e3:.0f} KB ({statistics.median(r[8] for r in runs):g}) |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad average at the end: {load} on {os.cpu_count()} CPUs.")
    print(f"Reproduce: .venv/bin/python bench/slices.py {shlex.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
