"""The texts of the sites' legal notice and accessibility statement: a content repository may write them
(``pages/<name>.<language>.md``), the project's defaults stand in where it does not, the measured
conformity stays generated, hostile Markdown is sanitised, and ``check`` says what is wrong with a file."""

from __future__ import annotations

import datetime as dt
import json
import os
from html.parser import HTMLParser
from types import SimpleNamespace

import markdown
import pytest
from contentrepo import make_repo
from hypothesis import given, settings
from hypothesis import strategies as st
from test_build import build

from pipeline import accessibility, site
from pipeline.build import BuildError

EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True)

LEGAL_FR = """\
# Mentions légales du ministère

Le site de la communauté « {community} » est édité par la direction de la communication.

Pour toute question : {owner}.
"""

STATEMENT_EN = """\
# Accessibility of our services

The Ministry is committed to making its sites accessible.

{audit}

## Feedback and contact

Write to the accessibility officer of the Ministry.
"""

HOSTILE = """\
# Legal notice

<script>alert("legal")</script>

<img src="x" onerror="alert('img')">

[click](javascript:alert('link'))

Plain text kept.
{: onclick="alert('attr')" }

<iframe src="https://example.org/frame"></iframe>
"""


class _Text(HTMLParser):
    """The article's text and every tag and attribute of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "article" or self.depth:
            self.depth += 1 if tag not in ("br", "img", "hr", "input") else 0

    def handle_endtag(self, tag):
        if self.depth and tag not in ("br", "img", "hr", "input"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def article(path) -> str:
    parsed = _Text()
    parsed.feed(path.read_text(encoding="utf-8"))
    return " ".join("".join(parsed.text).replace("¶", "").split())


def tags(path) -> list[tuple[str, dict[str, str]]]:
    parsed = _Text()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed.tags


def published_repo(root):
    repo = make_repo(root)
    repo.cable("2026-BERLIN-0001", title="Sécurité énergétique allemande", date=dt.date(2026, 3, 14))
    repo.cable("2026-NEW-YORK-ONU-0001", title="Réforme du Conseil de sécurité", date=dt.date(2026, 1, 20),
               subjects=["onu"])
    repo.approve("2026-BERLIN-0001", "energie")
    repo.approve("2026-NEW-YORK-ONU-0001", "onu")
    return repo


def check(repo) -> tuple[int, list[dict]]:
    result = repo.run("check", "--format", "json")
    return result.code, [f for f in json.loads(result.stdout)["findings"] if f["severity"] == "error"]


def test_a_repositorys_own_texts_appear_in_their_language_and_the_defaults_elsewhere(tmp_path):
    repo = published_repo(tmp_path / "content")
    repo.write("pages/legal.fr.md", LEGAL_FR)
    repo.write("pages/accessibility.en.md", STATEMENT_EN)
    assert check(repo) == (0, [])
    out = tmp_path / "site"
    build(repo.root, out)
    audit = accessibility.recorded()

    # energie (French): the repository's legal notice, filled in; the default statement.
    legal = article(out / "energie/legal.html")
    assert legal.startswith("Mentions légales du ministère")
    assert "« Énergie en Europe » est édité par la direction de la communication" in legal
    assert "ambassadeur@diplomatie.gouv.fr" in legal
    assert "Éditeur" not in legal  # nothing of the default text
    statement = article(out / "energie/accessibility.html")
    assert statement.startswith("Déclaration d'accessibilité")
    assert accessibility.conformity(audit, "fr") in statement

    # onu (English): the default legal notice; the repository's statement around the generated facts.
    legal = article(out / "onu/legal.html")
    assert legal.startswith("Legal notice") and "Publisher" in legal and "United Nations" in legal
    statement = article(out / "onu/accessibility.html")
    level = accessibility.conformity(audit, "en")
    ours, facts, after = (statement.index("The Ministry is committed"), statement.index(level),
                          statement.index("Feedback and contact"))
    assert statement.startswith("Accessibility of our services") and ours < facts < after
    assert "Compliance status" in statement and all(p in statement for p in audit.pages)
    assert "{audit}" not in statement
    # The page's title (the tab, the header) is the project's; the footer still names the measured level.
    html = (out / "onu/accessibility.html").read_text(encoding="utf-8")
    assert "<title>Accessibility statement" in html and f"Accessibility: {level}" in html


def test_a_statement_without_an_audit_line_gets_the_generated_facts_after_its_text(tmp_path):
    repo = published_repo(tmp_path / "content")
    repo.write("pages/accessibility.fr.md", "Le ministère s'engage à rendre ses sites accessibles.\n")
    out = tmp_path / "site"
    build(repo.root, out, communities=["energie"])
    statement = article(out / "energie/accessibility.html")
    # No heading of its own: the page's title is its heading.
    assert statement.startswith("Déclaration d'accessibilité Le ministère s'engage")
    assert statement.index("s'engage") < statement.index(accessibility.conformity(accessibility.recorded(), "fr"))


def test_hostile_markdown_in_a_page_text_is_reported_by_check_and_sanitised_on_the_site(tmp_path):
    repo = published_repo(tmp_path / "content")
    repo.write("pages/legal.en.md", HOSTILE)
    code, found = check(repo)
    assert code == 1
    lines = HOSTILE.splitlines()
    assert {f["code"] for f in found} == {"E501"} and {f["path"] for f in found} == {"pages/legal.en.md"}
    reported = {f["line"] for f in found}
    for needle in ("<script>", "onerror", "javascript:", "onclick", "<iframe"):
        assert next(n for n, line in enumerate(lines, 1) if needle in line) in reported, needle
    out = tmp_path / "site"
    build(repo.root, out, communities=["onu"])
    page = out / "onu/legal.html"
    assert "Plain text kept." in article(page)
    text = page.read_text(encoding="utf-8")
    assert "alert(" not in text and "javascript:" not in text and "example.org/frame" not in text
    assert not [a for _, a in tags(page) if any(k.startswith("on") for k in a)]


#: The class of hostile constructs: raw elements that run or load, event handlers (raw or by attribute
#: list), and links whose scheme runs script, written in the ways Markdown allows.
_RUNS = st.sampled_from(["script", "iframe", "object", "embed", "style", "form", "svg", "math", "base", "meta", "link"])
_HANDLERS = st.sampled_from(["onclick", "onerror", "onload", "onmouseover", "onfocus", "ONCLICK"])
_SCHEMES = st.sampled_from(["javascript:", "JaVaScRiPt:", "java\tscript:", "&#106;avascript:", "vbscript:",
                            "data:text/html,"])
HOSTILE_MARKDOWN = st.one_of(
    st.builds(lambda tag: f"<{tag} src=\"https://example.org/x\">alert(1)</{tag}>", _RUNS),
    st.builds(lambda h: f'<p {h}="alert(1)">text</p>', _HANDLERS),
    st.builds(lambda h: f"A paragraph\n{{: {h}=\"alert(1)\" }}", _HANDLERS),
    st.builds(lambda s: f"[link]({s}alert(1))", _SCHEMES),
    st.builds(lambda s: f'<a href="{s}alert(1)">link</a>', _SCHEMES),
    st.builds(lambda h: f'<img src="https://example.org/x.png" {h}="alert(1)">', _HANDLERS),
)


@EXAMPLES
@given(hostile=HOSTILE_MARKDOWN, before=st.sampled_from(["", "# Title\n\n", "Intro.\n\n"]))
def test_every_hostile_construct_of_a_page_text_leaves_the_site_harmless(hostile, before):
    """What the build does to a page text (MkDocs' conversion with the sites' extensions, then the
    hook that sanitises it), on generated variants of the class."""
    converted = markdown.markdown(before + hostile + "\n\nKept text.\n", extensions=["attr_list", "tables", "toc"])
    page = SimpleNamespace(meta={site.TEXT_META: True}, url="legal.html")
    config = {"extra": {}, "theme": {"language": "en"}}
    html = site.on_page_content(converted, page, config, None)
    parsed = _Text()
    parsed.feed(html)
    assert "Kept text." in html
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "iframe", "object", "embed", "style", "form", "svg", "math", "base", "meta", "link")
        assert not any(k.lower().startswith("on") for k in attrs), (tag, attrs)
        for key in ("href", "src"):
            # As a browser reads a URL: tabs and newlines removed, C0 controls and spaces trimmed.
            value = attrs.get(key, "").translate({9: None, 10: None, 13: None}).strip("\x00- ").lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:")), (tag, attrs)
            assert "example.org" not in value, (tag, attrs)


def test_a_legitimate_page_text_is_kept_as_written(tmp_path):
    converted = markdown.markdown("# Contact\n\nWrite to [the ministry](https://www.diplomatie.gouv.fr/) or "
                                  "[us](mailto:contact@diplomatie.gouv.fr).\n\n- one\n- **two**\n",
                                  extensions=["attr_list", "tables", "toc"])
    html = site.on_page_content(converted, SimpleNamespace(meta={site.TEXT_META: True}, url="legal.html"),
                                {"extra": {}, "theme": {"language": "en"}}, None)
    assert 'href="https://www.diplomatie.gouv.fr/"' in html and 'href="mailto:contact@diplomatie.gouv.fr"' in html
    assert "<strong>two</strong>" in html and "<li>one</li>" in html


@pytest.mark.parametrize(("path", "data", "code", "line"), [
    ("pages/legal.fr.md", "# Mentions\n\nÉditeur : le ministère\n".encode("latin-1"), "E101", 3),
    ("pages/legal.fr.md", b"# Mentions\n\n" + b"x" * 100_001, "E102", 1),
    ("pages/mentions.fr.md", b"# Mentions\n", "E104", 1),
    ("pages/legal.de.md", b"# Impressum\n", "E104", 1),
    ("pages/accessibility.fr.md", b"# A\n\n{audit}\n\ntext\n\n{audit}\n", "E206", 7),
    ("pages/legal.en.md", b"# Legal\n\n{audit}\n", "E206", 3),
])
def test_check_reports_a_broken_page_text_at_its_line_with_what_to_do(tmp_path, path, data, code, line):
    repo = published_repo(tmp_path / "content")
    repo.write(path, data)
    status, found = check(repo)
    assert status == 1
    [finding] = found
    assert (finding["path"], finding["line"], finding["code"]) == (path, line, code)
    assert finding["hint"]
    if code == "E104":
        assert "pages/legal.fr.md" in finding["hint"] and "pages/accessibility.en.md" in finding["hint"]


def test_a_page_text_that_is_a_link_is_refused_and_no_site_is_built_without_it(tmp_path):
    repo = published_repo(tmp_path / "content")
    (tmp_path / "elsewhere.md").write_text("# Mentions\n", encoding="utf-8")
    (repo.root / "pages").mkdir()
    os.symlink(tmp_path / "elsewhere.md", repo.root / "pages/legal.fr.md")
    status, [finding] = check(repo)
    assert status == 1 and (finding["path"], finding["code"]) == ("pages/legal.fr.md", "E103")
    # Fail closed: the ministry's text is never silently replaced by the default.
    with pytest.raises(BuildError, match="pages/legal.fr.md.*diplomatie check"):
        build(repo.root, tmp_path / "site")
    assert not (tmp_path / "site" / "energie").exists()

