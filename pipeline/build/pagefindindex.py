"""Pagefind's index files as a site keeps them: rewritten after Pagefind wrote them, so that the same
pages give the same files and an edit of one page changes few of them.

Two rewrites, each renaming the files from their content (and the metadata file naming them, and
the entry file naming that):

- **Filters sorted** (:func:`canonical_filters`): Pagefind writes a filter's values in an order that
  changes from run to run.
- **Postings without positions** (:func:`without_positions`): Pagefind keeps, for each word, every
  page holding it with the word's positions in the page. A sentence inserted near the start of a
  cable moves every later word of it, so every word of the cable got new postings: in a slice of
  about 600 cables, the words of one cable hold about two thirds of the index, and such an edit
  changed every chunk (bench/postings.py). Here each occurrence keeps its weight (a title's words
  count more) but takes a position of its own on the page that depends on the word and its rank
  among that word's occurrences there (:func:`page_slots`): an edit changes the postings of the
  words whose count it changes, and the chunks are cut small (about CHUNK_BYTES, where each word
  alone decides), so those postings are a few files and the others keep their bytes; the chunks are
  named so that Pagefind loads, for a query of two letters or more, every chunk holding a word it
  begins.
  Pagefind's ranking (BM25 over weighted counts) is unchanged; what the positions served, the
  excerpt around the words found and a quoted phrase, the site's search script does from the
  result's text (theme/assets/javascripts/search.js).

The files' format stays Pagefind's (`pagefind_web`'s decoder: a chunk is ``[[word, pages,
variants], …]``, a page ``[page delta, locations, meta locations]``, locations are weight markers
(negative) each followed by an absolute position then differences), read and written with cbor2.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from pipeline.audit import PAGEFIND_SIGNATURE as SIGNATURE  # what every data file starts with, unzipped
from pipeline.site import gzip_bytes

#: The Pagefind versions whose files these rewrites read (pyproject.toml pins ``pagefind[bin]`` to
#: 1.5): another version's index is refused rather than rewritten blind (:func:`unreadable`).
FORMAT_VERSIONS = ("1.5.",)
#: A query of this many letters or more finds every word it begins (see :func:`bounded`).
QUERY_LETTERS = 2
#: About how many bytes of postings (CBOR, before compression) a chunk holds: a query fetches one
#: chunk per word per slice, and an edit rewrites the chunks of the words whose counts it changes.
CHUNK_BYTES = 4096
#: On each page, each word's occurrences take positions of their own: a slot of this many positions
#: (or more slots in a row, for a word found more often), drawn from the word among WORD_SLOTS (see
#: :func:`page_slots`). Positions stay small: Pagefind's script walks an array as long as a result's
#: largest position to place its excerpt (positions near 2**30 throw).
POSITIONS_PER_WORD = 64
WORD_SLOTS = 4096


def pack(value: object) -> bytes:
    """A Pagefind data file holding ``value`` (gzip with a fixed header time: same value, same bytes)."""
    import cbor2

    return gzip_bytes(SIGNATURE + cbor2.dumps(value), 0)


def unpack(path: Path) -> object:
    import cbor2

    return cbor2.loads(gzip.decompress(path.read_bytes())[len(SIGNATURE):])


def _content_name(prefix: str, data: bytes, length: int = 7) -> str:
    return f"{prefix}_{hashlib.sha256(data).hexdigest()[:length]}"


def _write_named(folder: Path, prefix: str, suffix: str, data: bytes) -> str:
    """Write ``data`` in ``folder`` under a name from its content (as Pagefind names its files, a
    longer one if another file of the index already has that name); returns the name."""
    for length in range(7, 65):
        name = _content_name(prefix, data, length)
        path = folder / f"{name}{suffix}"
        if not path.exists() or path.read_bytes() == data:
            path.write_bytes(data)
            return name
    raise ValueError(f"{folder}: two files of the index have the same SHA-256")


def rewrite_meta(output: Path, change: Callable[[list], None]) -> None:
    """Apply ``change`` to each language's metadata (a list, changed in place), then rename the
    metadata file from its new content and write the entry file naming it."""
    entry_path = output / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for language in entry["languages"].values():
        meta_path = output / f"pagefind.{language['hash']}.pf_meta"
        meta = unpack(meta_path)
        change(meta)  # type: ignore[arg-type]
        data = pack(meta)
        new = _content_name(language["hash"].split("_")[0], data, 10)
        meta_path.unlink()
        (output / f"pagefind.{new}.pf_meta").write_bytes(data)
        language["hash"] = new
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def canonical_filters(output: Path) -> None:
    """Each filter's values sorted, its file renamed from its content: builds are reproducible, and an
    update uploads only what changed."""
    renamed: dict[str, str] = {}
    for path in sorted((output / "filter").glob("*.pf_filter")):
        name, values = unpack(path)  # type: ignore[misc]
        path.unlink()
        renamed[path.stem] = _write_named(output / "filter", path.stem.split("_")[0], ".pf_filter",
                                          pack([name, sorted(values, key=lambda v: v[0])]))

    def change(meta: list) -> None:
        meta[3] = sorted([name, renamed.get(file, file)] for name, file in meta[3])

    rewrite_meta(output, change)


def without_positions(output: Path) -> None:
    """The slice's index chunks rewritten without word positions and cut again (see the module)."""

    def change(meta: list) -> None:
        if not str(meta[0]).startswith(FORMAT_VERSIONS):
            raise ValueError(f"Pagefind {meta[0]} wrote it; this rewrite reads {', '.join(FORMAT_VERSIONS)}x")
        words: list[list] = []
        prefix = "en"
        for _first, _last, name in meta[2]:
            path = output / "index" / f"{name}.pf_index"
            words.extend(unpack(path)[0])  # type: ignore[index]
            prefix = name.split("_")[0]
            path.unlink()
        listing = []
        for chunk in chunked(postings_without_positions(sorted(words, key=lambda word: word[0]))):
            listing.append([chunk[0][0], chunk[-1][0], _write_named(output / "index", prefix, ".pf_index", pack([chunk]))])
        meta[2] = bounded(listing)

    rewrite_meta(output, change)


def postings_without_positions(words: list[list]) -> list[list]:
    """A slice's word entries (``[word, pages, variants]``) with every position replaced by one of
    its own on its page (:func:`page_slots`, :func:`ranked`); weights, counts and order kept."""
    occurrences = [_occurrences(word) for word in words]
    slots = page_slots(occurrences, [word[0] for word in words])
    return [_word_without_positions(word, found, slots) for word, found in zip(words, occurrences, strict=True)]


def _occurrences(word: list) -> dict[int, list[int]]:
    """Page -> the word's positions there, sorted, with its variants' (the word as written with its
    accents, at positions of the word's own)."""
    found: dict[int, set[int]] = {}
    variants = word[2] if len(word) > 2 else []
    for pages in [word[1], *(variant[1] for variant in variants)]:
        for page, locations in _pages(pages):
            found.setdefault(page, set()).update(_decoded(locations))
    return {page: sorted(positions) for page, positions in found.items()}


def page_slots(occurrences: list[dict[int, list[int]]], words: list[str]) -> dict[tuple[int, str], int]:
    """(page, word) -> the first of the slots of POSITIONS_PER_WORD positions the word's occurrences
    on that page take. Each word of a page gets slots of its own (Pagefind merges two words found at
    one position into one match, and adds their weights in a byte that can overflow): its slot is
    drawn from the word, or the next free one when another word of the page, earlier in the
    alphabet, has it. So a word's positions depend on itself and, rarely, on a word of the same page
    that drew the same slot: an edit changes the postings of the words it changes, and seldom
    another one's."""
    by_page: dict[int, list[tuple[str, int]]] = {}
    for word, found in zip(words, occurrences, strict=True):
        for page, positions in found.items():
            by_page.setdefault(page, []).append((word, len(positions)))
    slots: dict[tuple[int, str], int] = {}
    for page, held in by_page.items():
        taken: set[int] = set()
        for word, count in sorted(held):
            need = -(-count // POSITIONS_PER_WORD)
            slot = word_slot(word)
            while any(slot + i in taken for i in range(need)):
                slot += 1
            taken.update(range(slot, slot + need))
            slots[(page, word)] = slot
    return slots


# What reading or rewriting an index Pagefind wrote may raise when its files are not what this
# module reads: the build stops with the file's folder named (pipeline/build/searchindex.py).
def unreadable() -> tuple[type[BaseException], ...]:
    import cbor2

    return (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, cbor2.CBORDecodeError)


def word_slot(word: str) -> int:
    """The slot ``word``'s positions are drawn to, from the word alone (one of WORD_SLOTS)."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % WORD_SLOTS


def _word_without_positions(word: list, occurrences: dict[int, list[int]], slots: dict[tuple[int, str], int]) -> list:
    """``[word, pages, variants…]`` with each page's positions replaced (see :func:`ranked`): the
    word's slot on that page, plus the occurrence's rank among the word's (a variant's occurrence
    keeps the position of the word's at that place)."""
    ranks = {page: {position: rank for rank, position in enumerate(found)} for page, found in occurrences.items()}

    def rewrite(pages: list) -> list:
        return [[packed[0], ranked(packed[1], slots[(page, word[0])] * POSITIONS_PER_WORD, ranks[page]), *packed[2:]]
                for packed, (page, _) in zip(pages, _pages(pages), strict=True)]

    variants = word[2] if len(word) > 2 else []
    rest = [[variant[0], rewrite(variant[1]), *variant[2:]] for variant in variants]
    return [word[0], rewrite(word[1]), *([rest] if len(word) > 2 else []), *word[3:]]


def _pages(pages: list) -> list[tuple[int, list]]:
    """(page number, locations) of each packed page: page numbers are stored as differences."""
    found, page = [], 0
    for packed in pages:
        page += packed[0]
        found.append((page, packed[1]))
    return found


def _decoded(locations: list) -> list[int]:
    """The absolute position of each occurrence, as pagefind_web decodes them: a negative number
    sets the weight of what follows, whose first position is absolute and the next ones differences."""
    found, position = [], 0
    for value in locations:
        if value < 0:
            position = 0
        else:
            position += value
            found.append(position)
    return found


def ranked(locations: list, slot: int, ranks: dict[int, int]) -> list:
    """``locations`` with each position replaced by ``slot`` plus its rank among the word's
    occurrences on the page, encoded as Pagefind encodes them; weight markers kept."""
    out: list[int] = []
    real, previous = 0, None
    for value in locations:
        if value < 0:
            out.append(value)
            real, previous = 0, None
            continue
        real += value
        # From 1: with a word at position 0, Pagefind's search traps on some queries (seen on a site
        # of 6,445 cables). A word found more often than a slot holds runs on into its next slots.
        position = slot + ranks[real] + 1
        out.append(position if previous is None else position - previous)
        previous = position
    return out


def chunked(words: list[list], budget: int = CHUNK_BYTES) -> list[list[list]]:
    """Sorted words cut in chunks of about ``budget`` bytes of CBOR. Where a chunk starts is decided
    by each word alone (:func:`starts_chunk`), not by the sizes of the words before it: an edit that
    changes some words' postings moves no cut elsewhere, so every other chunk keeps its bytes."""
    import cbor2

    chunks: list[list[list]] = []
    current: list[list] = []
    for word in words:
        if current and starts_chunk(word[0], len(cbor2.dumps(word)), budget):
            chunks.append(current)
            current = []
        current.append(word)
    if current:
        chunks.append(current)
    return chunks


def starts_chunk(word: str, size: int, budget: int = CHUNK_BYTES) -> bool:
    """Whether ``word`` (its postings ``size`` bytes of CBOR) starts a chunk: with a probability of
    ``size`` out of ``budget``, drawn from the word's hash, so that chunks hold about ``budget``
    bytes and a word holding more starts its own."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8, person=b"chunk").digest()
    return int.from_bytes(digest, "big") % budget < size


def bounded(listing: list[list[str]]) -> list[list[str]]:
    """Each chunk named ``[from, to, file]`` for Pagefind's rule (a query loads every chunk whose
    ``from`` <= the query <= ``to``): ``from`` is the first word's first QUERY_LETTERS letters and
    ``to`` the last word. A query of that many letters or more then loads every chunk holding a word
    it begins (a word's first letters sort no later than the query, the word no earlier), and at most
    the later chunks starting with the same letters besides; Pagefind's own names (each bound cut
    where it parts from the neighbouring chunk's) would leave out the chunks after a cut inside the
    words the query begins."""
    return [[first[:QUERY_LETTERS], last, name] for first, last, name in listing]
