"""The classification guard under attack, by class of input, both ways.

Each class is generated (layouts × labels × disguises), deterministically, and every variant goes
through the real parse path (``cables.parse`` on the file's bytes, as ``check`` reads it): every
marking variant is blocked with an E302 at its line, every prose sentence using the same words is
published without a finding. A handful go through the ``check`` command itself.
"""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from contentrepo import cable_text, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import cables, communities
from pipeline.findings import Findings

# --- labels ------------------------------------------------------------------------------------

LABELS = {
    "fr": ["SECRET", "TRÈS SECRET", "CONFIDENTIEL DÉFENSE", "SECRET DÉFENSE", "DIFFUSION RESTREINTE",
           "SPÉCIAL FRANCE", "TRÈS SECRET DÉFENSE", "Confidentiel Défense"],
    "eu": ["RESTREINT UE", "EU RESTRICTED", "CONFIDENTIEL UE", "SECRET UE/EU SECRET", "EU UNCLASSIFIED"],
    "nato": ["NATO SECRET", "COSMIC TOP SECRET", "NATO UNCLASSIFIED", "NATO RESTRICTED", "OTAN CONFIDENTIEL"],
    "us": ["TOP SECRET", "SECRET//NOFORN", "CONFIDENTIAL", "SENSITIVE BUT UNCLASSIFIED",
           "UNCLASSIFIED//FOR OFFICIAL USE ONLY"],
}
ALL_LABELS = [label for group in LABELS.values() for label in group]
PORTIONS = ["(C)", "(S)", "(DR)", "(CD)", "(TS)", "(S//NF)", "(CONFIDENTIEL DÉFENSE)", "(SECRET)",
            "(DIFFUSION RESTREINTE)", "(Secret Défense)", "(NATO UNCLASSIFIED)"]

# --- layouts: where a banner sits in the Markdown (L: the label) ---------------------------------

BANNER_LAYOUTS = {
    "line": "Texte d'introduction.\n\n{L}\n\nSuite du texte.\n",
    "blockquote": "Introduction.\n\n> {L}\n\nSuite.\n",
    "nested quote": "> Citation :\n>\n> > {L}\n",
    "list item": "Points :\n\n- premier point\n- {L}\n- troisième\n",
    "numbered item": "1. Contexte\n2. {L}\n3. Analyse\n",
    "heading": "## {L}\n\nTexte du paragraphe.\n",
    "setext heading": "{L}\n==========\n\nTexte.\n",
    "bold": "**{L}**\n\nTexte.\n",
    "italic": "_{L}_\n\nTexte.\n",
    "bold italic in quote": "> ***{L}***\n",
    "pasted html": '<p align="center"><b>{L}</b></p>\n\nTexte.\n',
    "pasted div": "<div>\n<center><font color=red>{L}</font></center>\n</div>\n\nTexte.\n",
    "lead-in fr": "Mention de protection : {L}\n\nTexte.\n",
    "lead-in classification": "**Classification :** {L}\n\nTexte.\n",
    "lead-in niveau": "Niveau : {L}\n\nTexte.\n",
    "lead-in en": "Marking: {L}\n\nText.\n",
    "handling fr": "{L} – NE PAS DIFFUSER\n\nTexte.\n",
    "handling destinataires": "{L} — POUR LES SEULS DESTINATAIRES\n\nTexte.\n",
    "handling en": "{L} // NOT FOR RELEASE\n\nText.\n",
    "handling not for distribution": "{L} - NOT FOR DISTRIBUTION\n",
    "table cell": "| Objet | Niveau |\n|---|---|\n| Note | {L} |\n\nTexte.\n",
    "table header": "| {L} |\n|---|\n| Texte |\n",
    "footnote": "Texte[^1].\n\n[^1]: {L}\n",
    "admonition title": '!!! warning "{L}"\n    Texte de la note.\n',
    "admonition body": "!!! note\n    {L}\n",
    "details title": '??? note "{L}"\n    Texte.\n',
    "definition": "Niveau\n:   {L}\n",
    "link title": 'Voir [le rapport](#rapport "{L}").\n',
    "image alt": "![{L}](carte.png)\n",
    "link text": "[{L}](#top)\n",
    "span title": 'Texte <span title="{L}">souligné</span>.\n',
    "abbreviation": "Le rapport NOTE est joint.\n\n*[NOTE]: {L}\n",
    "attribute list": "Paragraphe.\n{{: title=\"{L}\" }}\n",
    "letter item": "a) Contexte\nb) {L}\n",
    "bullet character": "• {L}\n",
    "line break": "<b>{L}</b><br>Texte qui suit.\n",
    "labelled": "Degré de sécurité du document : {L}\n",
    "code span": "`{L}`\n",
}
PORTION_LAYOUTS = {
    "paragraph": "Introduction.\n\n{P} Ce paragraphe porte une mention.\n",
    "bold": "**{P}** Ce paragraphe.\n",
    "bold inside": "(**{p}**) Ce paragraphe.\n",
    "italic": "_{P}_ Ce paragraphe.\n",
    "heading": "## {P} Contexte\n\nTexte.\n",
    "list item": "- {P} Un point.\n",
    "numbered item": "1. {P} Premier point.\n",
    "blockquote": "> {P} Une citation.\n",
    "pasted html": "<p><b>{P}</b> Texte.</p>\n",
    "table cell": "| a | b |\n|---|---|\n| {P} Texte | x |\n",
    "escaped": "\\{P} Texte.\n",
    "second line": "Premier paragraphe.\n\nSa première ligne\n{P} puis la suite.\n",
}

# --- disguises: how a hostile author hides the label's letters -----------------------------------

CYRILLIC = dict(zip("ABCEHKMOPTXIS", "АВСЕНКМОРТХІЅ", strict=True))
GREEK = dict(zip("ABCEHIKMNOPTXZ", "ΑΒϹΕΗΙΚΜΝΟΡΤΧΖ", strict=True))
NAMED = {"É": "&Eacute;", "È": "&Egrave;", "é": "&eacute;"}


def _first_letter(text: str, table: dict[str, str] | None = None) -> int:
    return next(i for i, c in enumerate(text) if c.isalpha() and (table is None or c in table))


def _one(text: str, table: dict[str, str]) -> str:
    """``text`` with its first letter that has a look-alike in ``table`` replaced (unchanged when
    none has: the variant is then left out)."""
    if not any(c in table for c in text):
        return text
    i = _first_letter(text, table)
    return text[:i] + table[text[i]] + text[i + 1:]


def _inside_first_word(text: str, insert: str) -> str:
    i = _first_letter(text) + 2
    return text[:i] + insert + text[i:]


def _entity(text: str) -> str:
    i = _first_letter(text)
    return f"{text[:i]}&#{ord(text[i])};{text[i + 1:]}"


def _hex_entities(text: str) -> str:
    return "".join(f"&#x{ord(c):x};" if c.isalpha() else c for c in text)


def _named(text: str) -> str:
    for char, entity in NAMED.items():
        if char in text:
            return text.replace(char, entity)
    i = _first_letter(text)
    return f"{text[:i]}&#x{ord(text[i]):X};{text[i + 1:]}"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _math_bold(text: str) -> str:
    return "".join(chr(0x1D400 + ord(c) - ord("A")) if "A" <= c <= "Z" else c for c in text)


DISGUISES = {
    "none": lambda t: t,
    "lower case": str.lower,
    "cyrillic letter": lambda t: _one(t, CYRILLIC),
    "cyrillic word": lambda t: "".join(CYRILLIC.get(c, c) for c in t),
    "greek letter": lambda t: _one(t, GREEK),
    "greek word": lambda t: "".join(GREEK.get(c, c) for c in t),
    "decimal entity": _entity,
    "hex entities": _hex_entities,
    "named entity": _named,
    "zero-width space": lambda t: _inside_first_word(t, "\u200b"),
    "zero-width joiner": lambda t: _inside_first_word(t, "\u200d"),
    "soft hyphen": lambda t: _inside_first_word(t, "\u00ad"),
    "word joiner": lambda t: _inside_first_word(t, "\u2060"),
    "left-to-right mark": lambda t: _inside_first_word(t, "\u200e"),
    "variation selector": lambda t: _inside_first_word(t, "\ufe0f"),
    "html comment": lambda t: _inside_first_word(t, "<!-- x -->"),
    "entity soft hyphen": lambda t: _inside_first_word(t, "&shy;"),
    "entity zero-width space": lambda t: _inside_first_word(t, "&#8203;"),
    "combining accent": lambda t: _inside_first_word(t, "\u0301"),
    "nbsp": lambda t: t.replace(" ", "\u00a0"),
    "thin spaces": lambda t: t.replace(" ", "\u2009"),
    "narrow nbsp": lambda t: t.replace(" ", "\u202f"),
    "fullwidth": _fullwidth,
    "mathematical bold": _math_bold,
    "empty tag": lambda t: _inside_first_word(t, "<b></b>"),
}

#: The layouts where HTML source in a label shows as text (in an attribute, or a code-like
#: context) rather than as markup: comments and tags there are not disguises.
ATTRIBUTE_LAYOUTS = {"link title", "span title", "attribute list", "image alt", "admonition title",
                     "details title", "abbreviation"}


def _variants(layouts: dict[str, str], labels: list[str], key: str) -> list[tuple[str, str, str, str]]:
    """(layout, label, disguise, body) for every layout × disguise, the label rotating through
    ``labels`` so that each label meets many layouts and disguises (two labels per pair for the
    portion markings, whose layouts are fewer)."""
    out = []
    for n, (layout, disguise) in enumerate(itertools.product(layouts, DISGUISES)):
        if layout in ATTRIBUTE_LAYOUTS and disguise in ("html comment", "empty tag"):
            continue
        for label in dict.fromkeys((labels[n % len(labels)],) if key == "L" else
                                   (labels[n % len(labels)], labels[(n * 7 + 3) % len(labels)])):
            text = DISGUISES[disguise](label)
            if text == label and disguise != "none":
                continue  # the disguise does not apply to this label (no look-alike, no space)
            value = {key: text, key.lower(): DISGUISES[disguise](label[1:-1]) if key == "P" else text}
            out.append((layout, label, disguise, layouts[layout].format(**value)))
    return out


BANNERS = _variants(BANNER_LAYOUTS, ALL_LABELS, "L")
PORTION_VARIANTS = [v for v in _variants(PORTION_LAYOUTS, PORTIONS, "P")
                    if not (v[2] == "lower case" and v[1] in ("(C)", "(S)", "(DR)", "(CD)", "(TS)", "(S//NF)"))]


def parse(body: str = "Le texte du télégramme.\n", path: str = "content/2026/2026-BERLIN-0001.md",
          **front) -> Findings:
    """The findings of ``check`` for one cable file (the real parse path, from its bytes)."""
    found = Findings()
    cable_id = path.rsplit("/", 1)[-1].removesuffix(".md")
    cables.parse(path, cable_text(cable_id, body, **front).encode("utf-8"), found)
    return found


def test_counts():
    """The lead reports these numbers; they must stay above the issue's 300 each way."""
    print(f"\nmarking variants: {len(BANNERS)} banners + {len(PORTION_VARIANTS)} portion markings; "
          f"prose: {len(PROSE)} sentences")
    assert len(BANNERS) + len(PORTION_VARIANTS) >= 300
    assert len(PROSE) >= 300


def _failures(variants, code="E302"):
    failures = []
    for layout, label, disguise, body in variants:
        found = parse(body)
        if code not in {f.code for f in found}:
            failures.append(f"{layout} / {label} / {disguise}: {body!r} -> {[str(f) for f in found]}")
    return failures


def test_every_banner_variant_is_blocked_as_a_marking():
    failures = _failures(BANNERS)
    assert not failures, f"{len(failures)} of {len(BANNERS)} not blocked:\n" + "\n".join(failures[:30])


def test_every_portion_marking_variant_is_blocked():
    failures = _failures(PORTION_VARIANTS)
    assert not failures, f"{len(failures)} of {len(PORTION_VARIANTS)} not blocked:\n" + "\n".join(failures[:30])


def test_a_marking_is_reported_at_its_line():
    body = "Premier paragraphe.\n\nDeuxième.\n\n> C&#79;NFIDENTIEL D&Eacute;FENSE\n"
    [hit] = [f for f in parse(body) if f.code == "E302"]
    assert hit.line == 10 + 5  # the body starts on line 11 of the file (10 lines of front matter)


def test_a_marking_only_the_page_shows_is_placed_on_its_source_line():
    body = "Intro.\n\nTexte ordinaire.\n\n**SE**CRET\n\nFin.\n"
    [hit] = [f for f in parse(body) if f.code == "E302"]
    assert "as rendered" in hit.message
    assert hit.line == 10 + 5


def test_a_body_the_scan_cannot_render_is_refused():
    found = parse("- " * 2000 + "texte\n")
    assert any(f.code == "E302" and "cannot be rendered" in f.message for f in found), [str(f) for f in found]


# --- what only serves to hide is refused on its own ----------------------------------------------

HIDDEN = ["\u200b", "\u200c", "\u200d", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\ufeff", "\u00ad",
          "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
          "\u200f", "\u061c", "\u180e", "\u3164", "\u115f", "\u1160", "\uffa0", "\u034f", "\ufe00", "\ufe0f",
          "\U000e0101", "\U000e0041", "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1f",
          "\x7f", "\x80", "\x85", "\x9b", "\x9f", "\u2028", "\u2029", "\u17b4", "\u2800"]


@pytest.mark.parametrize("where", ["title", "summary", "body"])
def test_every_invisible_or_control_character_is_refused(where):
    failures = []
    for char in HIDDEN:
        if where != "body" and char == "\x85":
            continue  # YAML reads NEL as a line break: it never reaches the value
        text = f"Le ministre a par{char}lé hier"
        found = parse(text + "\n") if where == "body" else parse(**{where: text})
        hits = [f for f in found if f.code == "E303"]
        if not hits or f"U+{ord(char):04X}" not in hits[0].message:
            failures.append(f"U+{ord(char):04X} {unicodedata.name(char, '')}: {[str(f) for f in found]}")
    assert not failures, "\n".join(failures)


def test_an_invisible_character_is_reported_at_its_column():
    [hit] = [f for f in parse("Texte.\n\nLe mi\u200bnistre.\n") if f.code == "E303"]
    assert (hit.line, hit.col) == (10 + 3, 6)


MIXED = [("ministre", CYRILLIC), ("Berlin", CYRILLIC), ("accord", CYRILLIC), ("Europe", GREEK), ("NATO", GREEK),
         ("Paris", CYRILLIC), ("sommet", GREEK), ("embassy", CYRILLIC)]


@pytest.mark.parametrize(("word", "table"), MIXED)
def test_a_word_mixing_scripts_is_refused(word, table):
    disguised = _one(word.upper(), table) if not any(c in table for c in word) else _one(word, table)
    found = parse(f"Le {disguised} a parlé.\n", summary=f"Un {disguised} ici")
    assert {f.code for f in found} >= {"E304"}, [str(f) for f in found]
    assert sum(f.code == "E304" for f in found) == 2  # the body and the summary


def test_words_wholly_in_another_script_are_text():
    body = "Le ministre a rencontré son homologue à Москва, puis à Αθήνα ; 東京 et القاهرة suivront.\n"
    assert [str(f) for f in parse(body)] == []


@pytest.mark.parametrize("reference", ["&#8203;", "&#x200b;", "&shy;", "&zwj;", "&zwnj;", "&#x202E;", "&#xFE0F;"])
def test_an_invisible_character_spelled_as_a_reference_is_refused(reference):
    found = parse(f"Le mi{reference}nistre a parlé.\n")
    assert "E303" in {f.code for f in found}, [str(f) for f in found]


@pytest.mark.parametrize("comment", ["<!-- note -->", "<!--\nSECRET\n-->", "Texte <!-- x --> suite", "<!---->",
                                     "<div>\n<!-- dans un bloc -->\n</div>", "| a | b <!-- x --> |\n|---|---|\n"])
def test_an_html_comment_in_the_body_is_refused_at_its_line(comment):
    found = parse(f"Texte.\n\n{comment}\n")
    hits = [f for f in found if f.code == "E305"]
    assert hits, [str(f) for f in found]
    assert hits[0].line == 10 + 3 + comment[:comment.index("<!--")].count("\n")


@pytest.mark.parametrize("body", ["Le marqueur `<!--DIPLOMATIE:TOC-->` reste tel quel.\n",
                                  "```\n<!-- un exemple de commentaire -->\n```\n",
                                  "Écrire `&#8203;` pour une espace de largeur nulle.\n",
                                  "Le signe &lt;!-- ouvre un commentaire.\n"])
def test_comment_and_reference_syntax_shown_as_text_is_text(body):
    assert [str(f) for f in parse(body)] == []


# --- every printed field is read ----------------------------------------------------------------

FIELDS = [
    ({"title": "SECRET DÉFENSE"}, "title"),
    ({"title": "(C) Réunion du conseil"}, "title"),
    ({"summary": "Mention de protection : DIFFUSION RESTREINTE"}, "summary"),
    ({"summary": "NАTO UNCLASSIFIED"}, "summary"),
    ({"ministry": "DR"}, "ministry"),
    ({"ministry": "SECRET"}, "ministry"),
    ({"subjects": ["energie", "secret-defense"]}, "subjects"),
    ({"subjects": ["diffusion-restreinte"]}, "subjects"),
    ({"author": "secret@diplomatie.gouv.fr", "title": "Тоp secret"}, "title"),
]


@pytest.mark.parametrize(("front", "key"), FIELDS)
def test_markings_in_every_printed_field_are_refused(front, key):
    found = parse(**front)
    hits = [f for f in found if f.code in ("E302", "E303", "E304")]
    assert hits, [str(f) for f in found]
    assert any(f"the {key}" in f.message for f in hits)


def test_a_marking_in_the_post_is_refused():
    found = parse(path="content/2026/2026-SECRET-0001.md")
    assert any(f.code == "E302" and "the post" in f.message for f in found), [str(f) for f in found]


COMMUNITY = """communities:
  energie:
    title: {title}
    description: {description}
    language: fr
    owner: ambassadeur@diplomatie.gouv.fr
    editors: [redaction@diplomatie.gouv.fr]
    select: {{subjects: [energie]}}
"""


def community_findings(title: str = "Énergie", description: str = "Analyses.") -> Findings:
    found = Findings()
    text = COMMUNITY.format(title=_yaml(title), description=_yaml(description))
    communities.parse(text.encode("utf-8"), found)
    return found


def _yaml(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize(("title", "description", "code"), [
    ("DIFFUSION RESTREINTE", "Analyses.", "E302"),
    ("Énergie", "NATO UNCLASSIFIED", "E302"),
    ("Énergie", "> CONFIDENTIEL DÉFENSE", "E302"),
    ("ЅECRET", "Analyses.", "E302"),
    ("Énergie", "SE\u200bCRET", "E302"),
    ("Éner\u200bgie", "Analyses.", "E303"),
    ("Énergie", "Anаlyses.", "E304"),
    ("<script>alert(1)</script>", "Analyses.", "E306"),
    ("Énergie", "Voir <b>ceci</b>", "E306"),
    ("Énergie &amp; climat", "Analyses.", "E306"),
    ("Énergie", "a &lt;b&gt;", "E306"),
    ("Énergie", "&#60;img src=x&#62;", "E306"),
    ("Énergie", "Texte <!-- caché -->", "E306"),
])
def test_community_title_and_description_are_read(title, description, code):
    found = community_findings(title, description)
    assert code in {f.code for f in found}, [str(f) for f in found]
    hit = next(f for f in found if f.code == code)
    assert hit.path == "communities.yaml" and hit.line in (3, 4)


@pytest.mark.parametrize(("title", "description"), [
    ("Énergie en Europe", "Analyses des postes européens sur l'énergie."),
    ("Sécurité & défense", "R&D, AT&T et le secret des affaires."),
    ("United Nations", "Multilateral affairs; a confidential source is not a marking."),
    ("Relations franco-russes", "Москва et Paris : « dialogue »."),
])
def test_plain_community_strings_pass(title, description):
    assert [str(f) for f in community_findings(title, description)] == []


# --- prose stays prose -------------------------------------------------------------------------

FR = [
    "Le secret des affaires est protégé par la directive de {year}.",
    "Une source confidentielle a indiqué que les négociations reprendraient à {city}.",
    "La diffusion restreinte du rapport aux seuls experts a été décidée à {city}.",
    "La mention « secret » a été levée en {year}.",
    "Le caractère confidentiel des discussions a été souligné par le ministre à {city}.",
    "Le secret médical reste la règle, selon les autorités de {city}.",
    "Les informations sensibles ont été transmises par la voie habituelle en {year}.",
    "Cette note est non classifiée et peut être diffusée largement.",
    "Les archives déclassifiées de l'OTAN montrent l'état du débat en {year}.",
    "L'UE a adopté une position restreinte sur ce dossier à {city}.",
    "Le ministre a évoqué le secret défense à propos de l'affaire de {city}.",
    "Un accord secret aurait été conclu à {city}, selon la presse.",
    "Le Conseil de sécurité (CS) se réunit à {city} en {year}.",
    "Diffusion large recommandée après la réunion de {city}.",
    "Très secret, le projet n'a été révélé qu'en {year}.",
    "La session restreinte du Conseil s'est achevée tard à {city}.",
    "Le rapport « Confidentiel » de {year} n'est plus d'actualité.",
    "Top secret, titrait la presse de {city}, mais rien ne l'était.",
    "Le mot « confidentiel » figurait sur la couverture, à tort, en {year}.",
    "(c) le troisième point de l'accord signé à {city}",
    "(a) premier point ; (b) second point, adoptés à {city}.",
    "Non classifié : ce télégramme de {city} peut circuler.",
    "La défense européenne reste un sujet sensible à {city}.",
    "Restreinte aux membres, la réunion de {city} a duré trois heures.",
    "La diffusion de ce texte est libre depuis {year}.",
    "Niveau de sécurité : le ministre a jugé la situation stable à {city}.",
    "Mention de protection : aucune, ce télégramme de {city} est public.",
    "Le ministre a dit : « secret », puis a souri, à {city}.",
]
EN = [
    "A confidential source told the embassy that talks would resume in {city}.",
    "Top secret talks, says the press in {city}, were nothing of the kind.",
    "The restricted session of the Security Council ended late in {city}.",
    "Trade secrets were at the heart of the dispute in {year}.",
    "NATO's unclassified summary was released in {city} on Monday.",
    "The secret ballot took place in {city} in {year}.",
    "Officials described the memo as sensitive but not classified.",
    "The report's limited circulation among experts was criticised in {city}.",
    "Secret diplomacy is a theme of the conference in {city}.",
    "The confidential annex was published in full in {year}.",
    "Classified documents were declassified in {year}, the archive says.",
    "EU ministers met in {city} to discuss restricted exports.",
    "The word secret appears nowhere in the {year} agreement.",
    "A restricted list of delegates attended in {city}.",
    "Unclassified: this cable from {city} may circulate.",
    "(c) the third point of the {city} declaration",
    "The top secret clearance debate resurfaced in {year}.",
    "For official use, the ministry printed a guide in {year}.",
    "Distribution of the statement in {city} was limited by the weather.",
    "The press called it a confidential deal struck in {city}.",
]
FILL = [{"year": "1990", "city": "Berlin"}, {"year": "2016", "city": "Bruxelles"},
        {"year": "2026", "city": "New York"}]
PROSE_LAYOUTS = {
    "paragraph": "{S}\n",
    "in a paragraph": "Introduction.\n\n{S} Suite de la phrase.\n",
    "blockquote": "> {S}\n",
    "list item": "- {S}\n",
    "numbered item": "2. {S}\n",
    "heading": "## {S}\n\nTexte.\n",
    "bold": "**{S}**\n",
    "italic": "_{S}_\n",
    "table cell": "| Point | Détail |\n|---|---|\n| 1 | {S} |\n",
    "footnote": "Texte[^1].\n\n[^1]: {S}\n",
    "admonition": "!!! note\n    {S}\n",
    "link text": "[{S}](#top)\n",
}


def _prose() -> list[tuple[str, str, str]]:
    sentences = [t.format(**f) for t in FR + EN for f in FILL]
    sentences = list(dict.fromkeys(sentences))
    layouts = list(PROSE_LAYOUTS)
    return [(layouts[(i * 5 + k) % len(layouts)], s, PROSE_LAYOUTS[layouts[(i * 5 + k) % len(layouts)]].format(S=s))
            for i, s in enumerate(sentences) for k in range(3)]


PROSE = _prose()


def test_prose_using_the_words_is_published():
    failures = []
    for layout, sentence, body in PROSE:
        found = parse(body)
        if found:
            failures.append(f"{layout}: {sentence!r} -> {[str(f) for f in found]}")
    assert not failures, f"{len(failures)} of {len(PROSE)} refused:\n" + "\n".join(failures[:30])


@pytest.mark.parametrize("sentence", [s for s in dict.fromkeys(t.format(**FILL[0]) for t in FR + EN)][:10])
def test_prose_in_the_title_and_summary_is_published(sentence):
    assert [str(f) for f in parse(title=sentence[:120], summary=sentence)] == []


# --- random insertions of invisible characters -------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True)
@given(label=st.sampled_from(ALL_LABELS), layout=st.sampled_from(sorted(BANNER_LAYOUTS)),
       inserts=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(HIDDEN[:30])), min_size=1, max_size=4))
def test_invisible_characters_anywhere_in_a_banner_never_unblock_it(label, layout, inserts):
    for position, char in sorted(inserts, reverse=True):
        position = min(position, len(label))
        label = label[:position] + char + label[position:]
    codes = {f.code for f in parse(BANNER_LAYOUTS[layout].format(L=label))}
    assert codes & {"E302", "E303"}, (layout, label, codes)


# --- through the command -------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "line"), [
    ("Texte.\n\n> CONFIDENTIEL D&Eacute;FENSE\n", "E302", 13),
    ('<p align="center"><b>DIFFUSION RESTREINTE</b></p>\n', "E302", 11),
    ("## (S) Contexte\n", "E302", 11),
    ("Texte.\n\nSE\u00adCRET DÉFENSE – NE PAS DIFFUSER\n", "E303", 13),
    ("Le СЕCRET.\n", "E304", 11),
])
def test_check_command_exits_1_naming_file_line_and_code(tmp_path, body, code, line):
    repo = make_repo(tmp_path / "repo")
    repo.cable("2026-BERLIN-0001")
    repo.cable("2026-BERLIN-0002", body=body)
    result = repo.run("check")
    assert result.code == 1, result.output
    assert f"content/2026/2026-BERLIN-0002.md:{line}:" in result.stdout
    assert code in result.stdout
