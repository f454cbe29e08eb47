"""The message catalogues (gate/i18n.py): complete, reviewed, and the language each reader gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from catalogkit import Catalogues
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import i18n

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True)


CATALOGUES = Catalogues("gate", i18n.LOCALES, i18n.DOMAIN)
extracted = CATALOGUES.extracted


def test_the_extraction_finds_the_gate_messages():
    """The checks below would pass on an empty extraction: make sure it reads the real source."""
    found = extracted()
    assert {"Sign in", "Check your mail", "This link has expired", "Your sign-in link — {community}"} <= set(found)
    assert ("You may read this community:", "You may read these communities:") in found


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_is_translated_reviewed_and_current(language):
    CATALOGUES.assert_complete(language)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_translations_keep_the_placeholders_of_their_message(language):
    CATALOGUES.assert_placeholders_kept(language)


def test_the_catalogues_load_compiled_in_memory_and_translate():
    assert i18n.translations("fr").gettext("Sign in") == "Se connecter"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"
    assert i18n.translations("fr").ngettext("You may read this community:", "You may read these communities:", 2) \
        == "Vous pouvez lire ces communautés :"
    assert i18n.translations("fr") is i18n.translations("fr")  # compiled once
    with pytest.raises(ValueError):
        i18n.translations("de")
    assert not list(i18n.LOCALES.rglob("*.mo")), "compiled catalogues are made in memory, never kept"


def _messages(t) -> dict[str, str]:
    return {m: t.gettext(m) for m in ("Sign in", "Sign out", "You may read this community:")}


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "empty", "no digest", "a folder"])
def test_a_kept_compiled_catalogue_translates_as_a_fresh_one_and_a_damaged_one_is_compiled_again(tmp_path, damage):
    """The command line keeps compiled catalogues between processes: a kept one gives exactly what
    compiling the ``.po`` gives, and any damage to it makes the ``.po`` compiled again (never a
    wrong or missing translation)."""
    fresh = _messages(i18n.translations("fr"))
    kept_dir = tmp_path / "kept"
    assert _messages(i18n.translations("fr", compiled=kept_dir)) == fresh
    [kept] = kept_dir.iterdir()
    data = kept.read_bytes()
    digest, _, mo = data.partition(b"\n")
    spoilt = {"flipped byte": data[:-40] + bytes([data[-40] ^ 1]) + data[-39:], "truncated": data[: len(data) // 2],
              "empty": b"", "no digest": mo, "a folder": None}[damage]
    if spoilt is None:
        kept.unlink()
        kept.mkdir()
    else:
        kept.write_bytes(spoilt)
    i18n.translations.cache_clear()
    assert _messages(i18n.translations("fr", compiled=kept_dir)) == fresh


def test_a_kept_compiled_catalogue_is_never_used_for_another_po(tmp_path):
    source = i18n.LOCALES / "fr" / "LC_MESSAGES" / "gate.po"
    changed = tmp_path / "locales" / "fr" / "LC_MESSAGES"
    changed.mkdir(parents=True)
    (changed / "gate.po").write_text(source.read_text(encoding="utf-8").replace('msgstr "Se connecter"',
                                                                               'msgstr "Connexion"'), encoding="utf-8")
    kept_dir = tmp_path / "kept"
    assert i18n.translations("fr", compiled=kept_dir).gettext("Sign in") == "Se connecter"
    assert i18n.translations("fr", directory=tmp_path / "locales", compiled=kept_dir).gettext("Sign in") == "Connexion"
    assert len(list(kept_dir.iterdir())) == 2


def test_an_unreadable_catalogue_stops_everything(tmp_path):
    (tmp_path / "fr" / "LC_MESSAGES").mkdir(parents=True)
    with pytest.raises(i18n.CatalogueError, match="cannot read the fr catalogue"):
        i18n.translations("fr", directory=tmp_path)


# -- which language ------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
    ("en-GB,en;q=0.9,fr;q=0.8", "en"),
    ("de-DE,de;q=0.9,en;q=0.5,fr;q=0.4", "en"),
    ("de, fr;q=0.1", "fr"),
    ("fr;q=0.5, en;q=0.8", "en"),
    ("en;q=0, fr;q=0.1", "fr"),
    ("EN", "en"),
    ("fr-CA", "fr"),
    ("*", None),
    ("de, es", None),
    ("en;q=2, fr;q=0.5", "fr"),  # a weight above 1 is malformed: that range is skipped
    ("en;q=0.5000, fr;q=0.4", "fr"),  # four decimals: malformed
    ("en;level=1, fr", "fr"),  # an unknown parameter: skipped
    ("fr;q=0.5, en;q=0.5", "fr"),  # a tie: the earlier range
    ("english", None),
    ("", None),
    (None, None),
    ("en" + ", x" * 600, None),  # longer than any browser's: ignored whole
])
def test_accept_language_is_read_with_its_weights(header, expected):
    assert i18n.from_accept_language(header) == expected


@EXAMPLES
@given(st.text(max_size=300))
def test_any_accept_language_gives_one_of_ours_or_none(header):
    assert i18n.from_accept_language(header) in (*i18n.LANGUAGES, None)
    assert i18n.choose(accept_language=header) in i18n.LANGUAGES


RANGES = st.sampled_from(["fr", "en", "fr-FR", "en-US", "de", "es", "*", "zh-Hant-TW", "EN-gb"])
WEIGHTS = st.one_of(st.none(), st.sampled_from(["1", "1.0", "0.9", "0.5", "0.05", "0.001", "0"]))


@EXAMPLES
@given(st.lists(st.tuples(RANGES, WEIGHTS), min_size=1, max_size=6), st.sampled_from([",", ", ", " ,"]))
def test_the_heaviest_of_our_languages_wins(items, separator):
    header = separator.join(r if q is None else f"{r};q={q}" for r, q in items)
    ours = [(float(q or 1), -i, r.lower()[:2]) for i, (r, q) in enumerate(items)
            if r.lower()[:2] in i18n.LANGUAGES and float(q or 1) > 0]
    assert i18n.from_accept_language(header) == (max(ours)[2] if ours else None)


@EXAMPLES
@given(st.one_of(st.text(max_size=12), st.sampled_from(["fr", "en", "FR", "en ", "fr-FR", "", "de"])))
def test_a_language_given_is_exactly_fr_or_en_or_not_given(value):
    assert i18n.valid(value) == (value if value in ("fr", "en") else None)
    assert i18n.choose(asked=value, accept_language="en") == (value if value in ("fr", "en") else "en")


def test_the_order_of_choice():
    assert i18n.choose() == "fr"
    assert i18n.choose(accept_language="en") == "en"
    assert i18n.choose(community="fr", accept_language="en") == "fr"
    assert i18n.choose(remembered="en", community="fr") == "en"
    assert i18n.choose(asked="fr", remembered="en", community="en", accept_language="en") == "fr"
    assert i18n.choose(asked="xx", remembered="<script>", community="de", accept_language="de") == "fr"


def test_no_compiled_catalogue_and_no_stray_marker():
    """Strings are marked for extraction outside f-string expressions (the extractor does not read those)."""
    offenders = []
    for path in (ROOT / "gate").glob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\{[^{}]*\b(?:_|gettext|ngettext|N_)\(\s*['\"]", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "a marked string inside an f-string expression is never extracted:\n" + "\n".join(offenders)


@pytest.mark.parametrize(("values", "expected"), [
    (("fr_FR.UTF-8",), "fr"), (("en_GB.utf8",), "en"), (("en_US",), "en"), (("fr_CA@euro",), "fr"),
    (("C",), None), (("POSIX",), None), (("de_DE.UTF-8",), None), ((None, "", "en_US.UTF-8"), "en"),
    (("de_DE", "en_US"), None),  # the first locale set decides, as LC_ALL over LANG
    ((), None),
])
def test_the_command_line_reads_its_language_from_the_locale(values, expected):
    assert i18n.from_locale(*values) == expected
