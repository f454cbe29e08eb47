"""``pipeline.site``: a community's pages and configuration, from its plan entry only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import cables, site
from pipeline.build import PROJECT_DIR
from pipeline.build.driving import ThemeListing, mkdocs_build
from pipeline.cables import Cable
from pipeline.communities import Community, Selection
from pipeline.findings import Findings
from pipeline.plan import CommunityPlan


def cable(cable_id: str, body: str = "## Texte\n\nDu texte.\n", **kw) -> Cable:
    fields = dict(id=cable_id, title=f"Titre {cable_id}", date=dt.date(2026, 4, int(cable_id[-2:]) or 1),
                  post=cable_id.split("-", 1)[1].rsplit("-", 1)[0], author="a@diplomatie.gouv.fr",
                  classification="NON CLASSIFIÉ", subjects=("energie",), language="fr", body=body,
                  path=f"content/2026/{cable_id}.md", digest="sha256:" + "0" * 64, summary=f"Résumé {cable_id}.")
    fields.update(kw)
    return Cable(**fields)


def plan_of(*cables: Cable, language: str = "fr") -> CommunityPlan:
    community = Community(id="energie", title="Énergie", description="Les postes et l'énergie.",
                          language=language, owner="owner@diplomatie.gouv.fr", editors=(),
                          select=Selection(subjects=("energie",)))
    return CommunityPlan(community, tuple(sorted(cables, key=lambda c: (-c.date.toordinal(), c.id))), ())


@pytest.fixture(scope="module")
def renderer():
    return site.CableRenderer(["toc", "tables", "fenced_code", "admonition", "footnotes", "attr_list"],
                              {"toc": {"permalink": True}})


@pytest.mark.parametrize("target", ["2026-BERLIN-0042", "2026-BERLIN-0042.md", "../2026/2026-BERLIN-0042.md",
                                    "2026/2026-BERLIN-0042/", "2026-BERLIN-0042#contexte"])
def test_every_form_of_cable_link_resolves_to_the_cable_page(renderer, target):
    rendered = renderer.render(cable("2026-PARIS-0001", f"Voir [la note]({target}).\n"))
    published = site.resolve_links(rendered.html, {"2026-BERLIN-0042"}, "fr")
    fragment = "#contexte" if "#" in target else ""
    assert f'<a href="../2026/2026-BERLIN-0042.html{fragment}">la note</a>' in published
    hidden = site.resolve_links(rendered.html, set(), "fr")
    assert '<span class="dip-unpublished">la note</span>' in hidden and "BERLIN" not in hidden


def test_a_link_named_by_its_id_shows_no_id_when_unpublished(renderer):
    rendered = renderer.render(cable("2026-PARIS-0001", "Voir [2026-BERLIN-0042](2026-BERLIN-0042) et [](2026-ROME-0001).\n"))
    assert site.resolve_links(rendered.html, {"2026-BERLIN-0042", "2026-ROME-0001"}, "en") == \
        '<p>Voir <a href="../2026/2026-BERLIN-0042.html"><span class="dip-ref">2026-BERLIN-0042</span></a> et ' \
        '<a href="../2026/2026-ROME-0001.html"><span class="dip-ref">2026-ROME-0001</span></a>.</p>'
    hidden = site.resolve_links(rendered.html, set(), "en")
    assert "2026-" not in hidden and hidden.count("unpublished cable") == 2


def test_other_links_are_left_alone(renderer):
    rendered = renderer.render(cable("2026-PARIS-0001", "[site](https://www.diplomatie.gouv.fr/) [x](#texte)\n"))
    assert '<a href="https://www.diplomatie.gouv.fr/">site</a>' in rendered.html
    assert '<a href="#texte">x</a>' in rendered.html


def test_rendered_cable_has_toc_permalinks_and_footnotes(renderer):
    rendered = renderer.render(cable("2026-PARIS-0001", "## Contexte\n\nUn.\n\n## Analyse\n\nDeux[^1].\n\n[^1]: Note.\n"))
    assert [t["id"] for t in rendered.toc] == ["contexte", "analyse"]
    assert 'class="headerlink"' in rendered.html and 'class="footnote"' in rendered.html
    assert site.RenderedCable.from_json(rendered.to_json()) == rendered


def parsed(front: str, body: str) -> Cable:
    """A cable as the repository gives it: parsed from its file, its digest over front matter and body."""
    text = f"---\nid: 2026-PARIS-0001\ndate: 2026-04-01\npost: PARIS\nauthor: a@diplomatie.gouv.fr\n" \
           f"classification: NON CLASSIFIÉ\nsubjects: [energie]\nlanguage: fr\n{front}---\n{body}"
    return cables.parse("content/2026/2026-PARIS-0001.md", text.encode(), Findings())


def test_cache_key_follows_what_the_conversion_reads_and_not_the_approvals(renderer):
    """The key is made from the cable's digest, not its body (a build that finds every conversion
    reads no body): whatever changes the body, the title or the summary changes the key; approvals
    and line endings (which Markdown normalises) do not."""
    base = parsed("title: Titre\nsummary: Résumé.\n", "## Texte\n\nDu texte.\n")
    assert renderer.key(base) == renderer.key(parsed(
        "title: Titre\nsummary: Résumé.\napprovals:\n  - {community: energie, by: e@diplomatie.gouv.fr, "
        "date: 2026-04-02, digest: 'sha256:" + "0" * 64 + "'}\n", "## Texte\n\nDu texte.\n"))
    assert renderer.key(base) == renderer.key(parsed("title: Titre\nsummary: Résumé.\n", "## Texte\r\n\r\nDu texte.\r\n"))
    for front, body in (("title: Titre\nsummary: Résumé.\n", "## Autre\n"),
                        ("title: Titre\nsummary: Résumé.\n", "## Texte\n\nDu texte \n"),
                        ("title: Autre titre\nsummary: Résumé.\n", "## Texte\n\nDu texte.\n"),
                        ("title: Titre\nsummary: Autre résumé.\n", "## Texte\n\nDu texte.\n")):
        assert renderer.key(base) != renderer.key(parsed(front, body)), (front, body)


@given(st.text(alphabet="ab é#*-\r\n\t", max_size=40))
@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_two_bodies_share_a_cache_key_only_when_markdown_reads_them_the_same(renderer, extra):
    """Generated bodies: equal keys mean equal text after Markdown's own line-ending normalisation."""
    one = parsed("title: Titre\n", "Du texte.\n" + extra)
    two = parsed("title: Titre\n", "Du texte.\n")
    same = ("Du texte.\n" + extra).replace("\r\n", "\n") == "Du texte.\n"
    assert (renderer.key(one) == renderer.key(two)) == same


def test_index_pages_list_only_published_cables_by_date_post_and_subject():
    plan = plan_of(cable("2026-PARIS-0001"), cable("2026-BERLIN-0002", subjects=("energie", "climat")))
    pages, fragments = site.generated_pages(plan)
    assert fragments == {}
    assert set(pages) == {"index.md", "dates/index.md", "dates/2026.md", "posts/index.md", "posts/paris.md",
                          "posts/berlin.md", "subjects/index.md", "subjects/energie.md", "subjects/climat.md"}
    assert "Titre 2026-BERLIN-0002" in pages["subjects/climat.md"]
    assert "2026-PARIS-0001" not in pages["subjects/climat.md"]
    assert '<a href="../2026/2026-PARIS-0001.html">' in pages["posts/paris.md"]
    assert "{#2026-04}" in pages["dates/2026.md"]
    _, fragments = site.generated_pages(plan, inline=False)
    assert "<!--DIPLOMATIE:LIST:0-->" in fragments["index.md"]


def test_community_config_derives_from_the_base(tmp_path):
    plan = plan_of(cable("2026-PARIS-0001"), language="en")
    source = site.stage(plan, PROJECT_DIR, tmp_path, commit="a" * 40,
                        commit_time=dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    config = yaml.safe_load(source.config_file.read_text())
    assert config["INHERIT"] == str(PROJECT_DIR / "mkdocs.yml")
    assert config["site_name"] == "Énergie" and config["theme"]["language"] == "en"
    assert config["theme"]["custom_dir"] == str(PROJECT_DIR / "theme") and config["theme"]["font"] is False
    # The base's `search` is the site's search, Pagefind's, built after MkDocs: not mkdocs-material's plugin.
    assert config["plugins"] == []
    # Pages never hold the commit: only the version page does, filled in after MkDocs' build.
    assert "a" * 40 not in source.config_file.read_text()
    assert site.VERSION_MARKER in (source.docs_dir / "version.md").read_text()
    assert sorted(p.relative_to(source.docs_dir).as_posix() for p in source.docs_dir.rglob("*.md"))[:3] == \
        ["0000/cable-template.md", "accessibility.md", "dates/2026.md"]
    assert (source.docs_dir / "legal.md").is_file()


def test_plain_mkdocs_build_of_the_same_pages(tmp_path):
    """The reference build (one Markdown page per cable, MkDocs does everything) also resolves links."""
    plan = plan_of(cable("2026-PARIS-0001", "Voir [B](2026-BERLIN-0002) et [R](2026-ROME-0003).\n"),
                   cable("2026-BERLIN-0002"))
    source = site.stage(plan, PROJECT_DIR, tmp_path, commit=None, commit_time=None, plain=True)
    mkdocs_build(source, None)
    page = (source.site_dir / "2026/2026-PARIS-0001.html").read_text()
    assert '<a href="../2026/2026-BERLIN-0002.html">B</a>' in page
    assert '<span class="dip-unpublished">R</span>' in page and "ROME" not in page
    assert 'href="../version.html" data-dip-version' in page
    assert "Site construit hors dépôt git" in (source.site_dir / "version.html").read_text()


def test_the_theme_is_listed_once_for_every_site_a_build_renders(tmp_path):
    """MkDocs lists every file of the theme (mkdocs-material's ~10,000 icons) on each build; the
    build's ThemeListing, handed to MkDocs as a plugin, lists it once, and MkDocs copies the same files."""
    plan = plan_of(cable("2026-PARIS-0001"))
    listing = ThemeListing()
    built = []
    for name, with_listing in (("first", listing), ("second", listing), ("plain", None)):
        source = site.stage(plan, PROJECT_DIR, tmp_path / name, commit=None, commit_time=None, plain=True)
        config, _ = mkdocs_build(source, None, with_listing)
        built.append(sorted(p.relative_to(source.site_dir).as_posix() for p in source.site_dir.rglob("*")))
    assert list(listing.names) == [tuple(config["theme"].dirs)]
    assert any(name.startswith(".icons/") for name in next(iter(listing.names.values())))
    assert built[0] == built[1] == built[2] and "assets/stylesheets/diplomatie.css" in built[0]


def test_feed_is_deterministic_and_dated_from_cables():
    plan = plan_of(cable("2026-PARIS-0001"), cable("2026-BERLIN-0009"))
    feed = site.feed_xml(plan, "https://gate.example.org/")
    assert feed == site.feed_xml(plan, "https://gate.example.org/")
    text = feed.decode()
    assert "<updated>2026-04-09T00:00:00Z</updated>" in text
    assert 'href="https://gate.example.org/c/energie/2026/2026-BERLIN-0009.html"' in text


def test_site_relative_urls(tmp_path: Path):
    assert site.cable_url("2026-NEW-YORK-ONU-0001") == "2026/2026-NEW-YORK-ONU-0001.html"
    assert site.slug("Droits humains & Santé") == "droits-humains-sante"
