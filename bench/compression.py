"""Bytes on the wire with and without compression, and what precompression costs a publication.

    .venv/bin/python bench/compression.py [--cables 200] [--communities 2]

Builds a generated corpus (bench/corpus.py), publishes it to a folder store with ``diplomatie
publish`` (first publication, then a no-op), and prints, from the largest community's manifest:

- the bytes a browser receives for one cable page and the stylesheets and scripts it names, and for
  the search index, as they are (identity), gzip'd and brotli'd (what the gate and nginx send);
- the publication's uploads (blobs, bytes) and time: first without compression (the same command
  with the copies made of nothing, into another store), first, and no-op; and the time spent
  compressing (every distinct text file compressed once in this process, one core).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench import corpus  # noqa: E402
from gate import store as storage  # noqa: E402
from pipeline.precompress import precompress, worth_compressing  # noqa: E402

BIN = Path(sys.executable).parent
#: ``diplomatie`` as it was before precompression, for the baseline: the same command, copies made of nothing.
WITHOUT = [sys.executable, "-c", "import sys; import pipeline.publish as p; p.precompress = lambda data, kind: {}; "
           "from pipeline.cli import main; sys.argv[0] = 'diplomatie'; main()"]


class Assets(HTMLParser):
    """The stylesheets and scripts a page names (what a browser fetches with it)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and "stylesheet" in (a.get("rel") or "") and a.get("href"):
            self.urls.append(a["href"])
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"])


def run(args: list) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def wire(entries: list[storage.FileEntry]) -> tuple[int, int, int]:
    """Bytes a client receives for these files when it accepts nothing, gzip, and "br, gzip" (as
    browsers do: the gate sends the best copy the file has, else the file as it is)."""
    def size(e: storage.FileEntry, *codings: str) -> int:
        for coding in codings:
            if enc := e.encoded(coding):
                return enc.size
        return e.size
    return (sum(e.size for e in entries), sum(size(e, "gzip") for e in entries),
            sum(size(e, "br", "gzip") for e in entries))


def row(label: str, sizes: tuple[int, int, int]) -> str:
    ident, gz, br = sizes
    return (f"| {label} | {ident / 1e3:,.1f} KB | {gz / 1e3:,.1f} KB ({gz / ident:.0%}) | "
            f"{br / 1e3:,.1f} KB ({br / ident:.0%}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=200)
    parser.add_argument("--communities", type=int, default=2)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compression-bench-") as tmp:
        work = Path(tmp)
        root, out, store_dir = work / "corpus", work / "site", work / "store"
        corpus.write_corpus(root, opts.cables, opts.communities, git=True)
        build_s, _ = run([BIN / "diplomatie", "build", "--root", root, "--out", out])
        publishes = []
        for label, command, target in (("first, without compression", WITHOUT, work / "plain"),
                                       ("first", [BIN / "diplomatie"], store_dir),
                                       ("no-op", [BIN / "diplomatie"], store_dir)):
            seconds, stdout = run([*command, "publish", "--root", root, "--out", out, "--store", target,
                                   "--format", "json"])
            report = json.loads(stdout)["communities"]
            publishes.append((label, seconds, sum(c["uploaded"] for c in report.values()),
                              sum(c["bytes_uploaded"] for c in report.values())))
        store = storage.open_store(store_dir)
        manifests = [storage.read_manifest(store, c, storage.read_pointer(store, c).release)
                     for c in storage.communities(store)]
        largest = max(manifests, key=lambda m: len(m.cables))
        files = largest.files
        page_path = next(p for p in sorted(files) if p.split("/")[0].isdigit() and p.endswith(".html"))
        page = files[page_path]
        assets = Assets()
        assets.feed(store.get(storage.blob_key(page.sha256)).decode())
        named = [urljoin(page_path, u).split("?")[0] for u in assets.urls]
        loaded = [files[p] for p in named if p in files]
        index_path = max((p for p in files if p.endswith(".json")), key=lambda p: files[p].size)

        identity_bytes = sum(e.size for m in manifests for e in m.files.values())
        encoded_bytes = sum(enc.size for m in manifests for e in m.files.values() for _, enc in e.encodings)
        texts = {e.sha256: e for m in manifests for e in m.files.values() if worth_compressing(e)}
        started = time.perf_counter()
        for e in texts.values():
            precompress(store.get(storage.blob_key(e.sha256)), e.type)
        compress_s = time.perf_counter() - started

        print(f"\n{opts.cables} cables, {opts.communities} communities (build {build_s:.1f} s); largest "
              f"community {largest.community}: {len(largest.cables)} cables, {len(files)} files\n")
        print("| what a browser fetches | identity | gzip | br, gzip (a browser) |\n|---|---:|---:|---:|")
        print(row(f"one cable page ({page_path})", wire([page])))
        print(row(f"its {len(loaded)} stylesheets and scripts", wire(loaded)))
        print(row("page + stylesheets + scripts", wire([page, *loaded])))
        print(row(f"search index ({index_path})", wire([files[index_path]])))
        print("\n| publish (folder store) | time | blobs uploaded | bytes uploaded |\n|---|---:|---:|---:|")
        for label, seconds, uploaded, sent in publishes:
            print(f"| {label} | {seconds:.2f} s | {uploaded:,} | {sent / 1e6:.2f} MB |")
        print(f"\nStored: {identity_bytes / 1e6:.2f} MB of files and {encoded_bytes / 1e6:.2f} MB of compressed copies "
              f"({encoded_bytes / identity_bytes:.0%} more); compressing the {len(texts):,} distinct text files "
              f"takes {compress_s:.1f} s on one core (part of the first publication's time).")
        print(f"\nReproduce: .venv/bin/python bench/compression.py --cables {opts.cables} "
              f"--communities {opts.communities}")


if __name__ == "__main__":
    main()
