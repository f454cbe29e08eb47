"""Hand-made built sites for the publication tests: real files shaped like a community's built site.

Each cable gets its own page; the index, the search index and the feed list every cable, and the
assets are the same bytes for every community, as in a real build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import brotli


@dataclass(frozen=True)
class Site:
    """Shaped like pipeline.build.SiteBuild."""

    community: str
    path: Path
    cables: tuple[str, ...]
    commit: str | None = None
    built_at: str = "2026-11-28T12:00:00Z"
    cached: bool = False
    key: str = ""  # the build's key (pipeline.build.SiteBuild.key); "" as a site built by hand


def make_site(out: Path, community: str, cables: dict[str, str], *, assets: int = 3) -> Site:
    """Write a site for ``cables`` (id -> body text) under ``out/community`` and describe it."""
    root = out / community
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    root.mkdir(parents=True, exist_ok=True)
    ids = sorted(cables, reverse=True)

    def write(rel: str, text: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    for cid in ids:
        write(f"{cid[:4]}/{cid}/index.html", f"<html><h1>{cid}</h1><p>{cables[cid]}</p></html>\n")
    write("index.html", "<html><ul>" + "".join(f"<li>{c}: {cables[c][:40]}</li>" for c in ids) + "</ul></html>\n")
    write("404.html", "<html>Not found</html>\n")
    write("search/search_index.json", json.dumps({"docs": [{"location": c, "text": cables[c]} for c in ids]}))
    write("feed.xml", "<rss>" + "".join(f"<item><title>{c}</title><description>{cables[c]}</description></item>"
                                        for c in ids) + "</rss>\n")
    write(".diplomatie/csp.json", json.dumps({"script_hashes": [], "style_hashes": []}))  # as the build records
    for i in range(assets):
        write(f"assets/stylesheets/main{i}.css", f"body {{ margin: {i}px }}\n")
    return Site(community, root, tuple(ids), "c0ffee" + "0" * 34, dt.datetime.now(dt.UTC).isoformat())


def corpus(n: int, *, seed: str = "") -> dict[str, str]:
    """``n`` synthetic cables with distinct bodies."""
    return {f"2026-POST-{i:04d}": f"Analyse {seed}{i}: " + ("lorem ipsum dolor " * 30) for i in range(n)}


def readable(data: bytes) -> bytes:
    """A blob's bytes, followed by what they decompress to when they are a gzip or brotli stream: a text
    must be looked for in the precompressed copies of the files as well as in the files."""
    with contextlib.suppress(OSError, EOFError, zlib.error):
        return data + b"\0" + gzip.decompress(data)
    with contextlib.suppress(brotli.error):
        return data + b"\0" + brotli.decompress(data)
    return data


def stored_text(store) -> bytes:
    """Every blob of the store, each readable (:func:`readable`), joined: what a text search must cover."""
    from gate.store import BLOBS_PREFIX

    return b"".join(readable(store.get(k)) for k in store.list(BLOBS_PREFIX))
