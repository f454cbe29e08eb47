"""``pipeline.audit``: what a built site may load and run, by class of input, both ways; and the
build-level promises (the CSP in every page, escaped community strings, a content repository's
theme audited like the rest)."""

from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as etree
from html.parser import HTMLParser

import pytest
from contentrepo import COMMUNITIES
from hypothesis import given, settings
from hypothesis import strategies as st
from test_build import build, sample_repo

from gate.csp import inline_hash, site_policy
from pipeline.audit import (
    CSP_FILE,
    ThemeCode,
    decode_search_file,
    find_offsite_assets,
    find_script_problems,
    read_code,
    read_page,
)
from pipeline.build import PROJECT_DIR, BuildError

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)

# --------------------------------------------------------------------------------------------
# Off-site URLs, however written


@st.composite
def offsite_urls(draw) -> str:
    """A URL to another host, in the spellings an HTML attribute allows."""
    scheme = draw(st.sampled_from(["", "https:", "http:", "HTTPS:", "ftp:", "ht&#x09;tps:"]))
    slashes = draw(st.sampled_from(["//", "&#47;&#47;", "&sol;&sol;", "/&#x2F;", "\\\\", "/\\", "&#x5C;&#x5C;"]))
    return scheme + slashes + draw(st.sampled_from(["evil.example", "fonts.googleapis.com", "1.2.3.4:8080"])) + "/x"


LOAD_CONTEXTS = [
    '<img src="{}">', "<img src={}>", '<img alt=">" src="{}">', '<script src="{}"></script>',
    '<iframe src="{}"></iframe>', '<object data="{}"></object>', '<video poster="{}"></video>',
    '<form action="{}"></form>', '<button formaction="{}">x</button>', '<link rel="stylesheet" href="{}">',
    '<link rel="icon" href="{}">', '<link rel="preload" as="font" href="{}">', '<svg><image xlink:href="{}"/></svg>',
    '<img srcset="a.png 1x, {} 2x">', '<source srcset="{}">', '<meta http-equiv="refresh" content="0; url={}">',
    '<p style="background: url(\'{}\')">x</p>', '<style>@import "{}";</style>', '<style>a{{background:url({})}}</style>',
]


@SETTINGS
@given(url=offsite_urls(), context=st.sampled_from(LOAD_CONTEXTS))
def test_every_load_from_another_host_is_found_in_html(url, context):
    if "srcset" in context and "&#x09;" in url:
        return  # a srcset splits on white space: "ht<TAB>tps://…" is the URL "ht" and a bad descriptor
    if "<style>" in context or "style=" in context:
        # inside CSS, entities are not decoded (write the characters) and a backslash escapes (double it)
        url = url.replace("&#47;", "/").replace("&sol;", "/").replace("&#x2F;", "/").replace("&#x5C;", "\\") \
            .replace("&#x09;", "").replace("\\", "\\\\")
    assert find_offsite_assets("<html><body>" + context.format(url) + "</body></html>", ".html"), context.format(url)


@SETTINGS
@given(url=st.sampled_from(["//evil.example/f.woff", "https://evil.example/f.css", "HTTP://evil.example/i.png"]),
       context=st.sampled_from(["@import '{}';", "@import url({});", "@font-face{{src:url({}) format('woff')}}",
                                "a{{background:url( \"{}\" )}}", "a{{background:u\\72l({})}}",
                                "@media print{{a{{background-image:image-set(\"{}\" 1x)}}}}"]))
def test_every_load_from_another_host_is_found_in_css(url, context):
    assert find_offsite_assets(context.format(url), ".css"), context.format(url)


@pytest.mark.parametrize("script", ['fetch("https://evil.example/x")', "var u = '//evil.example/p.gif';",
                                    "img.src = `https://${host}/x`;", 'el.style.background = "url(//evil.example/i)";'])
def test_a_host_in_a_script_is_found(script):
    assert find_offsite_assets(script, ".js")


def test_an_svg_file_is_read_as_a_document():
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/p.png"/><script>x()</script></svg>'
    assert find_offsite_assets(svg, ".svg") == ["https://evil.example/p.png"]
    assert find_script_problems(svg, ThemeCode(frozenset(), frozenset()))


@pytest.mark.parametrize("text, suffix", [
    ('<a href="https://www.diplomatie.gouv.fr/">lien</a> <a href="mailto:a@b.fr">m</a>', ".html"),
    ('<link rel="canonical" href="https://x.org/c/energie/"><link rel="alternate" href="https://x.org/feed.xml">', ".html"),
    ('<img src="../images/carte.png" srcset="a.png 1x, b.png 2x"><img src="data:image/png;base64,AAAA">', ".html"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><use href="#icon"/></svg>', ".html"),
    ("/* https://fontawesome.com/license */ a{background:url(\"data:image/svg+xml;charset=utf-8,<svg xmlns='http://www.w3.org/2000/svg'/>\")}", ".css"),
    ('var url = new URL("../../version.json", script.src); // https://example.org in a comment', ".js"),
])
def test_same_site_loads_and_links_are_not_off_site(text, suffix):
    assert find_offsite_assets(text, suffix) == []


def test_the_sites_own_address_is_not_another_host():
    assert not find_offsite_assets('<img src="https://gate.example.org/c/a/i.png">', ".html",
                                   "https://gate.example.org/c/a/")


# --------------------------------------------------------------------------------------------
# Scripts: the theme's only


THEME_PAGE = ('<html><head><script>var a=1</script><style>.x{color:red}</style></head><body>'
              '<script id="__config" type="application/json">{"base": "."}</script></body></html>')
THEME = ThemeCode.of_pages([THEME_PAGE])


def test_theme_code_is_the_hashes_of_its_inline_scripts_and_styles():
    assert THEME.scripts == {inline_hash("var a=1")} and THEME.styles == {inline_hash(".x{color:red}")}
    assert find_script_problems(THEME_PAGE, THEME) == []


@pytest.mark.parametrize("injected", [
    "<script>alert(1)</script>", "<script type=module>alert(1)</script>", "<SCRIPT>var a=1;</SCRIPT>",
    "<script>var a=1</script><script>var a=2</script>", "<style>body{display:none}</style>",
    '<p onclick="x">', "<img src=x OnError=alert(1)>", '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>', '<iframe src="vbscript:x"></iframe>', '<p style="color:red">x</p>',
    '<script src="https://evil.example/x.js"></script>', '<script src="//evil.example/x.js"></script>',
    '<script src="data:text/javascript,alert(1)"></script>',
    '<script id="__config" type="application/json">{"search": "evil"}</script>',
    '<script type="text/template"><img src=x onerror=alert(1)></script>', "<script>",
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
])
def test_a_page_runs_nothing_the_theme_did_not_bring(injected):
    page = THEME_PAGE.replace("<body>", "<body>" + injected)
    assert find_script_problems(page, THEME), injected


# --------------------------------------------------------------------------------------------
# The built site


@pytest.fixture(scope="module")
def hostile_titles(tmp_path_factory):
    """The sample repository, its energie community titled and described with markup."""
    root = tmp_path_factory.mktemp("content")
    repo = sample_repo(root)
    communities = copy.deepcopy(COMMUNITIES)
    communities["communities"]["energie"]["title"] = '<script>alert(1)</script>" onmouseover=x "'
    communities["communities"]["energie"]["description"] = "\" onmouseover=x \" <img src=x onerror=alert(2)>"
    repo.communities(communities)
    repo.commit("hostile titles", date="2026-11-21T10:00:00Z")
    out = tmp_path_factory.mktemp("site")
    build(root, out, jobs=1)
    return out / "energie"


def test_every_page_carries_the_release_policy_and_runs_only_the_theme(hostile_titles):
    code = read_code(hostile_titles)
    assert code.scripts  # mkdocs-material's inline scripts
    policy = site_policy(sorted(code.scripts), sorted(code.styles), http=False)
    pages = sorted(hostile_titles.rglob("*.html"))
    assert len(pages) > 5
    for path in pages:
        page = read_page(path.read_text(encoding="utf-8"))
        text = path.read_text(encoding="utf-8")
        assert f'<meta http-equiv="Content-Security-Policy" content="{policy.replace(chr(39), "&#x27;")}">' in text
        assert find_script_problems(text, code) == [], path
        assert page.problems == []
    assert not (hostile_titles / CSP_FILE).read_bytes().startswith(b"<")


def _attributes(text: str) -> list[str]:
    """The names of every attribute of every element of an HTML page, as a browser's parser reads them."""
    names: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            names.extend(name for name, _ in attrs)

    Parser().feed(text)
    return names


def test_community_strings_are_escaped_in_every_file_type(hostile_titles):
    title = '<script>alert(1)</script>" onmouseover=x "'
    for path in hostile_titles.rglob("*"):
        if path.suffix in (".html", ".xml") and path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "<script>alert(" not in text and "<img src=x onerror" not in text, path
            if path.suffix == ".xml":
                assert '" onmouseover=x' not in text, path
            else:  # a page's text may hold the quotation mark as the character (the sanitised legal notice
                # names the community): what matters is that no element gets the attribute
                assert not [a for a in _attributes(text) if a.startswith("on")], path
    # The search index holds text (the theme's search.js shows it as text, never as HTML).
    fragments = sorted((hostile_titles / "pagefind").glob("*/fragment/*.pf_fragment"))
    assert fragments
    for path in fragments:
        fragment = decode_search_file(path.name, path.read_bytes())
        assert "<script" not in json.dumps(fragment, ensure_ascii=False) and fragment["meta"]["title"]
    home = (hostile_titles / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    feed = etree.parse(hostile_titles / "feed.xml").getroot()
    assert feed.find("{http://www.w3.org/2005/Atom}title").text == title


def _repo_with_theme(tmp_path, change):
    """A content repository with its own mkdocs.yml and theme/ (the project's), changed by ``change``."""
    root = tmp_path / "content"
    repo = sample_repo(root)
    shutil.copy(PROJECT_DIR / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(PROJECT_DIR / "theme", root / "theme")
    change(root / "theme")
    repo.commit("own theme", date="2026-11-21T10:00:00Z")
    return root


def _add_inline_script(theme):
    main = theme / "main.html"
    main.write_text(main.read_text().replace("{% block scripts %}", "{% block scripts %}<script>steal()</script>"))


def _add_offsite_font(theme):
    css = theme / "assets/stylesheets/diplomatie.css"
    css.write_text(css.read_text() + "\n@font-face { font-family: x; src: url(https://fonts.example.org/x.woff2); }\n")


def test_a_content_repository_theme_runs_no_script_of_its_own(tmp_path):
    root = _repo_with_theme(tmp_path, _add_inline_script)
    with pytest.raises(BuildError, match=r"script audit: .*\.html: inline script not in the theme: 'steal\(\)'"):
        build(root, tmp_path / "out", jobs=1)


def test_a_content_repository_theme_loads_nothing_from_another_host(tmp_path):
    root = _repo_with_theme(tmp_path, _add_offsite_font)
    for _ in range(2):  # the second time from what the cache remembers of the stylesheet
        with pytest.raises(BuildError, match=r"off-site asset audit: assets/stylesheets/diplomatie.css loads "
                                             r"https://fonts.example.org/x.woff2"):
            build(root, tmp_path / "out", jobs=1)


def test_a_content_repository_with_the_projects_theme_builds(tmp_path):
    root = _repo_with_theme(tmp_path, lambda theme: None)
    results = build(root, tmp_path / "out", jobs=1)
    assert read_code(results["energie"].path).scripts


# --------------------------------------------------------------------------------------------
# Markings: what a reader sees, in pages, the search index and the feed


@pytest.mark.parametrize("rel, text", [
    ("index.html", "<html><body><p><b>CONFIDENTIEL DÉFENSE</b></p></body></html>"),
    ("2026/page.html", "<html><body><blockquote><p>DIFFUSION RESTREINTE</p></blockquote></body></html>"),
    ("feed.xml", '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'
                 "<summary>CONFIDENTIEL DÉFENSE</summary></entry></feed>"),
])
def test_a_marking_in_any_file_a_reader_sees_fails_the_audit(tmp_path, rel, text):
    from pipeline.audit import AuditError, Forbidden, audit

    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuditError, match=f"marking audit: {rel} shows a classification marking"):
        audit(tmp_path, Forbidden(frozenset(), ()))
    path.write_text(text.replace("DÉFENSE", "des affaires").replace("DIFFUSION RESTREINTE", "diffusion large"),
                    encoding="utf-8")
    audit(tmp_path, Forbidden(frozenset(), ()))


@pytest.mark.parametrize("name", ["transform.xsl", "page.xhtml", "page.htm", "module.mjs", "README", "page.html.bak",
                                  "data.pdf", "2026/notes.md", "img.svg.br"])
def test_a_file_the_audit_cannot_read_is_refused_not_published_unread(tmp_path, name):
    """Only kinds of file the audit reads (text) or that are never run nor shown as text (images,
    fonts) pass: anything else, which a browser might render or run, fails closed."""
    from pipeline.audit import AuditError, Forbidden, audit

    (tmp_path / "index.html").write_text("<html><body><p>Bonjour</p></body></html>", encoding="utf-8")
    (tmp_path / "favicon.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    audit(tmp_path, Forbidden(frozenset(), ()))
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html><body><script>alert(1)</script></body></html>", encoding="utf-8")
    with pytest.raises(AuditError, match=f"audit: {name} is a kind of file the audit cannot read"):
        audit(tmp_path, Forbidden(frozenset(), ()))


@settings(max_examples=60)
@given(suffix=st.text(alphabet=st.characters(codec="ascii", categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8),
       stem=st.sampled_from(["page", "2026/page", "assets/x", "page.html"]))
def test_any_suffix_the_audit_does_not_know_is_refused(tmp_path_factory, suffix, stem):
    """The class, generated: whatever the suffix, a file is published only if the audit reads it or
    it is an image or a font; everything else fails the audit (never published unread)."""
    from pipeline.audit import BINARY_SUFFIXES, TEXT_SUFFIXES, AuditError, Forbidden, audit

    site = tmp_path_factory.mktemp("site")
    name = f"{stem}.{suffix}"
    path = site / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<p>Bonjour</p>", encoding="utf-8")
    known = f".{suffix}" in TEXT_SUFFIXES | BINARY_SUFFIXES
    if known and not name.endswith(".gz"):
        audit(site, Forbidden(frozenset(), ()))
    elif not known:
        with pytest.raises(AuditError, match="is a kind of file the audit cannot read"):
            audit(site, Forbidden(frozenset(), ()))


# --------------------------------------------------------------------------------------------
# The release manifest carries the theme's hashes


def test_the_release_manifest_records_the_hashes_the_build_computed(hostile_titles, tmp_path):
    from gate.store import FolderStore, read_manifest
    from pipeline.build import SiteBuild
    from pipeline.publish import publish_site

    store = FolderStore(tmp_path / "store")
    site = SiteBuild(community="energie", path=hostile_titles, cables=("2026-BERLIN-0001", "2026-PARIS-0002"),
                     commit=None, built_at="", cached=False)
    result = publish_site(store, site)
    manifest = read_manifest(store, "energie", result.release)
    code = read_code(hostile_titles)
    assert manifest.script_hashes and set(manifest.script_hashes) == code.scripts
    assert set(manifest.style_hashes) == code.styles
    assert not any(path.startswith(".diplomatie") for path in manifest.files)


def test_a_site_without_its_hashes_is_not_published(tmp_path):
    from sitefactory import corpus, make_site

    from gate.store import FolderStore
    from pipeline.publish import PublishError, publish_site

    site = make_site(tmp_path / "build", "europe", corpus(2))
    (site.path / CSP_FILE).unlink()
    with pytest.raises(PublishError, match=r"no readable \.diplomatie/csp.json .* build the site again"):
        publish_site(FolderStore(tmp_path / "store"), site)


def test_a_remembered_marking_is_refused_again(tmp_path):
    from pipeline.audit import AuditError, Forbidden, audit

    page = tmp_path / "2026/2026-PARIS-0001.html"
    page.parent.mkdir()
    content = "<h1>Titre</h1><p>CONFIDENTIEL DÉFENSE</p>"
    page.write_text(f"<html><body>{content}</body></html>", encoding="utf-8")
    memo: dict = {}
    for _ in range(2):  # the second time from memory
        with pytest.raises(AuditError, match="marking audit: 2026/2026-PARIS-0001.html"):
            audit(tmp_path, Forbidden(frozenset(), ()), pieces={"2026/2026-PARIS-0001.html": [content]}, memo=memo)
    assert any(key.startswith("markings:") for key in memo)
