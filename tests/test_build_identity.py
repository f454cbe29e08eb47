"""What every community site says of whose service it is, in the state's manner, and how it marks
languages and references: read in the built pages (the browser checks are tests/test_accessibility_sites.py).

* the header: the "République française" block with its motto (in French, ``lang="fr"``, on every site),
  the service's name and tagline, the gate's own texts (gate/identity.py) in the site's language;
* the footer: the legal notice and the accessibility statement (pages of every site, the statement
  with its conformity status made from the recorded audit), the community's contact, the member's
  personal feed and alert preferences on the gate; the header's empty "Signed in as" slot;
* the identity stylesheet is the gate's file, byte for byte;
* a cable in another language than its site carries its own ``lang`` on its article;
* a cable reference never wraps mid-id.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from contentrepo import make_repo
from test_build import build

from gate import i18n, identity
from pipeline import accessibility, site
from pipeline.build import PROJECT_DIR, BuildError


class _Page(HTMLParser):
    """The elements of a page, as (tag, attributes, text inside) — enough to find what a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[int] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":  # a line break reads as a space
            self.handle_data(" ")
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("br", "img", "input", "link", "meta", "hr"):
            self.open.append(len(self.elements) - 1)

    def handle_endtag(self, tag):
        while self.open:
            if self.elements[self.open.pop()][0] == tag:
                break

    def handle_data(self, data):
        for i in self.open:
            self.elements[i][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        return [(a, " ".join("".join(text).split())) for t, a, text in self.elements
                if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


def page(path: Path) -> _Page:
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """energie (a French site) publishes a French cable and an English one; onu (English) a French one."""
    root = tmp_path_factory.mktemp("content")
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande", date=dt.date(2026, 3, 14),
               body="## Contexte\n\nVoir [2026-BERLIN-0002](2026-BERLIN-0002) pour la suite.\n")
    repo.cable("2026-BERLIN-0002", title="German grid reserves", date=dt.date(2026, 3, 15), language="en",
               body="## Background\n\nThe reserves hold.\n")
    repo.cable("2026-NEW-YORK-ONU-0001", title="Réforme du Conseil de sécurité", date=dt.date(2026, 1, 20),
               subjects=["onu"], body="## Contexte\n\nLes négociations piétinent.\n")
    for cable_id in ("2026-BERLIN-0001", "2026-BERLIN-0002"):
        repo.approve(cable_id, "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    out = tmp_path_factory.mktemp("site")
    build(root, out)
    return out


def html_pages(site_dir: Path) -> list[Path]:
    return sorted(p for p in site_dir.rglob("*.html") if "pagefind" not in p.parts)


@pytest.mark.parametrize(("community", "language"), [("energie", "fr"), ("onu", "en")])
def test_every_page_has_the_state_header_and_the_footer_of_a_public_service(sites, community, language):
    texts = identity.texts(i18n.translations(language))
    status = accessibility.conformity(accessibility.recorded(), language)
    legal, statement = ("Mentions légales", "Accessibilité : ") if language == "fr" else ("Legal notice", "Accessibility: ")
    pages = html_pages(sites / community)
    assert len(pages) >= 10
    for path in pages:
        shown = page(path)
        where = path.relative_to(sites).as_posix()
        headers = shown.find("header")
        assert len(headers) == 1, f"{where}: one banner landmark, not {len(headers)}"
        marianne = shown.find("p", class_="dip-marianne", lang="fr")
        assert marianne and marianne[0][1] == "République française Liberté Égalité Fraternité", where
        assert shown.find("a", class_="dip-service__name")[0][1] == texts["name"], where
        assert shown.find("span", class_="dip-service__tagline")[0][1] == texts["tagline"], where
        footers = shown.find("footer")
        assert len(footers) == 1 and texts["publisher"] in footers[0][1], where
        links = {text: a["href"] for a, text in shown.find("a")}
        assert links[legal].endswith("legal.html") and links[f"{statement}{status}"].endswith("accessibility.html"), where
        assert links["Contact"] == "mailto:ambassadeur@diplomatie.gouv.fr", where
        assert "/preferences" in links.values(), where
        assert f"/feeds/{community}/" in links.values(), where  # the member's personal feed address (gate/feeds.py)
        # "Signed in as": an empty slot the theme's script fills from the gate (gate/signedin.py)
        slot = shown.find("span", class_="dip-signed-in")
        assert len(slot) == 1 and slot[0][1] == "" and "hidden" in slot[0][0], where
        assert slot[0][0]["data-dip-signed-in"] == "/signed-in" and slot[0][0]["data-dip-community"] == community, where
        # The classification banner at the top and the bottom, inside the header and the footer.
        assert [a.get("role") for a, _ in shown.find("div", class_="dip-banner")] == ["note", "note"], where
        # A skip link to the content on every page, the 404 page too (the browser test checks it is
        # the first Tab stop: mkdocs-material's own, on pages with a table of contents, is hidden).
        assert shown.find("a", class_="dip-skip", href="#contenu") and shown.find("article", id="contenu"), where


@pytest.mark.parametrize(("community", "language"), [("energie", "fr"), ("onu", "en")])
def test_the_legal_notice_and_the_accessibility_statement_are_pages_of_every_site(sites, community, language):
    legal = page(sites / community / "legal.html")
    statement = page(sites / community / "accessibility.html")
    audit = accessibility.recorded()
    title = "Mentions légales" if language == "fr" else "Legal notice"
    assert legal.find("h1")[0][1].startswith(title)
    text = " ".join(t for _, t in legal.find("article"))
    assert "ambassadeur@diplomatie.gouv.fr" in text and ("Énergie en Europe" if community == "energie" else "United Nations") in text
    level = accessibility.conformity(audit, language)
    assert statement.find("strong")[0][1] == level or level in [t for _, t in statement.find("strong")]
    pages_heading = "Pages auditées" if language == "fr" else "Pages audited"
    assert pages_heading in [t.rstrip("¶") for _, t in statement.find("h2")]
    assert {t for _, t in statement.find("li")} >= set(audit.pages)


def test_the_identity_stylesheet_is_the_gates_own(sites):
    for community in ("energie", "onu"):
        copied = sites / community / site.IDENTITY_CSS
        assert copied.read_bytes() == identity.IDENTITY_STYLESHEET_FILE.read_bytes()
        index = (sites / community / "index.html").read_text()
        assert index.index('href="assets/stylesheets/identity.css"') < index.index('href="assets/stylesheets/diplomatie.css"')
    # And the gate serves the same rules in its stylesheet.
    assert identity.IDENTITY_STYLESHEET_FILE.read_bytes() in identity.stylesheet()[0]


def test_a_cable_in_another_language_than_its_site_marks_its_language_on_its_article(sites):
    def article_lang(path: Path) -> str:
        (attrs, _), = page(path).find("article")
        return attrs.get("lang", "")

    assert article_lang(sites / "energie/2026/2026-BERLIN-0001.html") == "fr"
    assert article_lang(sites / "energie/2026/2026-BERLIN-0002.html") == "en"
    assert article_lang(sites / "onu/2026/2026-NEW-YORK-ONU-0001.html") == "fr"
    # The page itself stays in its site's language (its navigation, its labels).
    assert '<html lang="en"' in (sites / "onu/2026/2026-NEW-YORK-ONU-0001.html").read_text()
    # Other pages are in the site's language: no article of theirs names another.
    assert article_lang(sites / "energie/index.html") == ""


def test_a_cable_reference_never_wraps_mid_id(sites):
    cable = page(sites / "energie/2026/2026-BERLIN-0001.html")
    assert [t for _, t in cable.find("code", class_="dip-ref")] == ["2026-BERLIN-0001"]
    # A link whose text is a cable's id: the id is a reference too.
    assert "2026-BERLIN-0002" in [t for _, t in cable.find("span", class_="dip-ref")]
    home = page(sites / "energie/index.html")
    assert {t for _, t in home.find("span", class_="dip-ref")} == {"2026-BERLIN-0001", "2026-BERLIN-0002"}
    css = (sites / "energie/assets/stylesheets/diplomatie.css").read_text()
    assert ".dip-ref { white-space: nowrap; }" in css


def test_a_build_without_a_readable_accessibility_record_fails_and_says_what_to_do(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "content")
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande")
    repo.approve("2026-BERLIN-0001", "energie")
    broken = tmp_path / "record.json"
    broken.write_text('{"pages": ["home"]}', encoding="utf-8")
    monkeypatch.setattr(accessibility, "RECORD", broken)
    with pytest.raises(BuildError, match="recorded accessibility audit cannot be read.*test_accessibility_sites"):
        build(tmp_path / "content", tmp_path / "site")
    assert not (tmp_path / "site" / "energie").exists()


#: The theme's templates whose texts come from the catalogue (config.extra.texts, pipeline/site.py THEME_TEXTS).
CATALOGUED = ("main.html", "404.html", "partials/footer.html", "partials/copyright.html", "partials/header.html",
              "partials/dip-reply.html", "partials/banner.html", "partials/dip-search.html",
              "partials/dip-search-panel.html")
#: How a template, a script or the build would pick a text by language instead of reading the catalogue.
BY_LANGUAGE = re.compile(r"""\bfr\s*\?|===?\s*["']fr["']|\bif fr\b""")


def test_the_theme_prints_the_catalogues_texts_and_chooses_no_literal_by_language():
    for name in CATALOGUED:
        text = (PROJECT_DIR / "theme" / name).read_text(encoding="utf-8")
        assert 'language == "fr"' not in text and " if fr " not in text, f"theme/{name} chooses a literal by language"
        assert "config.extra.texts" in text, f"theme/{name} prints no text of the catalogue"
    files = [*(PROJECT_DIR / "theme").rglob("*.html"), *(PROJECT_DIR / "theme").rglob("*.js"),
             PROJECT_DIR / "pipeline" / "site.py", *(PROJECT_DIR / "pipeline" / "build").glob("*.py")]
    choosing = [f"{path.relative_to(PROJECT_DIR)}:{n}: {line.strip()}" for path in files
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if BY_LANGUAGE.search(line)]
    assert not choosing, "texts chosen by language, not read from the catalogue:\n" + "\n".join(choosing)


@pytest.mark.parametrize(("community", "language", "expected"), [
    ("energie", "fr", {"skip": "Aller au contenu", "legal_notice": "Mentions légales", "contact": "Contact",
                       "personal_feed": "Flux personnel", "alert_preferences": "Préférences d'alerte",
                       "site_version": "Version du site", "sign_out": "Se déconnecter",
                       "answer": "Répondre à ce télégramme", "not_found": "Page introuvable",
                       "back_home": "Retour à l'accueil"}),
    ("onu", "en", {"skip": "Skip to content", "legal_notice": "Legal notice", "contact": "Contact",
                   "personal_feed": "Personal feed", "alert_preferences": "Alert preferences",
                   "site_version": "Site version", "sign_out": "Sign out", "answer": "Answer this cable",
                   "not_found": "Page not found", "back_home": "Back to the home page"}),
])
def test_the_sites_texts_are_the_catalogues_in_the_sites_language(sites, community, language, expected):
    texts = site.theme_texts(language)
    assert {key: texts[key] for key in expected} == expected  # the catalogue's translation, reviewed here
    cable = "2026/2026-BERLIN-0001.html" if community == "energie" else "2026/2026-NEW-YORK-ONU-0001.html"
    shown = page(sites / community / cable)
    links = {text for _, text in shown.find("a")}
    for key in ("skip", "legal_notice", "contact", "personal_feed", "alert_preferences", "site_version", "answer"):
        assert expected[key] in links, (community, key)
    assert shown.find("span", class_="dip-logout__label")[0][1] == expected["sign_out"]
    status = accessibility.conformity(accessibility.recorded(), language)
    assert texts["accessibility"] in links and texts["accessibility"].endswith(status)
    missing = page(sites / community / "404.html")
    assert missing.find("h1")[-1][1] == expected["not_found"]
    assert expected["back_home"] in {text for _, text in missing.find("a")}
