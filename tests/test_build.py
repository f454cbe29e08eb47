"""``build_sites``: one complete static site per community, isolated, deterministic, audited."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest
from contentrepo import EDITOR, make_repo

from pipeline.audit import SMALL_AUDIT, AuditError, Forbidden, audit, find_offsite_assets, search_file_text
from pipeline.build import PROJECT_DIR, BuildError, build_sites
from pipeline.history import published_versions
from pipeline.plan import make_plan
from pipeline.repository import load

CANARY_ENERGIE = "Le hibou de Berlin compte les éoliennes à minuit."
CANARY_ONU = "The heron of Turtle Bay counts the votes at dawn."
HELD = {
    "2026-BERLIN-0003": ("Titre retenu : jamais approuvé", "La loutre non approuvée nage."),
    "2026-BERLIN-0004": ("Titre retenu : approbation périmée", "La loutre périmée nage."),
    "2026-BERLIN-0005": ("Titre retenu : sous embargo", "La loutre sous embargo nage."),
    "2026-BERLIN-0006": ("Titre retenu : retiré", "La loutre retirée nage."),
}


def sample_repo(root: Path):
    """energie (fr) publishes two cables and holds four; onu (en) publishes one."""
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande", date=dt.date(2026, 3, 14),
               summary="Berlin revoit sa stratégie gazière.",
               body=("## Contexte\n\n" + CANARY_ENERGIE + "\n\n"
                     "Voir [la note de Paris](2026-PARIS-0002#analyse), "
                     "[la note de New York](2026-NEW-YORK-ONU-0001) et "
                     "[2026-NEW-YORK-ONU-0001](../2026/2026-NEW-YORK-ONU-0001.md).\n\n"
                     "| Pays | Part |\n|---|---|\n| DE | 12 |\n\n!!! note\n    Une remarque.\n"))
    repo.cable("2026-PARIS-0002", title="Marché européen de l'électricité", date=dt.date(2026, 2, 1),
               summary="La réforme du marché avance.", body="## Analyse\n\nLe marché.\n")
    repo.cable("2026-NEW-YORK-ONU-0001", title="Security Council reform talks", date=dt.date(2026, 1, 20),
               subjects=["onu"], language="en", summary="The talks stall again.",
               body="## Background\n\n" + CANARY_ONU + "\n")
    for cable_id, (title, canary) in HELD.items():
        extra = {}
        if cable_id.endswith("5"):
            extra["embargo"] = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
        if cable_id.endswith("6"):
            extra["status"] = "withdrawn"
        repo.cable(cable_id, title=title, summary=f"Résumé de {title}.", body=f"## Texte\n\n{canary}\n", **extra)
    for cable_id in ("2026-BERLIN-0001", "2026-PARIS-0002", "2026-BERLIN-0004", "2026-BERLIN-0005",
                     "2026-BERLIN-0006"):
        repo.approve(cable_id, "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    stale = repo.root / "content/2026/2026-BERLIN-0004.md"
    stale.write_text(stale.read_text(encoding="utf-8").replace("nage.", "nage encore."), encoding="utf-8")
    repo.commit("sample", date="2026-11-20T10:00:00Z")
    return repo


def build(root: Path, out: Path, **kwargs):
    repo = load(root)
    plan = make_plan(repo)
    versions = published_versions(repo, plan.published(kwargs.get("communities")), kwargs.get("cache_dir"))
    return build_sites(repo, plan, out, versions=versions, progress=False, **kwargs)


def files_text(site: Path) -> dict[str, str]:
    out = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            rel = path.relative_to(site).as_posix()
            if path.suffix.startswith(".pf_"):  # the search index's compressed JSON and CBOR, decoded
                out[rel] = search_file_text(rel, data)
                continue
            out[rel] = data.decode("utf-8", errors="replace")
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("content")
    sample_repo(root)
    out = tmp_path_factory.mktemp("site")
    results = build(root, out, jobs=2)
    return root, out, results


def test_each_community_gets_a_complete_site(sample):
    root, out, results = sample
    assert set(results) == {"energie", "onu"}
    assert results["energie"].cables == ("2026-BERLIN-0001", "2026-PARIS-0002")
    assert results["onu"].cables == ("2026-NEW-YORK-ONU-0001",)
    for name in results:
        site = out / name
        for rel in ("index.html", "404.html", "pagefind/pagefind.js", "pagefind/slices.json", "pagefind/2026/pagefind-entry.json", "feed.xml", "sitemap.xml",
                    "dates/index.html", "dates/2026.html", "posts/index.html", "subjects/index.html",
                    "assets/stylesheets/diplomatie.css"):
            assert (site / rel).is_file(), f"{name}: {rel} missing"
    assert (out / "energie/2026/2026-BERLIN-0001.html").is_file()
    assert (out / "energie/posts/paris.html").is_file()
    assert (out / "energie/subjects/energie.html").is_file()
    assert not (out / "energie/0000").exists()
    # The 404 page is served at any depth by the gate: its links are rooted at the site's path.
    missing = (out / "energie/404.html").read_text()
    assert "Page introuvable" in missing and 'href="/c/energie/assets/stylesheets/diplomatie.css"' in missing


def test_canary_sentences_stay_in_their_community(sample):
    _, out, _ = sample
    energie, onu = files_text(out / "energie"), files_text(out / "onu")
    assert any(CANARY_ENERGIE in t for t in energie.values())
    assert any(CANARY_ONU in t for t in onu.values())
    assert not [f for f, t in onu.items() if "hibou de Berlin" in t]
    assert not [f for f, t in energie.items() if "heron of Turtle Bay" in t or "Turtle Bay" in t]
    # Search finds the canary only in its own community: its index's fragments hold it, the other's not.
    assert any("hibou de Berlin" in t for f, t in energie.items() if f.startswith("pagefind/2026/fragment/"))
    assert not any("hibou" in t for f, t in onu.items() if f.startswith("pagefind/"))


def test_held_back_cables_appear_in_no_file(sample):
    _, out, _ = sample
    for name in ("energie", "onu"):
        for rel, text in files_text(out / name).items():
            for cable_id, (title, canary) in HELD.items():
                assert cable_id not in text, f"{name}/{rel} names held cable {cable_id}"
                assert title not in text and canary not in text, f"{name}/{rel} shows held cable {cable_id}"


def test_link_to_cable_of_the_community_works_and_others_are_plain_text(sample):
    _, out, _ = sample
    page = (out / "energie/2026/2026-BERLIN-0001.html").read_text()
    assert '<a href="../2026/2026-PARIS-0002.html#analyse">la note de Paris</a>' in page
    assert '<span class="dip-unpublished">la note de New York</span>' in page
    assert '<span class="dip-unpublished">câble non publié</span>' in page
    assert "NEW-YORK-ONU" not in page and "Security Council" not in page


def test_cable_page_has_metadata_banners_sign_out_and_build_footer(sample):
    root, out, results = sample
    page = (out / "energie/2026/2026-BERLIN-0001.html").read_text()
    commit = load(root).commit
    assert page.count("NON CLASSIFIÉ") == 2
    assert 'href="/logout"' in page and "Se déconnecter" in page
    # The footer links to the version page and loads the script that shows the build line; the
    # page itself holds no commit, so a new commit does not change it.
    # The script writes the build line in the words of the link's data attributes (the site's language).
    assert ('<a href="../version.html" data-dip-version data-dip-text-built="Construit le {built} depuis le commit '
            '{commit}"\n       data-dip-text-outside="Construit hors dépôt git">Version du site</a>') in page
    assert '<script src="../assets/javascripts/version.js"></script>' in page
    assert commit[:12] not in page and "2026-11-20 10:00" not in page
    version = (out / "energie/version.html").read_text()
    assert f"<code>{commit}</code>" in version and "Construit le <time>2026-11-20 10:00 UTC</time>" in version
    assert json.loads((out / "energie/version.json").read_text()) == {
        "commit": commit, "built": "2026-11-20 10:00 UTC", "built_at": "2026-11-20T10:00:00Z"}
    assert (out / "energie/assets/javascripts/version.js").is_file()
    assert results["energie"].built_at == "2026-11-20T10:00:00Z" and results["energie"].commit == commit
    for text in ('<code class="dip-ref" data-pagefind-meta="reference">2026-BERLIN-0001</code>', "14 mars 2026", "BERLIN", "MEAE", "Berlin revoit sa stratégie",
                 '<table>', 'class="admonition note"', 'class="headerlink"',
                 "<title>Sécurité énergétique allemande - Énergie en Europe</title>"):
        assert text in page, text
    # The table of contents is the cable's own, rendered by the theme.
    assert 'href="#contexte"' in page
    assert 'fonts.googleapis' not in page


def test_interface_and_search_follow_the_community_language(sample):
    _, out, _ = sample
    assert '<html lang="fr"' in (out / "energie/index.html").read_text()
    home = (out / "onu/index.html").read_text()
    assert '<html lang="en"' in home and "Sign out" in home and "Latest cables" in home
    # One search index per site, in the site's language (its stemming), whatever a page's own language.
    assert json.loads((out / "energie/pagefind/2026/pagefind-entry.json").read_text())["languages"].keys() == {"fr"}
    assert json.loads((out / "onu/pagefind/2026/pagefind-entry.json").read_text())["languages"].keys() == {"en"}


def test_navigation_lists_indexes_not_cables(sample):
    _, out, _ = sample
    page = (out / "energie/2026/2026-PARIS-0002.html").read_text()
    nav = page[page.index('md-sidebar--primary'):page.index('md-sidebar--secondary')]
    assert "Par date" in nav and "Par sujet" in nav
    assert "2026-BERLIN-0001" not in nav


def test_feed_and_sitemap_are_dated_from_the_cables(sample):
    _, out, _ = sample
    feed = (out / "energie/feed.xml").read_text()
    assert "<updated>2026-03-14T00:00:00Z</updated>" in feed
    assert feed.index("2026-BERLIN-0001") < feed.index("2026-PARIS-0002")
    sitemap = (out / "energie/sitemap.xml").read_text()
    assert "<loc>2026/2026-PARIS-0002.html</loc><lastmod>2026-02-01</lastmod>" in sitemap
    assert gzip.decompress((out / "energie/sitemap.xml.gz").read_bytes()).decode() == sitemap


def test_two_builds_are_byte_identical(sample, tmp_path):
    root, out, _ = sample
    build(root, tmp_path / "again", jobs=1, force=True, cache_dir=tmp_path / "cache")
    first, second = files_text(out), files_text(tmp_path / "again")
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_unchanged_community_is_skipped_and_force_rebuilds(tmp_path):
    root = tmp_path / "content"
    sample_repo(root)
    out = tmp_path / "site"
    first = build(root, out)
    assert not any(b.cached for b in first.values())
    again = build(root, out)
    assert all(b.cached for b in again.values())
    path = root / "content/2026/2026-NEW-YORK-ONU-0001.md"
    path.write_text(path.read_text(encoding="utf-8").replace("at dawn", "at dusk"), encoding="utf-8")
    edited = build(root, out)  # the edit makes the approval stale: onu changes, energie does not
    assert edited["energie"].cached and not edited["onu"].cached
    assert edited["onu"].cables == ()
    assert all(not b.cached for b in build(root, out, force=True).values())


def test_only_named_communities_are_built(tmp_path):
    root = tmp_path / "content"
    sample_repo(root)
    results = build(root, tmp_path / "site", communities=["onu"])
    assert list(results) == ["onu"]
    assert not (tmp_path / "site/energie").exists()
    with pytest.raises(BuildError, match="unknown community: nowhere"):
        build(root, tmp_path / "site", communities=["nowhere"])


def test_a_cable_naming_an_unpublished_cable_fails_the_audit_and_keeps_the_previous_site(tmp_path):
    root = tmp_path / "content"
    repo = sample_repo(root)
    out = tmp_path / "site"
    build(root, out)
    before = (out / "energie/index.html").read_bytes()
    path = root / "content/2026/2026-PARIS-0002.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Le marché.", "Le marché, comme le dit 2026-NEW-YORK-ONU-0001."), encoding="utf-8")
    repo.approve("2026-PARIS-0002", "energie", EDITOR)
    with pytest.raises(BuildError) as raised:
        build(root, out)
    assert "energie: isolation audit: 2026/2026-PARIS-0002.html contains the id of unpublished cable " \
           "2026-NEW-YORK-ONU-0001" in str(raised.value)
    assert (out / "energie/index.html").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_an_off_site_asset_fails_the_build(tmp_path):
    root = tmp_path / "content"
    sample_repo(root)
    shutil.copytree(PROJECT_DIR / "theme", root / "theme")
    config = (PROJECT_DIR / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "mkdocs.yml").write_text(config + "\nextra_javascript:\n  - https://cdn.example.com/tracker.js\n",
                                     encoding="utf-8")
    # Refused before anything is built (pipeline/siteconfig.py); the audit would refuse the pages
    # (a theme override that loads from another host: tests/test_audit.py).
    with pytest.raises(BuildError, match=r"mkdocs.yml:\d+:5: extra_javascript entry "
                                         r"'https://cdn.example.com/tracker.js' is on another host"):
        build(root, tmp_path / "site", communities=["onu"])


def test_off_site_asset_detection():
    assert find_offsite_assets('<script src="https://cdn.example.com/a.js"></script>', ".html")
    assert find_offsite_assets("<link rel=stylesheet href=//fonts.googleapis.com/css>", ".html")
    assert find_offsite_assets('<img alt="" srcset="a.png 1x, https://x.org/b.png 2x">', ".html")
    assert find_offsite_assets('<p style="background: url(https://x.org/b.png)">', ".html")
    assert find_offsite_assets("@import 'https://fonts.googleapis.com/css';", ".css")
    assert find_offsite_assets("a{background:url( //x.org/i.png )}", ".css")
    assert not find_offsite_assets('<a href="https://www.diplomatie.gouv.fr/">lien</a>', ".html")
    assert not find_offsite_assets('<link rel="canonical" href="https://x.org/c/energie/">', ".html")
    assert not find_offsite_assets('<script src="../assets/javascripts/bundle.js"></script>'
                                   '<img src="data:image/png;base64,AAAA">', ".html")
    assert not find_offsite_assets('<img src="https://gate.example.org/c/a/i.png">', ".html",
                                   own_url="https://gate.example.org/")


def test_editing_one_cable_rewrites_only_its_page_and_matches_a_full_build(tmp_path):
    root = tmp_path / "content"
    repo = sample_repo(root)
    out = tmp_path / "site"
    build(root, out)
    untouched = out / "energie/2026/2026-PARIS-0002.html"
    inode = untouched.stat().st_ino
    path = root / "content/2026/2026-BERLIN-0001.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Une remarque.", "Une remarque nouvelle: le loir."),
                    encoding="utf-8")
    repo.approve("2026-BERLIN-0001", "energie")
    results = build(root, out)
    assert not results["energie"].cached and results["onu"].cached
    assert untouched.stat().st_ino == inode  # carried over, not rebuilt
    assert "le loir" in (out / "energie/2026/2026-BERLIN-0001.html").read_text()
    assert any("le loir" in t for f, t in files_text(out / "energie").items() if f.startswith("pagefind/2026/fragment/"))
    build(root, tmp_path / "full", force=True, cache_dir=tmp_path / "other-cache")
    incremental, full = files_text(out / "energie"), files_text(tmp_path / "full/energie")
    assert incremental.keys() == full.keys()
    assert [k for k in full if full[k] != incremental[k]] == []


def test_a_new_commit_changes_only_the_version_files_and_matches_a_full_build(tmp_path):
    root = tmp_path / "content"
    repo = sample_repo(root)
    out = tmp_path / "site"
    build(root, out)
    untouched = out / "onu/2026/2026-NEW-YORK-ONU-0001.html"
    inode = untouched.stat().st_ino
    stylesheet = out / "onu/assets/stylesheets/diplomatie.css"
    stylesheet_inode = stylesheet.stat().st_ino
    path = root / "content/2026/2026-PARIS-0002.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Le marché.", "Le marché bouge."), encoding="utf-8")
    repo.approve("2026-PARIS-0002", "energie")
    commit = repo.commit("edit", date="2026-11-21T09:30:00Z")
    results = build(root, out)
    assert not results["energie"].cached and not results["onu"].cached
    assert commit[:12] not in untouched.read_text()
    assert untouched.stat().st_ino == inode  # not rewritten: no page but version.html holds the commit
    assert commit in (out / "onu/version.html").read_text() and "2026-11-21 09:30 UTC" in (out / "onu/version.html").read_text()
    assert json.loads((out / "onu/version.json").read_text())["commit"] == commit
    assert stylesheet.stat().st_ino == stylesheet_inode  # updated in place of a full build
    build(root, tmp_path / "full", force=True, cache_dir=tmp_path / "other-cache")
    for name in ("energie", "onu"):
        incremental, full = files_text(out / name), files_text(tmp_path / "full" / name)
        assert incremental.keys() == full.keys()
        assert [k for k in full if full[k] != incremental[k]] == []
    assert (out / "onu/sitemap.xml.gz").read_bytes() == (tmp_path / "full/onu/sitemap.xml.gz").read_bytes()


def test_a_broken_configuration_or_theme_fails_with_the_file_named(tmp_path):
    root = tmp_path / "content"
    sample_repo(root)
    (root / "mkdocs.yml").write_text("theme: [unclosed\n", encoding="utf-8")
    with pytest.raises(BuildError, match=r"mkdocs.yml:2:1: YAML syntax error"):
        build(root, tmp_path / "site")
    shutil.copytree(PROJECT_DIR / "theme", root / "theme")
    (root / "mkdocs.yml").write_text((PROJECT_DIR / "mkdocs.yml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "theme/partials/banner.html").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(BuildError, match=r"onu: theme template error \(.*banner.html:1\)"):
        build(root, tmp_path / "site", communities=["onu"])


def test_a_cable_quoting_the_template_markers_is_printed_as_written(tmp_path):
    root = tmp_path / "content"
    repo = sample_repo(root)
    repo.cable("2026-ROME-0007", title="Les marqueurs @@DIPLOMATIE-TITLE@@", subjects=["energie"],
               body="## Texte\n\nLe chemin 0000/cable-template/ et `<!--DIPLOMATIE:TOC-->` restent tels quels.\n")
    repo.approve("2026-ROME-0007", "energie")
    build(root, tmp_path / "site", communities=["energie"])
    page = (tmp_path / "site/energie/2026/2026-ROME-0007.html").read_text()
    assert "Le chemin 0000/cable-template/ et <code>&lt;!--DIPLOMATIE:TOC--&gt;</code> restent tels quels." in page
    assert "<title>Les marqueurs @@DIPLOMATIE-TITLE@@ - Énergie en Europe</title>" in page


def test_a_build_cache_committed_to_the_repository_is_refused(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Le texte.\n", title="Le marché allemand")
    repo.commit("one cable")
    repo.approve("2026-BERLIN-0001", "energie")
    # A merge request that ships a "cached conversion" would put its HTML in every site.
    repo.write(".cache/diplomatie/cables/ab/abcdef.json", '{"html": "<script>alert(1)</script>"}')
    repo.git("add", "-f", ".cache")
    repo.commit("approval, and a cache")
    result = repo.run("build", "--out", str(tmp_path / "site"))
    assert result.code == 1
    # (the first tracked file named: loading the repository for `approve` made the cache and its
    # .gitignore, which `git add -f .cache` tracked with the shipped conversion)
    assert "holds files tracked by git (.cache/diplomatie/" in result.output
    assert "git rm -r --cached .cache/diplomatie" in result.output
    assert not (tmp_path / "site" / "energie").exists()
    # Elsewhere, the same repository builds.
    assert repo.run("build", "--out", str(tmp_path / "site"), "--cache", str(tmp_path / "cache")).code == 0


def test_the_build_cache_ignores_itself_so_git_add_all_leaves_it_out(tmp_path):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001", "Le texte.\n", title="Le marché allemand")
    repo.commit("one cable")
    repo.approve("2026-BERLIN-0001", "energie")
    assert repo.run("build", "--out", str(tmp_path / "site")).code == 0
    assert (repo.root / ".cache/diplomatie/cables").is_dir()
    repo.git("add", "-A")
    assert ".cache" not in repo.git("status", "--porcelain")



@pytest.mark.parametrize("padding", [0, SMALL_AUDIT])  # str.find for a few small files, the automaton above
@pytest.mark.parametrize("leak, named", [
    ("<p>voir 2026-LONDRES-0007</p>", "the id of unpublished cable 2026-LONDRES-0007"),
    ("<p>La r&eacute;forme du march&eacute; &amp; le gaz</p>", None),
    ("<p>La réforme du marché &amp; le gaz russe</p>", "the title or summary of an unpublished cable"),
    ('{"text":"La r\\u00e9forme du march\\u00e9 & le gaz russe"}', "the title or summary of an unpublished cable"),
    ("<p>2026-LONDRES-00071 et La réforme du marché & le gaz russes</p>", None),  # longer words: no hit
])
def test_the_audit_finds_every_form_of_a_forbidden_term_in_files_and_pieces(tmp_path, padding, leak, named):
    forbidden = Forbidden(frozenset({"2026-LONDRES-0007"}), ("La réforme du marché & le gaz russe",))
    page = tmp_path / "site" / "page.html"
    page.parent.mkdir()
    page.write_text("<html>" + "x " * (padding // 2) + leak + "</html>")
    for kwargs in ({"only": [page]}, {"only": [], "texts": {"version.json (new entries)": leak}}):
        if named is None:
            audit(page.parent, forbidden, **kwargs)
            continue
        with pytest.raises(AuditError, match=named) as caught:
            audit(page.parent, forbidden, **kwargs)
        assert ("page.html" if kwargs["only"] else "version.json (new entries)") in str(caught.value)
