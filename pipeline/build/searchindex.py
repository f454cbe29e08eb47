"""The search index: Pagefind indexes a community's built cable pages into the site's ``pagefind/``
folder, in pieces a query fetches as it needs them (an index chunk per range of words, a fragment per
result shown), so a reader's first query loads kilobytes, not the whole index.

Only cable pages are indexed (the theme marks their content ``data-pagefind-body``; ``site.cable_header``
marks their reference, date, post, subjects and language as metadata, filters and sort keys), and only
this community's: the index is built from this site's folder alone. Pagefind folds accents and case
itself (``energie`` finds ``énergie``) and splits words on the straight apostrophe, not on the
typographic one nor the ligatures French writes: the pages are indexed from copies where those are
spelled out (:func:`search_text`), and the site's search script spells a query out the same way.

The binary is the pinned ``pagefind_bin`` package's, run as ``python -m pagefind``: nothing is fetched
at build or run time. The site ships Pagefind's search library and its worker (the pinned version's
files, which the audit compares with a reference build, see :func:`reference_bundle`), never its UI
bundles nor its worker: the theme's own script (theme/assets/javascripts/search.js) draws the search.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.build.job import BuildError
from pipeline.messages import _
from pipeline.site import gzip_bytes

#: The folder of a site that holds its search index.
SEARCH_DIR = "pagefind"
#: Pagefind's own files a site ships (the library and the index's entry); its UI bundles are removed,
#: and its worker: search.js runs Pagefind in the page (``noWorker``), which shows first results sooner.
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


def index_site(site_dir: Path, language: str) -> list[str]:
    """(Re)build ``site_dir``'s search index from its cable pages; returns the index's files (paths
    relative to the site). The previous index is removed first (its files may be hard links to the
    previous site's: they are never written through). A site without cables has no index (Pagefind
    refuses to write an empty one); its search says so."""
    output = site_dir / SEARCH_DIR
    shutil.rmtree(output, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=site_dir.parent, prefix=".search-") as tmp:
        staging = Path(tmp)
        pages = 0
        for year in sorted(p for p in site_dir.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}", p.name)):
            (staging / year.name).mkdir()
            for page in year.glob("*.html"):
                text = page.read_text(encoding="utf-8")
                (staging / year.name / page.name).write_text(search_text(text), encoding="utf-8")
                pages += 1
        if not pages:
            return []
        _run_pagefind(staging, output, language)
    _canonical_filters(output)
    for name in os.listdir(output):
        if name.startswith("pagefind-") and name not in LIBRARY or name == "pagefind-highlight.js":
            os.unlink(output / name)  # the UI bundles: the theme draws the search
    entry = json.loads((output / "pagefind-entry.json").read_text(encoding="utf-8"))
    wasm = {f"wasm.{v['wasm']}.pagefind" for v in entry["languages"].values()}
    for path in output.glob("wasm.*.pagefind"):
        if path.name not in wasm:
            path.unlink()
    return sorted(p.relative_to(site_dir).as_posix() for p in output.rglob("*") if p.is_file())


SIGNATURE = b"pagefind_dcd"


def _pack(value: object) -> bytes:
    import cbor2

    return gzip_bytes(SIGNATURE + cbor2.dumps(value), 0)


def _unpack(path: Path) -> object:
    import cbor2

    return cbor2.loads(gzip.decompress(path.read_bytes())[len(SIGNATURE):])


def _canonical_filters(output: Path) -> None:
    """Pagefind writes a filter's values in an order that changes from run to run (and so the names
    of the filter files, the metadata file naming them and the entry file naming that): the values
    are sorted and those files renamed from their content, so the same pages give the same index
    (builds are reproducible, and an update uploads only what changed)."""
    entry_path = output / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    renamed: dict[str, str] = {}
    for path in sorted((output / "filter").glob("*.pf_filter")):
        name, values = _unpack(path)  # type: ignore[misc]
        data = _pack([name, sorted(values, key=lambda v: v[0])])
        prefix = path.stem.split("_")[0]
        new = f"{prefix}_{hashlib.sha256(data).hexdigest()[:7]}"
        path.unlink()
        (output / "filter" / f"{new}.pf_filter").write_bytes(data)
        renamed[path.stem] = new
    for language in entry["languages"].values():
        meta_path = output / f"pagefind.{language['hash']}.pf_meta"
        meta = _unpack(meta_path)
        meta[3] = sorted([name, renamed.get(file, file)] for name, file in meta[3])  # type: ignore[index]
        data = _pack(meta)
        new = f"{language['hash'].split('_')[0]}_{hashlib.sha256(data).hexdigest()[:10]}"
        meta_path.unlink()
        (output / f"pagefind.{new}.pf_meta").write_bytes(data)
        language["hash"] = new
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


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
