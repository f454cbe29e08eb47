"""The search index's postings without positions (pipeline/build/pagefindindex.py): Pagefind still
finds every word and every beginning of three letters or more, ranks by the same weighted counts,
and an edit that moves a cable's words changes only the chunks of the words whose counts it changes."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.build.pagefindindex import (
    POSITIONS_PER_WORD,
    QUERY_LETTERS,
    WORD_SLOTS,
    _decoded,
    _pages,
    bounded,
    chunked,
    pack,
    postings_without_positions,
    unpack,
)
from pipeline.build.searchindex import SEARCH_DIR, index_site


def requested(listing: list[list[str]], term: str) -> set[str]:
    """The chunks pagefind_web loads for ``term`` (its request_indexes): those whose bounds hold the
    term, or if none does, those whose bounds cut to the term's length hold the term cut to theirs."""
    strict = {name for first, last, name in listing if first <= term <= last}
    if strict:
        return strict
    return {name for first, last, name in listing
            if term[:min(len(term), len(first))] >= first[:len(term)] and term[:min(len(term), len(last))] <= last[:len(term)]}


_WORDS = st.lists(st.text("abcdeéz", min_size=1, max_size=7), min_size=1, max_size=200, unique=True)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_WORDS, st.integers(20, 600))
def test_every_word_and_every_beginning_of_two_letters_finds_the_chunks_holding_it(words, budget):
    entries = [[word, [[0, [-26, 1], []]], []] for word in sorted(words)]
    chunks = chunked(entries, budget)
    listing = bounded([[chunk[0][0], chunk[-1][0], str(i)] for i, chunk in enumerate(chunks)])
    where = {entry[0]: str(i) for i, chunk in enumerate(chunks) for entry in chunk}
    assert sorted(where) == sorted(words)
    for word in words:
        assert where[word] in requested(listing, word), (word, listing)
        for length in range(QUERY_LETTERS, len(word)):
            assert where[word] in requested(listing, word[:length]), (word[:length], word, listing)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(_WORDS, st.integers(20, 600))
def test_a_query_loads_besides_its_words_only_later_chunks_starting_with_the_same_letters(words, budget):
    chunks = chunked([[word, [[0, [-26, 1, 3, 4], []]], []] for word in sorted(words)], budget)
    listing = bounded([[chunk[0][0], chunk[-1][0], str(i)] for i, chunk in enumerate(chunks)])
    for word in words:
        for query in {word[:length] for length in range(QUERY_LETTERS, len(word) + 1)}:
            for name in requested(listing, query):
                held = [entry[0] for entry in chunks[int(name)]]
                assert any(w.startswith(query) for w in held) or (held[0][:QUERY_LETTERS] == query[:QUERY_LETTERS]
                                                                  and held[0] > query), (query, held)


_LOCATIONS = st.lists(st.tuples(st.sampled_from([-26, -8, -51]), st.lists(st.integers(1, 40), min_size=1, max_size=6)),
                      min_size=1, max_size=3)


def _encode(groups: list[tuple[int, list[int]]], shift: int) -> list[int]:
    """Locations as Pagefind writes them, every position moved by ``shift`` (text inserted before)."""
    out: list[int] = []
    start = 0
    for marker, gaps in groups:
        positions = [start + sum(gaps[:i + 1]) for i in range(len(gaps))]
        start = positions[-1]
        out += [marker, positions[0] + shift, *(b - a for a, b in zip(positions, positions[1:], strict=False))]
    return out


_PAGES = st.dictionaries(st.integers(0, 5), _LOCATIONS, min_size=1, max_size=4)
_SLICE = st.dictionaries(st.text("abcdeé", min_size=1, max_size=6), _PAGES, min_size=1, max_size=12)


def _entries(words: dict[str, dict[int, list]], shift: int = 0) -> list[list]:
    """Word entries as Pagefind writes them (page numbers as differences), every position moved by
    ``shift``; the word's first page with a title position (metadata) too."""
    entries = []
    for word in sorted(words):
        pages, previous = [], 0
        for page in sorted(words[word]):
            pages.append([page - previous, _encode(words[word][page], shift), [[-4, 3]] if not pages else []])
            previous = page
        entries.append([word, pages, []])
    return entries


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_SLICE, st.integers(1, 500))
def test_text_inserted_before_the_words_leaves_their_postings_as_they_were(words, shift):
    assert postings_without_positions(_entries(words)) == postings_without_positions(_entries(words, shift))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_SLICE)
def test_each_occurrence_keeps_its_weight_and_a_position_no_other_word_has_on_its_page(words):
    entries = _entries(words)
    rewritten = postings_without_positions(entries)
    on_page: dict[int, list[int]] = {}
    for entry, new in zip(entries, rewritten, strict=True):
        assert new[0] == entry[0]
        for (old_page, new_page), (page, locations) in zip(zip(entry[1], new[1], strict=True), _pages(new[1]), strict=True):
            assert new_page[0] == old_page[0] and new_page[2] == old_page[2]  # page and title positions kept
            assert [v for v in new_page[1] if v < 0] == [v for v in old_page[1] if v < 0]  # weights kept
            assert len(_decoded(locations)) == len(_decoded(old_page[1]))
            on_page.setdefault(page, []).extend(_decoded(locations))
    for positions in on_page.values():
        assert len(set(positions)) == len(positions)
        assert all(1 <= p <= (WORD_SLOTS + len(positions)) * POSITIONS_PER_WORD for p in positions)


def test_a_variant_keeps_the_position_of_the_word_it_spells():
    word = ["negoci", [[0, [-26, 5, 10, 30], []]], [["négoci", [[0, [-26, 15], []]]]]]
    rewritten = postings_without_positions([word])[0]
    assert _decoded(rewritten[2][0][1][0][1]) == [_decoded(rewritten[1][0][1])[1]]


# --------------------------------------------------------------------------------------------
# A real index: what an edit that moves a cable's words changes


VOCABULARY = [f"{a}{b}{c}{d}" for a in "bcdfglmnprstv" for b in ("a", "e", "é", "i", "o", "u") for c in "lnrst"
              for d in ("e", "ion", "ique", "ées")]


def _page(n: int, words: int = 400) -> str:
    """A cable-like page of ``words`` words drawn from VOCABULARY (a title and two paragraphs)."""
    drawn = [VOCABULARY[(n * 7919 + i * 104729 + i * i) % len(VOCABULARY)] for i in range(words + 4)]
    return (f'<html lang="fr"><head><title>Page {n}</title></head><body><main data-pagefind-body>'
            f"<h1>{' '.join(drawn[:4]).capitalize()} {n}</h1><p>{' '.join(drawn[4:200])}.</p>"
            f"<p>{' '.join(drawn[200:])}.</p></main></body></html>")


def synthetic_site(site, pages: int = 40, first: str = "", edited: int = -1) -> dict[str, str]:
    """``pages`` pages of VOCABULARY in ``site``/2026 (``first`` inserted at the start of page
    ``edited``'s text); returns their months, as index_site takes them."""
    (site / "2026").mkdir(parents=True)
    for n in range(pages):
        text = _page(n)
        if n == edited:
            text = text.replace("<p>", "<p>" + first, 1)
        (site / "2026" / f"C-{n:02d}.html").write_text(text, encoding="utf-8")
    return {f"2026/C-{n:02d}.html": "2026-03" for n in range(pages)}


def _index_files(site) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (site / SEARCH_DIR).rglob("*.pf_index")}


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    """A site of 40 pages indexed, then the same with a sentence of two new words inserted at the
    start of one page's text."""
    sites = []
    for name, first in (("before", ""), ("after", "Ajoutée relecture ")):
        site = tmp_path_factory.mktemp(name)
        index_site(site, "fr", synthetic_site(site, first=first, edited=17))
        sites.append(site)
    return sites


def test_a_sentence_inserted_changes_only_the_chunks_of_its_words(edited):
    before, after = (_index_files(site) for site in edited)
    assert len(before) >= 10  # the index is in many chunks
    changed = {rel for rel, digest in after.items() if digest not in before.values()}
    # The chunks of « ajoutée » and « relecture » (a new word may start a chunk, cutting one in two).
    assert 1 <= len(changed) <= 4
    words = {entry[0] for rel in changed for entry in unpack(edited[1] / rel)[0]}
    assert any(word.startswith("ajout") for word in words) and any(word.startswith("relectur") for word in words)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.text("abcdez", min_size=1, max_size=6), st.integers(1, 60)), min_size=2, max_size=120,
                unique_by=lambda pair: pair[0]), st.data())
def test_changing_one_words_postings_changes_its_chunk_and_at_most_a_neighbour(pairs, data):
    def entries(sizes):
        return [[word, [[0, [-26, *([1] * sizes[word])], []]], []] for word in sorted(sizes)]

    sizes = dict(pairs)
    edited = data.draw(st.sampled_from(sorted(sizes)))
    before = chunked(entries(sizes), 120)
    after = chunked(entries({**sizes, edited: data.draw(st.integers(1, 60))}), 120)
    changed = [chunk for chunk in after if chunk not in before]
    assert len(changed) <= 2
    assert not changed or any(entry[0] == edited for chunk in changed for entry in chunk)


def test_a_file_whose_name_another_file_of_the_index_has_takes_a_longer_one(tmp_path):
    from pipeline.build.pagefindindex import _content_name, _write_named

    data = b"postings"
    (tmp_path / f"{_content_name('fr', data)}.pf_index").write_bytes(b"another chunk")
    name = _write_named(tmp_path, "fr", ".pf_index", data)
    assert name == _content_name("fr", data, 8)
    assert (tmp_path / f"{name}.pf_index").read_bytes() == data
    assert (tmp_path / f"{_content_name('fr', data)}.pf_index").read_bytes() == b"another chunk"


def _other_version(output):
    meta_path = next(output.glob("pagefind.*.pf_meta"))
    meta = unpack(meta_path)
    meta[0] = "1.6.0"
    meta_path.write_bytes(pack(meta))


def _chunk_not_cbor(output):
    next((output / "index").glob("*.pf_index")).write_bytes(gzip.compress(b"pagefind_dcd\xff\xfe"))


def _chunk_missing(output):
    next((output / "index").glob("*.pf_index")).unlink()


def _word_of_another_shape(output):
    path = next((output / "index").glob("*.pf_index"))
    path.write_bytes(pack([[["mot", "pas une liste de pages"]]]))


@pytest.mark.parametrize("damage", [_other_version, _chunk_not_cbor, _chunk_missing, _word_of_another_shape])
def test_an_index_pagefind_wrote_in_another_format_stops_the_build(tmp_path, monkeypatch, damage):
    from pipeline.build import searchindex
    from pipeline.build.job import BuildError

    run = searchindex._run_pagefind

    def damaged(site, output, language):
        run(site, output, language)
        damage(output)

    monkeypatch.setattr(searchindex, "_run_pagefind", damaged)
    with pytest.raises(BuildError, match="not in the format this pipeline reads"):
        index_site(tmp_path / "site", "fr", synthetic_site(tmp_path / "site", pages=3))
