"""``pipeline.html_safety``: no script and no off-site load can come from a cable, by class of input.

Each class of hostile construct is generated in its variants; every variant must be refused by
``check`` (``find_unsafe``) AND be absent from what the build puts in a page (the sanitised
rendering). Legitimate Markdown is generated too, and must pass unchanged. What counts as dangerous
is judged by an oracle written the way a browser reads HTML (entities decoded, tabs and newlines
dropped from URLs), independently of the sanitiser's own tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import html_safety, site
from pipeline.cables import Cable

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)
LOADING_TAGS = {"script", "iframe", "frame", "object", "embed", "svg", "math", "style", "form", "meta", "link",
                "base", "template", "input", "button", "textarea", "select", "video", "audio", "source",
                "picture", "applet", "portal", "noscript"}
URL_ATTRS = {"href", "src", "action", "formaction", "poster", "data", "xlink:href", "background", "srcset"}


class _Danger(HTMLParser):
    """Oracle: what a browser would run or fetch from elsewhere in a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in LOADING_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name == "style":
                self.found.append(name)
            if name in URL_ATTRS:
                url = "".join(ch for ch in value if ch not in "\t\n\r").strip("".join(map(chr, range(33))))
                scheme = url.split(":", 1)[0].lower() if ":" in url.split("/", 1)[0] else ""
                if scheme in ("javascript", "vbscript", "data", "livescript"):
                    self.found.append(f"{name}={scheme}:")
                if tag == "img" and name == "src" and not html_safety.same_site(value):
                    self.found.append(f"img src={value}")

    handle_startendtag = handle_starttag


def danger(html: str) -> list[str]:
    parser = _Danger()
    parser.feed(html)
    parser.close()
    return parser.found


CABLE = Cable(id="2026-PARIS-0001", title="Titre", date=dt.date(2026, 4, 1), post="PARIS", author="a@diplomatie.gouv.fr",
              classification="NON CLASSIFIÉ", subjects=("energie",), language="fr", body="",
              path="content/2026/2026-PARIS-0001.md", digest="sha256:" + "0" * 64, summary="Résumé.")
RENDERER = site.CableRenderer(list(html_safety.EXTENSIONS), html_safety.EXTENSION_CONFIGS)


def built(body: str) -> str:
    """What the build puts in the cable's page."""
    return RENDERER.render(dataclasses.replace(CABLE, body=body)).html


def raw(body: str) -> str:
    """The rendering before the sanitiser: what a site held before."""
    md = html_safety._markdown()
    md.reset()
    return md.convert(body)


def assert_refused_and_absent(body: str) -> None:
    document = f"Texte d'introduction.\n\n{body}\n"
    found = html_safety.find_unsafe(document)
    assert found, f"check accepts {body!r}"
    assert all(f.line >= 3 for f in found), (body, found)  # at the construct, not at the top
    assert danger(built(document)) == [], body


# --------------------------------------------------------------------------------------------
# Script URLs, however spelled


def _encode(ch: str, how: int) -> str:
    return [ch, f"&#{ord(ch)};", f"&#x{ord(ch):x};", f"&#X{ord(ch):X};", f"&#00{ord(ch)};", ch.upper()][how]


@st.composite
def script_urls(draw) -> str:
    scheme = draw(st.sampled_from(["javascript", "vbscript", "data"]))
    letters = [_encode(ch, draw(st.integers(0, 5))) for ch in scheme]
    if draw(st.booleans()):  # a tab or newline browsers drop, written as an entity
        at = draw(st.integers(1, len(letters) - 1))
        letters.insert(at, draw(st.sampled_from(["&#x09;", "&#10;", "&#x0D;", "&Tab;", "&NewLine;"])))
    colon = draw(st.sampled_from([":", "&#58;", "&colon;", "&#x3a;"]))
    payload = "text/html;base64,PHNjcmlwdD4=" if scheme == "data" else "alert(document.cookie)"
    return "".join(letters) + colon + payload


@SETTINGS
@given(url=script_urls(), context=st.sampled_from(["[clic]({})", '<a href="{}">clic</a>', "<a href={}>clic</a>",
                                                    "[clic][r]\n\n[r]: {}", '[clic]({} "titre")']))
def test_script_urls_in_links_are_refused_and_absent(url, context):
    assert_refused_and_absent(context.format(url))


@pytest.mark.parametrize("text", ["[x](javaſcript:alert(1))", "[x](JAVASCRİPT:alert(1))",
                                  "[x](javascrıpt:alert(1))", "<ſcript>alert(1)</ſcript>"])
def test_look_alike_letters_spell_no_script_for_a_browser(text):
    """A browser reads schemes and tag names in ASCII only: these are text and relative links."""
    assert danger(raw(text)) == [] and danger(built(text)) == []


# --------------------------------------------------------------------------------------------
# Control characters inside tag names


CONTROLS = [chr(c) for c in itertools.chain(range(0x00, 0x20), range(0x7F, 0xA0)) if chr(c) not in "\t\n\r"]


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_inside_script_never_make_a_script(control):
    for at in range(1, len("script")):
        body = f"<{'script'[:at]}{control}{'script'[at:]}>alert(1)</script>"
        document = f"Texte.\n\n{body}\n"
        assert danger(built(document)) == [], repr(body)
        if "<script" in raw(document).lower() or danger(raw(document)):
            assert html_safety.find_unsafe(document), repr(body)


# --------------------------------------------------------------------------------------------
# Event handlers and styles, in raw HTML and in attribute lists


HANDLERS = ["onclick", "onmouseover", "onerror", "OnLoad", "onfocus", "ONANIMATIONSTART"]


@SETTINGS
@given(handler=st.sampled_from(HANDLERS), quote=st.sampled_from(['"', "'", ""]),
       context=st.sampled_from(["Paragraphe\n{{: {attr} }}", "## Titre {{: {attr} }}", "[lien](#x){{: {attr} }}",
                                "![img](a.png){{: {attr} }}", "<p {attr}>x</p>", "<em {attr}>x</em>",
                                '<img src="a.png" {attr}>', "<a href=\"#x\" {attr}>x</a>"]))
def test_event_handlers_are_refused_and_absent(handler, quote, context):
    assert_refused_and_absent(context.format(attr=f"{handler}={quote}alert(1){quote}"))


@SETTINGS
@given(tag=st.sampled_from(["p", "span", "div", "em", "td", "a"]),
       css=st.sampled_from(["color:red", "background:url(//evil.example/x.png)", "position:fixed;top:0"]))
def test_style_attributes_are_refused_and_absent(tag, css):
    assert_refused_and_absent(f'<{tag} style="{css}">x</{tag}>')
    assert_refused_and_absent(f'Paragraphe\n{{: style="{css}" }}')


# --------------------------------------------------------------------------------------------
# Elements that run script or load content


@SETTINGS
@given(tag=st.sampled_from(sorted(LOADING_TAGS)), case=st.sampled_from([str.lower, str.upper, str.title]),
       attrs=st.sampled_from(["", ' src="https://evil.example/x"', " data=x", ' href="//evil.example/s.css"']))
def test_loading_elements_are_refused_and_absent(tag, case, attrs):
    assert_refused_and_absent(f"<{case(tag)}{attrs}>contenu</{case(tag)}>")


# --------------------------------------------------------------------------------------------
# Images from another host


@st.composite
def offsite_sources(draw) -> str:
    host = draw(st.sampled_from(["//evil.example/p.gif", "https://evil.example/p.gif", "http://evil.example/p",
                                 "\\\\evil.example/p", "/\\evil.example/p", "data:image/svg+xml,<svg/onload=alert(1)>"]))
    if draw(st.booleans()) and host.startswith("/"):
        host = "&#x2F;" + host[1:]  # entity-encoded first slash
    return host


@SETTINGS
@given(src=offsite_sources(), context=st.sampled_from([
    '<img src="{}">', "<img src={}>", '<img alt=">" src="{}">', "<img alt='a>b' src={}>", "![pixel]({})",
    '![pixel]({} "titre")', "![pixel][r]\n\n[r]: {}"]))
def test_images_from_other_hosts_are_refused_and_absent(src, context):
    if "](" in context or "]:" in context:  # a backslash escapes the next; a target holds no "<"
        src = "/\\" + src[2:] if src.startswith("\\\\") else src
        src = "data:image/svg+xml;base64,PHN2Zz4=" if "<" in src else src
    assert_refused_and_absent(context.format(src))


# --------------------------------------------------------------------------------------------
# What the theme reserves


@pytest.mark.parametrize("body", ['<p class="md-banner">x</p>', "Paragraphe\n{: .dip-banner }", "# __config",
                                  '<div id="__search">x</div>'])
def test_theme_classes_and_ids_are_refused(body):
    assert html_safety.find_unsafe(f"Texte.\n\n{body}\n")


# --------------------------------------------------------------------------------------------
# Legitimate Markdown passes unchanged


BLOCKS = {
    "table": "| Poste | Date |\n|:------|-----:|\n| Berlin | 3 |\n| Rome | 4 |",
    "footnote": "Une affirmation[^1].\n\n[^1]: Sa source.",
    "admonition": '!!! note "À retenir"\n    Le texte de la note.',
    "warning": "!!! warning\n    Attention.",
    "heading": "## Contexte politique\n\nDu texte.",
    "cable link": "Voir [le télégramme](2026-BERLIN-0042) et [section](2026-BERLIN-0042#contexte).",
    "image": "![Carte](images/carte.png \"La carte\")",
    "mailto": "Écrire à [l'ambassade](mailto:ambassade@diplomatie.gouv.fr).",
    "link": "Lire [le communiqué](https://www.diplomatie.gouv.fr/fr/ \"Communiqué\").",
    "emphasis": "Un *point* **essentiel**, du `code` et ~~rien~~.",
    "list": "1. un\n2. deux\n\n- a\n- b",
    "start": "3. trois\n4. quatre",
    "quote": "> Une citation\n> sur deux lignes.",
    "code": "```python\nprint('<script>')\n```",
    "rule": "Avant\n\n---\n\nAprès",
    "html": "Du texte <em>souligné</em>, <abbr title=\"Union européenne\">UE</abbr>, H<sub>2</sub>O, x<sup>2</sup>.",
    "attr id": "## Titre {: #titre-special }",
    "attr class": "Paragraphe\n{: .encadre }",
    "entities": "Prix &lt; 5 &amp; taux &gt; 3 &copy; &#8364;",
    "escaped": "Un texte qui parle de \\<script\\> et de `<iframe>`.",
}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(sorted(BLOCKS)), min_size=1, max_size=6))
def test_legitimate_markdown_passes_unchanged(names):
    body = "\n\n".join(BLOCKS[n] for n in names) + "\n"
    assert html_safety.find_unsafe(body) == [], names
    rendered = raw(body)
    assert html_safety.events(html_safety.sanitise(rendered)) == html_safety.events(rendered)


def test_findings_point_at_the_construct():
    body = "Ligne un.\n\nLigne trois <img alt=\">\" src=//evil.example/x.png> fin.\n\nTexte\n{: onclick=x }\n"
    found = html_safety.find_unsafe(body)
    assert [(f.line, f.col) for f in found] == [(3, 13), (6, 4)]
    assert "another host" in found[0].what and "onclick" in found[1].what


def test_a_body_too_deeply_nested_to_render_is_refused_not_a_crash():
    found = html_safety.find_unsafe("- " * 2000 + "texte\n")
    assert found and "cannot be rendered" in found[0].what
    assert html_safety.find_unsafe("Texte.\n") == []  # and the next body renders again
