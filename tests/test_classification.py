"""The fail-closed classification policy, both sides of each rule."""

import pytest

from pipeline.classification import (
    find_markings,
    find_markings_in_html,
    find_markings_in_markdown,
    hidden_characters,
    is_publishable,
    mixed_script_words,
    skeleton,
)

PUBLISHABLE = ["NON CLASSIFIÉ", "Non classifié", "non classifie", "NON-CLASSIFIÉ", "NON_CLASSIFIE",
               "  NON   CLASSIFIÉ  ", "NC", "nc", "UNCLASSIFIED", "Unclassified", "non-classifié"]

BLOCKED = [
    None, "", " ", 0, True, ["NON CLASSIFIÉ"],
    # French levels, current and pre-2021, and mentions
    "TRÈS SECRET", "TRES SECRET", "très secret", "Très-Secret", "SECRET", "secret", "S E C R E T",
    "TRÈS SECRET DÉFENSE", "TRES SECRET DEFENSE", "SECRET DÉFENSE", "secret-defense",
    "CONFIDENTIEL DÉFENSE", "CONFIDENTIEL DEFENSE", "confidentiel  défense", "DIFFUSION RESTREINTE",
    "Diffusion Restreinte", "diffusion-restreinte", "DR", "SPÉCIAL FRANCE", "SPECIAL FRANCE",
    "NON CLASSIFIÉ - DIFFUSION RESTREINTE", "CONFIDENTIEL",
    # EU
    "RESTREINT UE", "RESTREINT UE/EU RESTRICTED", "EU RESTRICTED", "CONFIDENTIEL UE", "SECRET UE",
    "TRÈS SECRET UE", "TRES SECRET UE/EU TOP SECRET",
    # NATO
    "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET", "NATO UNCLASSIFIED",
    # US-style
    "CONFIDENTIAL", "SECRET//NOFORN", "TOP SECRET", "SBU", "SENSITIVE BUT UNCLASSIFIED", "CUI",
    # typos fail closed
    "NON CLASIFIE", "UNCLASIFIED", "N C", "publique",
]


@pytest.mark.parametrize("label", PUBLISHABLE)
def test_unclassified_labels_are_publishable(label):
    assert is_publishable(label)


@pytest.mark.parametrize("label", BLOCKED)
def test_every_other_label_blocks(label):
    assert not is_publishable(label)


MARKED = [
    "SECRET",
    "TRÈS SECRET",
    "**CONFIDENTIEL DÉFENSE**",
    "# DIFFUSION RESTREINTE",
    "CONFIDENTIEL DÉFENSE – SPÉCIAL FRANCE",
    "Classification : NATO SECRET",
    "RESTREINT UE / EU RESTRICTED",
    "COSMIC TOP SECRET",
    "secret//noforn",
    "SECRET//NOFORN",
    "(DR) Ce paragraphe était diffusion restreinte.",
    "(CD) Ce paragraphe aussi.",
    "(C) A portion marking.",
    "(S) Another one.",
    "(TS) And another.",
    "- (S//NF) In a list item.",
    "> (C) In a quote.",
    "The ministers met. SECRET//REL TO USA, FRA",
    "Le compte rendu //NOFORN circule.",
    "  EU CONFIDENTIAL  ",
]

PROSE = [
    "Le secret des affaires est protégé par la directive de 2016.",
    "A confidential source told the embassy that talks would resume.",
    "Les négociations restent confidentielles à ce stade.",
    "Top secret talks, says the press, were nothing of the kind.",
    "(c) an enumeration in lower case",
    "(a) first point; (b) second point",
    "Voir https://example.org/rapport pour le détail.",
    "The restricted session of the Security Council ended late.",
    "Diffusion large recommandée.",
    "Le Conseil de sécurité (CS) se réunit demain.",
    "NON CLASSIFIÉ",
    "UNCLASSIFIED",
]


@pytest.mark.parametrize("text", MARKED)
def test_markings_in_text_are_found(text):
    assert find_markings(text), text


@pytest.mark.parametrize("text", PROSE)
def test_prose_using_the_words_is_not_a_marking(text):
    assert find_markings(text) == [], text


def test_marking_reports_its_line():
    text = "Intro.\n\nDeuxième paragraphe.\n\n(DR) Troisième.\n"
    [marking] = find_markings(text)
    assert marking.line == 5
    assert marking.kind == "portion"


HTML_MARKED = [
    '<p align="center"><b>DIFFUSION RESTREINTE</b></p>',
    "<blockquote><p>CONFIDENTIEL D&Eacute;FENSE</p></blockquote>",
    "<h2>(S) Contexte</h2>",
    "<p><strong>(C)</strong> Texte.</p>",
    "<p>&#83;ECRET</p>",
    "<p>SE<!-- x -->CRET</p>",
    "<p>\u0405\u0415\u0421RET</p>",
    "<p>NATO UNCLASSIFIED</p>",
    '<p><img alt="TOP SECRET" src="x.png"></p>',
    '<p><a href="#x" title="SECRET//NOFORN">lien</a></p>',
    "<table><tr><td>Objet</td><td>SECRET</td></tr></table>",
    "<dl><dt>Niveau</dt><dd>CONFIDENTIEL DÉFENSE</dd></dl>",
    '<div class="admonition"><p class="admonition-title">DIFFUSION RESTREINTE</p><p>Texte.</p></div>',
    "<p>Mention de protection : DIFFUSION RESTREINTE</p>",
    "<p>SECRET DÉFENSE – NE PAS DIFFUSER</p>",
]


@pytest.mark.parametrize("page", HTML_MARKED)
def test_markings_in_rendered_html_are_found(page):
    assert find_markings_in_html(page), page


@pytest.mark.parametrize("text", PROSE)
def test_prose_in_rendered_html_is_not_a_marking(text):
    from html import escape

    assert find_markings_in_html(f"<p>{escape(text)}</p>") == [], text


def test_html_marking_line_is_the_block_number():
    [marking] = find_markings_in_html("<h1>Titre</h1><p>Intro.</p><ul><li>(S) point</li></ul>")
    assert (marking.line, marking.kind, marking.text) == (5, "portion", "(S)")  # 1 loose, h1, p, ul, li


def test_script_content_is_not_read():
    assert find_markings_in_html("<script>var x = 'SECRET';</script><p>Texte.</p>") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("ＳＥＣＲＥＴ", "secret"),  # fullwidth: NFKC
    ("\U0001d412\U0001d404\U0001d402\U0001d411\U0001d404\U0001d413", "secret"),  # mathematical bold
    ("\u0405\u0415\u0421RET", "secret"),  # Cyrillic look-alikes: TR39
    ("\u03a4\u039f\u03a1", "top"),  # Greek look-alikes
    ("\u03f9ONFIDENTIEL", "confidentiel"),  # lunate sigma: TR39 before NFKC
    ("Diffusion\u00a0Restreinte", "diffusion restreinte"),  # no-break space
    ("Confidentiel Dé\u200bfense", "confidentiel defense"),  # zero-width space removed, accent removed
    ("SE\u00adCRET", "secret"),  # soft hyphen
    ("A\u2013B\u2014C\u2212D", "a-b-c-d"),  # dashes
    ("Le\tsecret\ndes affaires", "le secret\ndes affaires"),  # tab to space, lines kept
])
def test_skeleton(text, expected):
    assert skeleton(text) == expected


def test_hidden_characters_are_named_and_placed():
    [found] = hidden_characters("Ligne un.\nLe mi\u200bnistre.")
    assert (found.line, found.col, found.text) == (2, 6, "U+200B ZERO WIDTH SPACE")


@pytest.mark.parametrize(("text", "mixed"), [
    ("Le S\u0415CRET", True), ("\u0391thens", True), ("Москва", False), ("Ελλάδα", False),
    ("Le ministre à Besançon", False), ("東京 et Paris", False), ("Łódź, Kraków, Straße", False),
])
def test_mixed_script_words(text, mixed):
    assert bool(mixed_script_words(text)) is mixed


def test_a_rendered_marking_is_placed_on_the_line_that_shows_it_not_on_prose_sharing_a_letter():
    body = ("Il s'agit d'un texte ordinaire, sans mention.\n"
            "\n"
            "<h2>(S) Contexte</h2>\n")
    placed = find_markings_in_markdown(body)
    assert [(m.line, m.text) for m in placed] == [(3, "(S)")]
