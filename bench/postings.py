"""Why a sentence inserted in one cable changes about half of its search slice, and what an index
without word positions would change instead.

    .venv/bin/python bench/postings.py --site OUT/communaute-8 [--budgets 4000,8000,16000]
                                       [--workdir DIR]

Pagefind's index chunks keep, for each word, every page holding it with the *positions* of the word
in the page. A sentence inserted near the start of a cable moves every later word of that page, so
every word of the cable has new postings, and every chunk holding one of them is a new file. This
benchmark measures that on a built community site (``--site``, e.g. one ``diplomatie build`` or
bench/search.py built): it indexes a hard-linked copy as the pipeline does, inserts a sentence in the
middle cable (bench/slices.py ``insert_sentence``), indexes again, and prints:

- what Pagefind's index changes (bytes and files of its slice's index chunks);
- the share of that slice's index held by the words of the edited cable (each word's postings,
  compressed alone): the least any chunking of a positional index could change;
- the same two indexes with the positions left out (each page's count of the word kept, what a
  ranking needs), cut into chunks of about ``--budgets`` bytes that never part two words sharing
  their first three letters (so a query of three letters or more finds all its extensions in the
  chunks Pagefind's rule loads): total size and what the edit changes.

Nothing here is used by the site: it measures the cost of the positions, which Pagefind needs for
its excerpts and quoted-phrase search, to decide whether to keep them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shlex
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench.slices import cable_months, insert_sentence, linked_copy  # noqa: E402
from pipeline.build.pagefindindex import SIGNATURE  # noqa: E402
from pipeline.build.searchindex import SEARCH_DIR, index_site  # noqa: E402

#: Two words sharing this many first letters are never put in different chunks.
KEPT_TOGETHER = 3


def _decode(path: Path) -> list:
    import cbor2

    return cbor2.loads(gzip.decompress(path.read_bytes())[len(SIGNATURE):])


def postings(slice_dir: Path) -> dict[str, dict[int, list[int]]]:
    """A Pagefind slice's words: word -> page number -> its locations as stored (weight markers,
    then positions as differences). Page numbers are stored as differences too."""
    words: dict[str, dict[int, list[int]]] = {}
    for chunk in sorted((slice_dir / "index").glob("*.pf_index")):
        for entry in _decode(chunk)[0]:
            page, pages = 0, {}
            for packed in entry[1]:
                page += packed[0]
                pages[page] = packed[1]
            words[entry[0]] = pages
    return words


def page_number(slice_dir: Path, url: str) -> int | None:
    """The number Pagefind gave the page at ``url`` in this slice (its place in the metadata)."""
    import json

    meta = _decode(next(slice_dir.glob("pagefind.*.pf_meta")))
    for number, (fragment, _) in enumerate(meta[1]):
        data = json.loads(gzip.decompress((slice_dir / "fragment" / f"{fragment}.pf_fragment").read_bytes())
                          [len(SIGNATURE):])
        if data["url"].endswith("/" + url):
            return number
    return None


def word_share(words: dict[str, dict[int, list[int]]], page: int) -> tuple[int, int]:
    """(bytes of the postings of the words ``page`` holds, bytes of all postings), each word's
    postings compressed alone."""
    import cbor2

    sizes = {word: len(zlib.compress(cbor2.dumps(sorted(pages.items())), 6)) for word, pages in words.items()}
    return sum(size for word, size in sizes.items() if page in words[word]), sum(sizes.values())


def positionless_chunks(words: dict[str, dict[int, list[int]]], budget: int) -> dict[str, int]:
    """The index without positions (page -> count of the word), cut in chunks of about ``budget``
    bytes of CBOR, never between two words sharing their first ``KEPT_TOGETHER`` letters: chunk
    digest -> gzipped size."""
    import cbor2

    chunks, current, size, previous = [], [], 0, ""
    for word in sorted(words):
        entry = [word, [[page, sum(1 for loc in locs if loc >= 0)] for page, locs in sorted(words[word].items())]]
        length = len(cbor2.dumps(entry))
        if current and size + length > budget and len(os.path.commonprefix([previous, word])) < KEPT_TOGETHER:
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size, previous = size + length, word
    chunks.append(current)
    return {hashlib.sha256(cbor2.dumps(c)).hexdigest(): len(gzip.compress(cbor2.dumps(c), 9, mtime=0)) for c in chunks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True, help="a built community site (its folder)")
    parser.add_argument("--budgets", default="4000,8000,16000", help="chunk sizes to try, in bytes of CBOR")
    parser.add_argument("--language", default="fr")
    parser.add_argument("--workdir", type=Path, default=None, help="work here (default: a temp dir, removed)")
    args = parser.parse_args()
    site = args.site.resolve()
    months = cable_months(site)
    if not months:
        raise SystemExit(f"{site}: no cable page with a month (is it a built community site?)")
    cable = sorted(months)[len(months) // 2]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-postings-"))
    try:
        before, after = work / "before" / site.name, work / "after" / site.name
        linked_copy(site, before)
        index_site(before, args.language, months)
        linked_copy(before, after)
        insert_sentence(after / cable)
        index_site(after, args.language, months)
        changed = [d.name for d in sorted((before / SEARCH_DIR).iterdir()) if d.is_dir()
                   and {p.name for p in (d / "index").iterdir()} != {p.name for p in (after / SEARCH_DIR / d.name / "index").iterdir()}]
        print(f"\n### A sentence inserted in {cable} ({site.name}, {len(months):,} cables)\n")
        print("| slice | Pagefind's chunks: index, edit changes | words of the cable: share of the index | "
              + " | ".join(f"without positions, chunks of {int(b) // 1000} KB: index, edit changes" for b in args.budgets.split(","))
              + " |")
        print("|---|---:|---:|" + "---:|" * len(args.budgets.split(",")))
        for name in changed:
            old, new = before / SEARCH_DIR / name, after / SEARCH_DIR / name
            old_files = {p.name: p.stat().st_size for p in (old / "index").iterdir()}
            new_files = {p.name: p.stat().st_size for p in (new / "index").iterdir()}
            edit = sum(size for file, size in new_files.items() if file not in old_files)
            files = sum(1 for file in new_files if file not in old_files)
            words_before, words_after = postings(old), postings(new)
            page = page_number(old, cable)
            held, total = word_share(words_before, page) if page is not None else (0, 1)
            cells = [f"{name}", f"{sum(old_files.values()) / 1e3:.0f} KB, {edit / 1e3:.0f} KB ({files} files)",
                     f"{100 * held / total:.0f} %" if page is not None else "(not in this slice)"]
            for budget in (int(b) for b in args.budgets.split(",")):
                a, b = positionless_chunks(words_before, budget), positionless_chunks(words_after, budget)
                moved = {digest: size for digest, size in b.items() if digest not in a}
                cells.append(f"{sum(a.values()) / 1e3:.0f} KB, {sum(moved.values()) / 1e3:.1f} KB ({len(moved)} files)")
            print("| " + " | ".join(cells) + " |")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nReproduce: .venv/bin/python bench/postings.py {shlex.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
