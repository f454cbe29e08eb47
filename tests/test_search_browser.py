"""The site's search in real headless Chromium, served as the gate serves it (each site under
/c/<community>/, its Content-Security-Policy on every response, the 404 page for any missing path):
accents, case and apostrophes never matter; filters narrow results without leaving the page; it
works on the 404 page at any depth; it is usable with the keyboard and readable."""

from __future__ import annotations

import datetime as dt

import pytest
from browser import browser  # noqa: F401 (the fixture)
from contentrepo import make_repo
from siteserver import serving
from test_build import build
from test_pagefindindex import VOCABULARY, synthetic_site

from pipeline.build.searchindex import index_site

pytestmark = pytest.mark.browser

CABLES = {  # id: (title, date, subjects, language, body)
    "2026-PARIS-0001": ("Le prix de l'électricité en hausse", dt.date(2026, 1, 12), ["energie"], "fr",
                        "## Marché\n\nLe prix de l’électricité augmente en Europe.\n"),
    "2026-BERLIN-0002": ("Énergie : la stratégie allemande", dt.date(2026, 3, 3), ["energie", "climat"], "fr",
                         "## Contexte\n\nLa filière de l’hydrogène et le parc nucléaire voisin.\n"),
    "2025-BERLIN-0003": ("Le réseau électrique", dt.date(2025, 6, 20), ["energie"], "fr",
                         "## Réseau\n\nLes lignes à haute tension et l’œuvre des régulateurs.\n"),
    "2026-LONDRES-0004": ("UK energy outlook", dt.date(2026, 2, 2), ["energie"], "en",
                          "## Outlook\n\nThe nation's grid and offshore wind.\n"),
}
CANARY_ONU = "The heron of Turtle Bay counts the votes at dawn."


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two communities built from a content repository, served on 127.0.0.1 like the gate serves them."""
    root = tmp_path_factory.mktemp("content")
    repo = make_repo(root)
    for cable_id, (title, date, subjects, language, body) in CABLES.items():
        repo.cable(cable_id, title=title, date=date, subjects=subjects, language=language,
                   summary=f"Résumé : {title}.", body=body)
        repo.approve(cable_id, "energie")
    repo.cable("2026-NEW-YORK-ONU-0001", title="Security Council énergie talks", date=dt.date(2026, 1, 20),
               subjects=["onu"], language="en", summary="The talks stall.", body="## Background\n\n" + CANARY_ONU + "\n")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    repo.commit("sample", date="2026-11-20T10:00:00Z")
    out = tmp_path_factory.mktemp("site")
    build(root, out, jobs=1)
    with serving(out) as base:
        yield base


def open_page(browser, url: str, problems: list[str]):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text
            or m.type == "error" and "404" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: problems.append(f"off-site request {r.url}")
            if not r.url.startswith(url.split("/c/")[0]) and not r.url.startswith("data:") else None)
    page.goto(url)
    return page


def results(page, query: str, field: str = "#dip-search-q") -> list[str]:
    page.locator(field).fill(query)
    # Done once every slice was searched: the status no longer says older slices are being searched.
    page.wait_for_function("q => document.querySelector('.dip-search__status').textContent.match(/trouvé|Aucun|found|No cable/)"
                           " && !document.querySelector('.dip-search__status').textContent.endsWith('…')"
                           " && document.querySelector('.dip-search__results').getAttribute('aria-busy') === 'false'"
                           " && document.querySelector('" + field + "').value === q", arg=query, timeout=10_000)
    return page.locator(".dip-search__results h3").all_inner_texts()


def test_accents_case_and_apostrophes_never_matter(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/2026/2026-PARIS-0001.html", problems)
    electricite = "Le prix de l'électricité en hausse"
    expected = {
        "energie": "Énergie : la stratégie allemande",  # « Énergie », capital and accented, in its title
        "ENERGIE": "Énergie : la stratégie allemande",
        "électricité": electricite,
        "electricite": electricite,  # « l'électricité » and « l’électricité »
        "Electricite": electricite,
        "l'electricite": electricite,
        "l’électricité": electricite,
        "nucleaire": "Énergie : la stratégie allemande",
        "hydrogene": "Énergie : la stratégie allemande",  # written « l’hydrogène »
        "hydrogène": "Énergie : la stratégie allemande",
        "oeuvre": "Le réseau électrique",  # written « l’œuvre »
        "œuvre": "Le réseau électrique",
        "nation": "UK energy outlook",  # « nation's »
    }
    for query, title in expected.items():
        assert title in results(page, query), query
    # Isolation: the other community's cable is not in this index.
    assert results(page, "heron") == [] and results(page, "Security Council") == []
    assert problems == []
    page.close()


def test_a_result_shows_the_passage_holding_the_query_with_its_words_marked(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/index.html", problems)
    assert results(page, "hydrogene") == ["Énergie : la stratégie allemande"]
    assert page.locator(".dip-search__excerpt mark").all_inner_texts() == ["l'hydrogène"]
    assert "le parc nucléaire voisin" in page.locator(".dip-search__excerpt").inner_text()
    # Each word of the query, and words beginning alike: « électricité » marks « électrique » too.
    assert len(results(page, "électricité")) == 2
    marks = {mark.strip(".,;:") for mark in page.locator(".dip-search__excerpt mark").all_inner_texts()}
    assert {"l'électricité", "électrique"} <= marks and "Le" not in marks
    results(page, "prix de l'electricite")
    marks = page.locator(".dip-search__excerpt mark").all_inner_texts()
    assert {"prix", "de", "l'électricité"} <= set(marks) and "Le" not in marks  # « l' » marks nothing alone
    assert problems == []
    page.close()


def test_a_quoted_phrase_finds_the_cables_holding_it_word_after_word(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/index.html", problems)
    for query in ('"parc nucléaire"', "« parc nucléaire »", "“Parc Nucleaire”", 'hydrogene "le parc"'):
        assert results(page, query) == ["Énergie : la stratégie allemande"], query
    assert results(page, "\"prix de l'électricité\"") == ["Le prix de l'électricité en hausse"]
    # The words are all there, not in that order, or not all together.
    assert results(page, '"nucléaire parc"') == [] and results(page, '"parc voisin"') == []
    assert results(page, "nucléaire parc") == ["Énergie : la stratégie allemande"]
    assert problems == []
    page.close()


def test_filters_narrow_results_without_leaving_the_page(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/index.html", problems)
    url = page.url
    assert len(results(page, "energie")) == 4
    page.select_option("select[data-dip-filter=post]", "BERLIN")
    page.wait_for_function("() => document.querySelectorAll('.dip-search__results li').length === 2")
    page.select_option("select[data-dip-filter=language]", "anglais")
    page.wait_for_function("() => document.querySelector('.dip-search__status').textContent.startsWith('Aucun')")
    page.select_option("select[data-dip-filter=post]", "")
    page.wait_for_function("() => document.querySelectorAll('.dip-search__results li').length === 1")
    assert page.locator(".dip-search__results h3").all_inner_texts() == ["UK energy outlook"]
    page.select_option("select[data-dip-filter=language]", "")
    # A date range: from January 2026 until February 2026.
    page.select_option("select[data-dip-filter=from]", "2026-01")
    page.select_option("select[data-dip-filter=until]", "2026-02")
    page.wait_for_function("() => document.querySelectorAll('.dip-search__results li').length === 2")
    assert sorted(page.locator(".dip-search__meta").all_inner_texts()) == [
        "2026-LONDRES-0004 · 2 février 2026 · LONDRES", "2026-PARIS-0001 · 12 janvier 2026 · PARIS"]
    assert page.url == url
    # A result leads to its cable page.
    page.locator(".dip-search__results a").first.click()
    page.wait_for_url("**/c/energie/2026/*.html")
    assert problems == []
    page.close()


def test_index_pages_offer_the_search_with_their_filter_chosen(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/posts/berlin.html", problems)
    assert sorted(results(page, "energie", "#dip-search-page")) == ["Le réseau électrique", "Énergie : la stratégie allemande"]
    assert page.locator("select[data-dip-filter=post]").input_value() == "BERLIN"
    page.goto(f"{site}/c/energie/dates/2025.html")
    assert results(page, "energie", "#dip-search-page") == ["Le réseau électrique"]
    assert problems == []
    page.close()


@pytest.mark.parametrize("path", ["nowhere.html", "a/b/c/deep.html"])
def test_search_works_on_the_404_page_at_any_depth(site, browser, path):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/{path}", problems)
    assert "Page introuvable" in page.locator("h1").inner_text()
    assert results(page, "hydrogene") == ["Énergie : la stratégie allemande"]
    assert page.locator(".dip-search__results a").get_attribute("href") == "/c/energie/2026/2026-BERLIN-0002.html"
    assert problems == []
    page.close()


CONTRAST = """(selector) => {
  const lum = (c) => { const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const el = document.querySelector(selector);
  const fg = getComputedStyle(el).color;
  let node = el, bg = 'rgba(0, 0, 0, 0)';
  while (node && (bg = getComputedStyle(node).backgroundColor) === 'rgba(0, 0, 0, 0)') node = node.parentElement;
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_search_is_usable_with_the_keyboard_and_readable(site, browser):  # noqa: F811
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/index.html", problems)
    field = page.locator("#dip-search-q")
    assert field.evaluate("el => el.labels.length === 1 && el.labels[0].textContent.trim().length > 0")
    assert page.locator(".dip-search__status").get_attribute("role") == "status"
    for select in page.locator(".dip-search__filters select").all():
        assert select.evaluate("el => el.labels.length === 1")
    field.focus()
    page.keyboard.type("electricite")
    page.wait_for_function("() => document.querySelectorAll('.dip-search__results li').length > 0")
    # The field and each control show where the focus is.
    assert field.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.dipFilter") == "post"
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    for selector in (".dip-search__title", ".dip-search__meta", ".dip-search__excerpt", ".dip-search__status",
                     ".dip-search__excerpt mark", ".dip-search__filters label"):
        assert page.evaluate(CONTRAST, selector) >= 4.5, selector
    page.keyboard.press("Escape")
    assert page.locator("#dip-search-panel").is_hidden()
    assert page.evaluate("() => document.activeElement.id") == "dip-search-q"
    assert problems == []
    page.close()


def test_the_search_library_loads_when_the_page_is_idle_before_any_key(site, browser):  # noqa: F811
    """A reader who opens a page and types at once does not wait for the library and the WebAssembly
    after the first key: they are fetched once the page has loaded; index chunks and fragments are
    not (they load for a query)."""
    problems: list[str] = []
    page = browser.new_page()
    fetched: list[str] = []
    page.on("requestfinished", lambda r: fetched.append(r.url.split("/pagefind/")[1]) if "/pagefind/" in r.url else None)
    page.goto(f"{site}/c/energie/2026/2026-PARIS-0001.html")
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => /wasm\\.fr\\.pagefind$/.test(e.name))",
                           timeout=10_000)
    page.wait_for_timeout(200)
    assert "pagefind.js" in fetched and any(name.endswith(".pf_meta") for name in fetched)
    assert not any(set(name.split("/")[:-1]) & {"index", "fragment", "filter"} for name in fetched), fetched
    # The newest slice only: older slices load when a query reaches them.
    assert {name.split("/")[0] for name in fetched if "/" in name} == {"2026"}, fetched
    page.close()
    assert problems == []


def test_a_reader_who_types_at_once_sees_the_results_of_the_whole_word(site, browser):  # noqa: F811
    """Keys typed before the library is loaded make one search, for what the field holds when it is."""
    problems: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{site}/c/energie/2026/2026-PARIS-0001.html", wait_until="domcontentloaded")
    page.locator("#dip-search-q").click()
    page.keyboard.type("hydrogene")
    page.wait_for_function("() => document.querySelector('.dip-search__status').textContent.match(/trouvé|Aucun/)"
                           " && document.querySelector('.dip-search__results').getAttribute('aria-busy') === 'false'",
                           timeout=10_000)
    assert page.locator(".dip-search__results h3").all_inner_texts() == ["Énergie : la stratégie allemande"]
    page.close()
    assert problems == []


@pytest.mark.parametrize("failure", ["unavailable", "sign-in page"])
def test_a_failed_load_is_tried_again_at_the_next_query(site, browser, failure):  # noqa: F811
    """A server restarting, a storage fault or an expired session (the sign-in page instead of the
    list of slices) makes one load fail: that query says search is unavailable, and the next one
    loads again instead of failing for as long as the page is open."""
    problems: list[str] = []
    page = open_page(browser, f"{site}/c/energie/2026/2026-PARIS-0001.html", problems)
    failed: dict[str, int] = {}

    def fail_once(route):
        name = route.request.url.split("/pagefind/")[1].split("?")[0]
        if name in failed:
            route.continue_()
        else:
            failed[name] = 1
            if failure == "unavailable":
                route.fulfill(status=503, body="Service Unavailable", content_type="text/plain")
            else:  # an expired session: the gate's sign-in page, answered where the file was asked
                route.fulfill(status=200, body="<!doctype html><title>Connexion</title><p>Connectez-vous</p>",
                              content_type="text/html")

    page.route(lambda url: url.split("?")[0].endswith(("/pagefind/slices.json", "/pagefind/2025/pagefind-entry.json")),
               fail_once)
    page.goto(f"{site}/c/energie/2026/2026-PARIS-0001.html")
    for _ in range(100):  # the library is loaded when the page is idle: that first load fails
        if "slices.json" in failed:
            break
        page.wait_for_timeout(100)
    assert failed == {"slices.json": 1}
    unavailable = page.locator("#dip-search-panel").get_attribute("data-dip-text-unavailable")
    page.locator("#dip-search-q").fill("reseau")  # in an older slice, whose first load fails too
    page.wait_for_function("t => document.querySelector('.dip-search__status').textContent === t",
                           arg=unavailable, timeout=10_000)
    assert failed == {"slices.json": 1, "2025/pagefind-entry.json": 1}
    assert page.locator(".dip-search__results").get_attribute("aria-busy") == "false"
    assert results(page, "réseau") == ["Le réseau électrique"]
    page.close()
    assert [p for p in problems if "503" not in p and "Pagefind" not in p] == []  # the faults made here


def test_the_index_without_positions_finds_what_pagefinds_own_finds_in_the_same_order(browser, tmp_path, monkeypatch):  # noqa: F811
    """The same pages indexed by Pagefind alone (word positions kept) and by the pipeline: every
    query of two letters or more, one word or two, finds the same pages, the first ten in the same order."""
    months = synthetic_site(tmp_path / "own" / "c1", pages=120)
    synthetic_site(tmp_path / "site" / "c1", pages=120)
    index_site(tmp_path / "site" / "c1", "fr", months)
    with monkeypatch.context() as patched:
        patched.setattr("pipeline.build.searchindex.without_positions", lambda output: None)
        index_site(tmp_path / "own" / "c1", "fr", months)
    words = VOCABULARY[::37]
    queries = sorted({word[:n] for word in words for n in (2, 3, 5)} | set(words)
                     | {f"{a} {b}" for a, b in zip(words, words[3:], strict=False)} | {"energie", "zz"})
    found = {}
    for name in ("own", "site"):
        with serving(tmp_path / name) as base:
            page = browser.new_page()
            page.goto(f"{base}/c/c1/2026/C-00.html")
            found[name] = page.evaluate("""async (queries) => {
              const pagefind = await import('/c/c1/pagefind/pagefind.js');
              const one = pagefind.createInstance({ basePath: '/c/c1/pagefind/2026/', baseUrl: '/c/c1/', noWorker: true });
              await one.init();
              const out = {};
              for (const query of queries) {
                const search = await one.search(query);
                const first = await Promise.all(search.results.slice(0, 10).map((result) => result.data()));
                out[query] = [search.results.length, first.map((data) => data.url)];
              }
              return out;
            }""", queries)
            page.close()
    assert sum(count for count, _ in found["own"].values()) > 1000  # the queries find pages
    assert found["site"] == found["own"]
