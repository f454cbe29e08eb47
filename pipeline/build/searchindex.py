"""The search index: Pagefind indexes a community's built cable pages into the site's ``pagefind/``
folder, in pieces a query fetches as it needs them (an index chunk per range of words, a fragment per
result shown), so a reader's first query loads kilobytes, not the whole index.

Only cable pages are indexed (the theme marks their content ``data-pagefind-body``; ``site.cable_header``
marks their reference, date, post, subjects and language as metadata, filters and sort keys), and only
this community's: the index is built from this site's folder alone. Pagefind folds accents and case
itself (``energie`` finds ``énergie``) and splits words on the straight apostrophe, not on the
typographic one nor the ligatures French writes: the pages are indexed from copies where those are
spelled out (:func:`search_text`), and the site's search script spells a query out the same way.

The index is cut in slices by date (:func:`slices`), each a Pagefind index of its own: Pagefind's
query cost grows with the pages holding the query's words (it scores every one and hands back all
their word positions before the first result can be drawn), so one index of a large community made
a common word cost seconds; the theme's script searches the newest slice first and shows its results,
then the older slices merged into one instance. Each slice's files are then rewritten
(pipeline/build/pagefindindex.py): filters sorted, and word postings without positions, so that an
edit of one cable changes few of them.

The binary is the pinned ``pagefind_bin`` package's, run as ``python -m pagefind``: nothing is fetched
at build or run time. The site ships Pagefind's search library once (``pagefind/pagefind.js``) and
each slice's WebAssembly (the pinned version's files, which the audit compares with a reference
build, see :func:`reference_bundle`), never its UI bundles nor its worker: the theme's own script
(theme/assets/javascripts/search.js) draws the search.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.audit import SLICES_FILE
from pipeline.build.job import BuildError
from pipeline.build.pagefindindex import canonical_filters, unreadable, without_positions
from pipeline.messages import _

#: The folder of a site that holds its search index.
SEARCH_DIR = "pagefind"
#: Pagefind's own files a slice keeps (the library, moved to pagefind/, and the index's entry); its UI
#: bundles are removed, and its worker: search.js runs Pagefind in the page (``noWorker``), which
#: shows first results sooner.
LIBRARY = ("pagefind.js", "pagefind-entry.json")
#: Cable pages: ``<year>/<id>.html`` (the only pages with ``data-pagefind-body``).
CABLE_PAGE = re.compile(r"^\d{4}/[^/]+\.html$")
#: What Pagefind does not fold or split, spelled out in the indexed copy (and in queries, by
#: search.js): typographic apostrophes become straight ones, ligatures their letters.
SPELLED_OUT = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'",
               "\u0153": "oe", "\u0152": "OE", "\u00e6": "ae", "\u00c6": "AE"}
_SPELLED = re.compile("|".join(map(re.escape, SPELLED_OUT)))


def search_text(text: str) -> str:
    """``text`` as it is indexed: « l’hydrogène » as « l'hydrogène », « œuvre » as « oeuvre »."""
    return _SPELLED.sub(lambda m: SPELLED_OUT[m.group(0)], text)


#: A slice holds at most this many pages, unless one month holds more (see :func:`slices`).
SLICE_PAGES = 1000
# pagefind/slices.json names a site's slices, newest first, with the months each covers (read by
# search.js); a slice's folder is a year, half-year, quarter or month (2026, 2026-h2, 2026-q3,
# 2026-07): see the audit, which reads them (pipeline/audit.py SLICE_NAME).
#: The calendar units a year is cut into, coarsest first: (name suffix, months per part).
_UNITS = (("", 12), ("-h", 6), ("-q", 3), ("-", 1))


def slices(months: dict[str, str], cap: int = SLICE_PAGES) -> dict[str, str]:
    """The slice of each page (``months``: page -> ``YYYY-MM``): its year, or if the year holds more
    than ``cap`` pages, its half-year, quarter or month, the coarsest cut that leaves no part of that
    year above ``cap`` (a month is never cut). Why: a Pagefind query's cost grows with the pages
    holding its words, and a query for a word found everywhere in one index of 6,445 pages took
    seconds; each slice is its own index, searched newest first, so the first results cost one
    slice's work however large the archive grows. The cut is calendar-aligned and decided per year,
    so a new cable moves no other year's pages, and an edit changes only its slice's files."""
    by_year: dict[str, list[str]] = {}
    for page, month in months.items():
        by_year.setdefault(month[:4], []).append(page)
    found: dict[str, str] = {}
    for pages in by_year.values():
        for unit in _UNITS:
            parts = {page: _part(months[page], *unit) for page in pages}
            counts: dict[str, int] = {}
            for name in parts.values():
                counts[name] = counts.get(name, 0) + 1
            if max(counts.values()) <= cap or unit[1] == 1:
                found.update(parts)
                break
    return found


def _part(month: str, suffix: str, size: int) -> str:
    """The slice of ``month`` (``YYYY-MM``) when its year is cut in parts of ``size`` months."""
    index = (int(month[5:7]) - 1) // size + 1
    return month[:4] if size == 12 else month if size == 1 else f"{month[:4]}{suffix}{index}"


def slice_months(name: str) -> tuple[str, str]:
    """The first and last month a slice covers (``2026-q3`` -> ``2026-07``, ``2026-09``)."""
    year = name[:4]
    if len(name) == 4:
        return f"{year}-01", f"{year}-12"
    kind, index = name[5], name[6:]
    size, number = {"h": (6, index), "q": (3, index)}.get(kind, (1, name[5:]))
    first = (int(number) - 1) * size + 1
    return f"{year}-{first:02d}", f"{year}-{first + size - 1:02d}"


def index_site(site_dir: Path, language: str, months: dict[str, str] | None = None,
               cap: int = SLICE_PAGES) -> list[str]:
    """(Re)build ``site_dir``'s search index from its cable pages; returns the index's files (paths
    relative to the site). ``months`` gives each cable page (``<year>/<id>.html``) its cable's month:
    the pages are indexed in slices (:func:`slices`, at most ``cap`` pages each but a month), each a Pagefind index of its own in
    ``pagefind/<slice>/``, named newest first in ``pagefind/slices.json``; Pagefind's library is
    shipped once, in ``pagefind/``. A page whose month is not given is refused (a build error: it
    would be in no slice). The previous index is removed first (its files may be hard links to the
    previous site's: they are never written through). A site without cables has no index (Pagefind
    refuses to write an empty one); its search says so."""
    months = months or {}
    output = site_dir / SEARCH_DIR
    shutil.rmtree(output, ignore_errors=True)
    pages = sorted(p.relative_to(site_dir).as_posix() for year in site_dir.iterdir()
                   if year.is_dir() and re.fullmatch(r"\d{4}", year.name) for p in year.glob("*.html"))
    if not pages:
        return []
    unknown = [page for page in pages if not re.fullmatch(r"\d{4}-\d{2}", months.get(page, ""))]
    if unknown:
        raise BuildError(_("the search index could not be built: no date is known for {page}").format(page=unknown[0]))
    cut = slices({page: months[page] for page in pages}, cap)
    names = sorted(set(cut.values()), key=lambda name: slice_months(name)[1], reverse=True)
    with tempfile.TemporaryDirectory(dir=site_dir.parent, prefix=".search-") as tmp:
        for name in names:
            staging = Path(tmp) / name
            for page in (page for page in pages if cut[page] == name):
                (staging / page).parent.mkdir(parents=True, exist_ok=True)
                text = (site_dir / page).read_text(encoding="utf-8")
                (staging / page).write_text(search_text(text), encoding="utf-8")
            _run_pagefind(staging, output / name, language)
            try:
                without_positions(output / name)
                canonical_filters(output / name)
            except unreadable() as exc:
                raise BuildError(_("the search index could not be built: Pagefind's files in {folder} are not in the format this pipeline reads ({exc}); use the pinned Pagefind (pyproject.toml)").format(folder=name, exc=exc)) from None
            _keep_data_and_wasm(output / name)
    # One copy of the library, in pagefind/: search.js makes one Pagefind instance per slice from it.
    os.replace(output / names[0] / "pagefind.js", output / "pagefind.js")
    for name in names[1:]:
        (output / name / "pagefind.js").unlink()
    listing = [{"name": name, "from": slice_months(name)[0], "until": slice_months(name)[1]} for name in names]
    (output / SLICES_FILE).write_text(json.dumps({"slices": listing}, separators=(",", ":")), encoding="utf-8")
    return sorted(p.relative_to(site_dir).as_posix() for p in output.rglob("*") if p.is_file())


def _keep_data_and_wasm(output: Path) -> None:
    """Pagefind's UI bundles and worker are removed (the theme draws the search, in the page), and
    the WebAssembly of languages the index does not use."""
    for name in os.listdir(output):
        if name.startswith("pagefind-") and name not in LIBRARY or name == "pagefind-highlight.js":
            os.unlink(output / name)
    entry = json.loads((output / "pagefind-entry.json").read_text(encoding="utf-8"))
    wasm = {f"wasm.{v['wasm']}.pagefind" for v in entry["languages"].values()}
    for path in output.glob("wasm.*.pagefind"):
        if path.name not in wasm:
            path.unlink()


def _run_pagefind(site: Path, output: Path, language: str) -> None:
    """The pinned binary, one index in the site's language (a page's own ``lang`` does not split it)."""
    command = [sys.executable, "-m", "pagefind", "--site", str(site), "--output-path", str(output),
               "--force-language", language, "--silent"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (output / "pagefind-entry.json").is_file():
        raise BuildError(_("the search index could not be built (pagefind exited with {returncode}): {output}").format(returncode=done.returncode, output=(done.stderr or done.stdout).strip()[-400:]))


@functools.cache
def reference_bundle(cache: Path, language: str) -> Path:
    """A search index of a page holding no cable, built once per cache, Pagefind version and language
    by the pinned Pagefind: its library and WebAssembly files are what every site's must be byte for
    byte (the audit's ``trusted_from``)."""
    import importlib.metadata

    version = importlib.metadata.version("pagefind_bin")
    bundle = cache / f"pagefind-reference-{version}-{language}"
    if (bundle / SEARCH_DIR / "pagefind-entry.json").is_file():
        return bundle
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".pagefind-reference-"))
    try:
        (work / "site").mkdir()
        (work / "site" / "reference.html").write_text(f'<html lang="{language}"><body><div data-pagefind-body>'
                                                      "reference</div></body></html>", encoding="utf-8")
        _run_pagefind(work / "site", work / "bundle" / SEARCH_DIR, language)
        try:
            os.rename(work / "bundle", bundle)
        except OSError:  # another build process put it there first
            if not (bundle / SEARCH_DIR / "pagefind-entry.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bundle
