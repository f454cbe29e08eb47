"""Why a sentence inserted in one cable changed about a whole search slice, and what the site's
index (without word positions) changes instead, side by side in one run.

    .venv/bin/python bench/postings.py --site OUT/communaute-8 [--workdir DIR]

Pagefind keeps, for each word, every page holding it with the *positions* of the word in the page.
A sentence inserted near the start of a cable moves every later word of it, so every word of the
cable gets new postings, and every chunk holding one of them is a new file. The site's index keeps
each occurrence's weight but not its place (pipeline/build/pagefindindex.py), in smaller chunks.
On a built community site (``--site``, e.g. one ``diplomatie build`` or bench/search.py built),
this indexes a hard-linked copy twice, as Pagefind writes it and as the pipeline keeps it, inserts a
sentence in the middle cable (bench/slices.py ``insert_sentence``), indexes both again, and prints
for the edited slice:

- Pagefind's own index: its size, and what the edit changes (bytes and files of index chunks);
- the share of that index held by the postings of the edited cable's words (each word's postings
  compressed alone): the least any chunking of a positional index could change;
- the site's index: its size, and what the edit changes.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import shlex
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from bench.slices import built_site, insert_sentence, linked_copy, site_arguments  # noqa: E402
from pipeline.build import searchindex  # noqa: E402
from pipeline.build.pagefindindex import SIGNATURE, unpack  # noqa: E402
from pipeline.build.searchindex import SEARCH_DIR, index_site  # noqa: E402


def postings(slice_dir: Path) -> dict[str, dict[int, list[int]]]:
    """A Pagefind slice's words: word -> page number -> its locations as stored (weight markers,
    then positions as differences). Page numbers are stored as differences too."""
    words: dict[str, dict[int, list[int]]] = {}
    for chunk in sorted((slice_dir / "index").glob("*.pf_index")):
        for entry in unpack(chunk)[0]:
            page, pages = 0, {}
            for packed in entry[1]:
                page += packed[0]
                pages[page] = packed[1]
            words[entry[0]] = pages
    return words


def page_number(slice_dir: Path, url: str) -> int | None:
    """The number Pagefind gave the page at ``url`` in this slice (its place in the metadata)."""
    import json

    meta = unpack(next(slice_dir.glob("pagefind.*.pf_meta")))
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


@contextlib.contextmanager
def pagefinds_own_chunks():
    """index_site as Pagefind writes the chunks (the positions kept): the comparison's other side."""
    saved = searchindex.without_positions
    searchindex.without_positions = lambda output: None
    try:
        yield
    finally:
        searchindex.without_positions = saved


def indexed_twice(site: Path, work: Path, cable: str, months: dict[str, str], language: str) -> tuple[Path, Path]:
    """``site`` indexed in ``work``, then the same with a sentence inserted in ``cable``."""
    before, after = work / "before" / site.name, work / "after" / site.name
    linked_copy(site, before)
    index_site(before, language, months)
    linked_copy(before, after)
    insert_sentence(after / cable)
    index_site(after, language, months)
    return before, after


def chunks_changed(before: Path, after: Path) -> tuple[int, int, int]:
    """(size of ``before``'s index chunks, bytes and number of ``after``'s chunks it does not hold)."""
    old = {p.name: p.stat().st_size for p in (before / "index").iterdir()}
    new = {p.name: p.stat().st_size for p in (after / "index").iterdir()}
    moved = [size for name, size in new.items() if name not in old]
    return sum(old.values()), sum(moved), len(moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    site_arguments(parser)
    args = parser.parse_args()
    site, months = built_site(args.site)
    cable = sorted(months)[len(months) // 2]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-postings-"))
    try:
        with pagefinds_own_chunks():
            own = indexed_twice(site, work / "pagefind", cable, months, args.language)
        kept = indexed_twice(site, work / "site", cable, months, args.language)
        print(f"\n### A sentence inserted in {cable} ({site.name}, {len(months):,} cables)\n")
        print("| slice | Pagefind's chunks: index, edit changes | words of the cable: share of that index | "
              "the site's chunks: index, edit changes |")
        print("|---|---:|---:|---:|")
        for folder in sorted((own[0] / SEARCH_DIR).iterdir()):
            if not folder.is_dir():
                continue
            name = folder.name
            size, moved, files = chunks_changed(folder, own[1] / SEARCH_DIR / name)
            if not files:
                continue
            page = page_number(folder, cable)
            held, total = word_share(postings(folder), page) if page is not None else (0, 1)
            ours = chunks_changed(kept[0] / SEARCH_DIR / name, kept[1] / SEARCH_DIR / name)
            print(f"| {name} | {size / 1e3:.0f} KB, {moved / 1e3:.0f} KB ({files} files) | {100 * held / total:.0f} % | "
                  f"{ours[0] / 1e3:.0f} KB, {ours[1] / 1e3:.1f} KB ({ours[2]} files) |")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nReproduce: .venv/bin/python bench/postings.py {shlex.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
